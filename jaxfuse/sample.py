"""A synthetic, freely redistributable MRI-PET sample pair (the ``jaxfuse demo`` input).

The pair is generated here from geometry and a fixed random seed, with no real patient data: an
axial T1-like "MRI" (scalp, skull, CSF, folded cortex, white matter, ventricles, deep gray nuclei)
and a registered "PET" whose uptake follows the gray matter with a hot focal lesion, blurred to PET
resolution and coloured with a rainbow lookup table like the Harvard atlas PET slices. Both are
``uint8``: MRI ``[H, W]``, PET ``[H, W, 3]``.

The package ships the generated PNGs (``jaxfuse/data/sample``); regenerate them with
``python -m jaxfuse.sample jaxfuse/data/sample``. A test checks that the shipped files equal what
this module generates. The sample is released with jaxfuse under the same licence.
"""

from __future__ import annotations

import argparse
import importlib.resources
import pathlib

import numpy as np

__all__ = ["make_sample_pair", "load_sample_pair", "SAMPLE_FILES"]

#: Names of the shipped files inside ``jaxfuse/data/sample``.
SAMPLE_FILES = ("mri.png", "pet.png")

# Rainbow lookup table: (position, R, G, B), black -> blue -> green -> yellow -> red -> white.
_LUT = np.array(
    [
        (0.00, 0.0, 0.0, 0.0),
        (0.15, 0.0, 0.0, 0.6),
        (0.35, 0.0, 0.7, 0.3),
        (0.55, 0.9, 0.9, 0.0),
        (0.80, 1.0, 0.2, 0.0),
        (1.00, 1.0, 1.0, 1.0),
    ]
)


def _gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    radius = int(3 * sigma + 0.5)
    taps = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(image, radius, mode="edge")
    rows = sum(w * padded[:, radius + t : radius + t + image.shape[1]] for t, w in zip(taps, kernel))
    return sum(w * rows[radius + t : radius + t + image.shape[0], :] for t, w in zip(taps, kernel))


def _ellipse(y, x, cy, cx, ry, rx, angle=0.0):
    c, s = np.cos(angle), np.sin(angle)
    u = ((x - cx) * c + (y - cy) * s) / rx
    v = (-(x - cx) * s + (y - cy) * c) / ry
    return u * u + v * v


def make_sample_pair(*, size: int = 256, seed: int = 2022) -> tuple[np.ndarray, np.ndarray]:
    """Generates the synthetic pair.

    Args:
        size: height and width in pixels (>= 32).
        seed: seed of the texture noise.

    Returns:
        ``(mri, pet)``: uint8 ``[size, size]`` and uint8 ``[size, size, 3]``.
    """
    if size < 32:
        raise ValueError(f"size must be >= 32, got {size}")
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) / size * 2.0 - 1.0  # [-1, 1)
    angle = np.arctan2(y, x)
    head = _ellipse(y, x, 0.0, 0.0, 0.92, 0.76)
    skull = _ellipse(y, x, 0.0, 0.0, 0.86, 0.70)
    brain = _ellipse(y, x, 0.01, 0.0, 0.80, 0.64)
    folds = 0.06 * np.sin(9 * angle) + 0.03 * np.sin(23 * angle + 1.0)
    white = _ellipse(y, x, 0.02, 0.0, 0.64, 0.50) * (1.0 + folds)
    ventricles = np.minimum(
        _ellipse(y, x, -0.08, -0.11, 0.22, 0.07, 0.25), _ellipse(y, x, -0.08, 0.11, 0.22, 0.07, -0.25)
    )
    nuclei = np.minimum(_ellipse(y, x, 0.12, -0.24, 0.12, 0.07), _ellipse(y, x, 0.12, 0.24, 0.12, 0.07))
    lesion = _ellipse(y, x, -0.38, 0.30, 0.09, 0.11)

    tissue = np.zeros((size, size))
    tissue[head < 1] = 0.55  # scalp
    tissue[skull < 1] = 0.12  # bone
    tissue[brain < 1] = 0.18  # CSF rim
    cortex = (brain < 0.93) & (white >= 1)
    tissue[cortex] = 0.50
    tissue[(white < 1) & (brain < 1)] = 0.78
    tissue[(nuclei < 1)] = 0.55
    tissue[(ventricles < 1)] = 0.10
    texture = _gaussian_blur(rng.standard_normal((size, size)), 1.5)
    mri = _gaussian_blur(tissue, 0.8) + 0.025 * texture * (tissue > 0.05)
    mri = np.clip(mri, 0.0, 1.0)

    uptake = np.zeros((size, size))
    uptake[cortex] = 0.62
    uptake[(white < 1) & (brain < 1)] = 0.22
    uptake[nuclei < 1] = 0.75
    uptake[ventricles < 1] = 0.02
    uptake[(lesion < 1) & (brain < 1)] = 1.0
    uptake *= 1.0 + 0.08 * _gaussian_blur(rng.standard_normal((size, size)), 4.0)
    pet_level = np.clip(_gaussian_blur(uptake, size / 64.0), 0.0, 1.0)
    pet = np.stack([np.interp(pet_level, _LUT[:, 0], _LUT[:, k]) for k in (1, 2, 3)], axis=-1)

    to_uint8 = lambda a: np.round(255.0 * a).astype(np.uint8)  # noqa: E731
    return to_uint8(mri), to_uint8(pet)


def load_sample_pair() -> tuple[np.ndarray, np.ndarray]:
    """Reads the shipped sample pair: uint8 MRI ``[256, 256]`` and PET ``[256, 256, 3]``."""
    from jaxfuse.io.images import read_functional, read_mri

    folder = importlib.resources.files("jaxfuse") / "data" / "sample"
    with importlib.resources.as_file(folder / SAMPLE_FILES[0]) as mri_path:
        mri = read_mri(mri_path)
    with importlib.resources.as_file(folder / SAMPLE_FILES[1]) as pet_path:
        pet = read_functional(pet_path)
    return mri, pet


def main(argv: list[str] | None = None) -> int:
    from jaxfuse.io.images import write_png

    parser = argparse.ArgumentParser(description="Write the synthetic sample pair as mri.png and pet.png.")
    parser.add_argument("folder", type=pathlib.Path)
    args = parser.parse_args(argv)
    args.folder.mkdir(parents=True, exist_ok=True)
    mri, pet = make_sample_pair()
    write_png(args.folder / SAMPLE_FILES[0], mri)
    write_png(args.folder / SAMPLE_FILES[1], pet)
    print(f"wrote {args.folder / SAMPLE_FILES[0]} and {args.folder / SAMPLE_FILES[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
