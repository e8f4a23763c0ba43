"""Write ``jaxfuse/data/palettes.npz``: the 256-entry RGB colour tables of ``jaxfuse.volume.colormap``.

Each table is uint8 ``[256, 3]`` (entry ``i`` is the colour of window value ``i / 255``). Where the
values come from (see ``weights/palettes.md`` for the provenance and licences):

* ``pet``, ``hot_iron``, ``hot_metal_blue``, ``pet_20_step``: the DICOM standard's well-known colour
  palettes (PS3.6 Annex B, SOP Instance UIDs 1.2.840.10008.1.5.2, .1, .3, .4), read unchanged from
  the DICOM Color Palette Storage files that pydicom ships (``pydicom/data/palettes``). Each file is
  checked to be the palette it claims (Content Label, SOP Instance UID, 256 entries from 0, 8 bits).
* ``hot``, ``jet``: the classic maps as piecewise-linear ramps of each channel over [0, 1], with the
  breakpoints published for them (matplotlib's definitions of its ``hot`` and ``jet``, which follow
  MATLAB's), evaluated at ``i / 255`` and rounded to 8 bits here.
* ``gray``: ``(i, i, i)``.
* ``inferno``: the 256 published colours of Smith and van der Walt's colour map (CC0), taken from
  matplotlib's copy of that list (``matplotlib.colormaps["inferno"].colors``) and rounded to 8 bits.

Usage (needs ``pydicom`` and ``matplotlib``, both conversion- and test-time dependencies only)::

    python weights/make_palettes.py

The output is byte-reproducible (``np.savez`` writes fixed zip timestamps); the sha256 it prints is
recorded in ``weights/palettes.md``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # the shared writer, when imported from elsewhere
from _npz import write_npz  # noqa: E402

DEFAULT_OUT = pathlib.Path(__file__).resolve().parents[1] / "jaxfuse" / "data" / "palettes.npz"

#: name -> (pydicom palette file, Content Label, SOP Instance UID), PS3.6 Annex B.
DICOM_PALETTES = {
    "hot_iron": ("hotiron.dcm", "HOT_IRON", "1.2.840.10008.1.5.1"),
    "pet": ("pet.dcm", "PET", "1.2.840.10008.1.5.2"),
    "hot_metal_blue": ("hotmetalblue.dcm", "HOT_METAL_BLUE", "1.2.840.10008.1.5.3"),
    "pet_20_step": ("pet20step.dcm", "PET_20_STEP", "1.2.840.10008.1.5.4"),
}

#: Channel ramps as (x, value) breakpoints over [0, 1], linear in between.
RAMPS = {
    # Black -> red -> yellow -> white. These are MATLAB's hot(64) as ramps: red rises from 1/24 at
    # entry 0 to 1 at entry 23, green from entry 23 to 47, blue from 47 to 63 (x = 23/63, 47/63),
    # written with the 6-decimal breakpoints matplotlib publishes for its ``hot``.
    "hot": {
        "red": [(0.0, 0.0416), (0.365079, 1.0), (1.0, 1.0)],
        "green": [(0.0, 0.0), (0.365079, 0.0), (0.746032, 1.0), (1.0, 1.0)],
        "blue": [(0.0, 0.0), (0.746032, 0.0), (1.0, 1.0)],
    },
    # Dark blue -> blue -> cyan -> yellow -> red -> dark red: the breakpoints matplotlib publishes
    # for its ``jet`` (its piecewise-linear rendering of MATLAB's jet).
    "jet": {
        "red": [(0.0, 0.0), (0.35, 0.0), (0.66, 1.0), (0.89, 1.0), (1.0, 0.5)],
        "green": [(0.0, 0.0), (0.125, 0.0), (0.375, 1.0), (0.64, 1.0), (0.91, 0.0), (1.0, 0.0)],
        "blue": [(0.0, 0.5), (0.11, 1.0), (0.34, 1.0), (0.65, 0.0), (1.0, 0.0)],
    },
}


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float colours in [0, 1] -> uint8, rounding to the nearest level."""
    return np.clip(np.round(np.asarray(rgb, np.float64) * 255), 0, 255).astype(np.uint8)


def dicom_palette(filename: str, label: str, uid: str) -> np.ndarray:
    """A PS3.6 Annex B palette from pydicom's copy, checked, as uint8 [256, 3]."""
    from pydicom import dcmread
    from pydicom.data import get_palette_files

    (path,) = get_palette_files(filename)
    ds = dcmread(path)
    if ds.ContentLabel != label or ds.SOPInstanceUID != uid:
        raise SystemExit(f"{path}: is {ds.ContentLabel} {ds.SOPInstanceUID}, expected {label} {uid}")
    channels = []
    for colour in ("Red", "Green", "Blue"):
        descriptor = list(ds[f"{colour}PaletteColorLookupTableDescriptor"].value)
        if descriptor != [256, 0, 8]:
            raise SystemExit(f"{path}: {colour} descriptor {descriptor}, expected [256, 0, 8]")
        data = np.frombuffer(ds[f"{colour}PaletteColorLookupTableData"].value, dtype=np.uint8)
        if data.shape != (256,):
            raise SystemExit(f"{path}: {colour} LUT has {data.size} bytes, expected 256 8-bit entries")
        channels.append(data)
    return np.stack(channels, axis=1)


def ramp_palette(ramps: dict[str, list[tuple[float, float]]]) -> np.ndarray:
    x = np.arange(256) / 255
    channels = []
    for colour in ("red", "green", "blue"):
        xs, ys = zip(*ramps[colour])
        channels.append(np.interp(x, xs, ys))
    return to_uint8(np.stack(channels, axis=1))


def inferno() -> np.ndarray:
    import matplotlib

    colours = np.asarray(matplotlib.colormaps["inferno"].colors, dtype=np.float64)
    if colours.shape != (256, 3):
        raise SystemExit(f"matplotlib's inferno has shape {colours.shape}, expected (256, 3)")
    return to_uint8(colours)


def build() -> dict[str, np.ndarray]:
    tables = {name: dicom_palette(*spec) for name, spec in DICOM_PALETTES.items()}
    tables.update({name: ramp_palette(r) for name, r in RAMPS.items()})
    tables["gray"] = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    tables["inferno"] = inferno()
    return tables


def write(out: pathlib.Path) -> str:
    """Write the npz and return its sha256 (hex)."""
    return write_npz(out, {name: np.ascontiguousarray(t) for name, t in sorted(build().items())})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=pathlib.Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    digest = write(args.out)
    print(f"wrote {args.out}\nsha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
