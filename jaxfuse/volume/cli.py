"""The volume side of the ``jaxfuse`` command line (hooked into :mod:`jaxfuse.cli` by a few lines).

``jaxfuse fuse MRI PET -o FUSED.nii.gz`` where MRI and PET are NIfTI files or DICOM series folders;
folder mode (``--mri-dir --pet-dir --out-dir``) pairs volumes by name (``a.nii.gz`` or a DICOM
folder ``a/`` in each) as it pairs 2-D images; a gray 2-D functional image given with
``--pet-cmap`` is windowed and coloured before fusing; ``jaxfuse demo`` fuses the shipped MNI152
sample. Problems are raised as :class:`jaxfuse.io.images.ImageError` (a file) or
``jaxfuse.cli.CliError`` (the command), which the command line prints as one line.
"""

from __future__ import annotations

import argparse
import importlib.resources
import os
import pathlib
import sys
import time

__all__ = [
    "VOLUME_SUFFIXES",
    "add_volume_options",
    "add_demo_options",
    "is_volume_path",
    "handles",
    "run",
    "run_volume_demo",
    "pair_volume_folders",
]

#: File endings taken as volumes (a folder is taken as one DICOM series).
VOLUME_SUFFIXES = (".nii", ".nii.gz")
_SAMPLE = ("mni152_t1_2mm.nii.gz", "fdg_sim_3mm.nii.gz")


def _window_arg(value: str):
    from jaxfuse.volume.windows import parse_window

    try:
        return parse_window(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_volume_options(parser: argparse.ArgumentParser) -> None:
    """Adds the volume options to the ``fuse`` sub-command's parser."""
    from jaxfuse.volume.colormap import COLORMAPS
    from jaxfuse.volume.slicing import AXES

    group = parser.add_argument_group(
        "volumes (.nii, .nii.gz or DICOM series folders) and scalar functional images",
        "With volumes, -o is a .nii/.nii.gz file: RGB24 on the MRI's grid and affine.",
    )
    group.add_argument(
        "--pet-cmap",
        choices=list(COLORMAPS),
        metavar="NAME",
        help=f"palette for a scalar PET/SPECT: {', '.join(COLORMAPS)} (volumes: default pet; a gray 2-D "
        "functional image is coloured only when this is given)",
    )
    group.add_argument("--pet-window", type=_window_arg, metavar="LO,HI|pLO,pHI",
                       help="PET window in its units or as percentiles of the voxels in its field of view (default p0,p99.5)")
    group.add_argument("--mri-window", type=_window_arg, metavar="LO,HI|pLO,pHI",
                       help="MRI window, same forms (default: min-max of the whole volume)")
    group.add_argument("--axis", choices=list(AXES), default="axial", help="slice orientation fused (default axial)")
    group.add_argument("--slices-dir", type=pathlib.Path, metavar="DIR", help="also write every fused slice as a PNG")
    group.add_argument("--montage", type=pathlib.Path, metavar="FILE.png",
                       help="also write a labelled grid of slices (folder mode: a folder, one PNG per pair)")
    group.add_argument("--frame", type=int, metavar="N", help="frame (0-based) of a 4-D PET NIfTI")


def add_demo_options(parser: argparse.ArgumentParser) -> None:
    """Adds ``--2d`` (the 2-D sample instead of the volume one) to the ``demo`` parser."""
    parser.add_argument("--2d", dest="two_d", action="store_true", help="fuse the 2-D synthetic sample pair instead")


def is_volume_path(path: os.PathLike | str | None) -> bool:
    """True for a ``.nii``/``.nii.gz`` name or an existing folder (a DICOM series).

    A folder named like an image file (``x.png/``) is not taken as a series: it is a mistaken
    image path, which the 2-D reader reports as "is a directory".
    """
    if path is None:
        return False
    from jaxfuse.io.images import IMAGE_SUFFIXES

    path = pathlib.Path(path)
    name = path.name.lower()
    return name.endswith(VOLUME_SUFFIXES) or (path.is_dir() and not name.endswith(IMAGE_SUFFIXES))


def _volume_key(entry: os.DirEntry) -> str | None:
    from jaxfuse.io.images import IMAGE_SUFFIXES

    lower = entry.name.lower()
    if entry.name.startswith(".") or lower.endswith(IMAGE_SUFFIXES):
        return None  # 2-D image names (even broken links or loops) are the image pipeline's to report
    try:
        if entry.is_dir():
            return entry.name
        for suffix in (".nii.gz", ".nii"):
            if lower.endswith(suffix) and entry.is_file():
                return entry.name[: -len(suffix)]
    except OSError:
        return None
    return None


def _volumes_in(folder: pathlib.Path) -> tuple[dict[str, pathlib.Path], list[tuple[str, str]]]:
    found, failures = {}, []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            key = _volume_key(entry)
            if key is None:
                continue
            if key in found:
                failures.append((key, f"{folder / entry.name}: same name as {found[key]}"))
                continue
            found[key] = folder / entry.name
    return found, failures


def pair_volume_folders(mri_dir, pet_dir) -> tuple[list[tuple[str, pathlib.Path, pathlib.Path]], list[tuple[str, str]]]:
    """Pairs volumes by name: ``NAME.nii``, ``NAME.nii.gz`` or a DICOM folder ``NAME/`` in each folder.

    Returns:
        ``(pairs, failures)``: ``(name, mri_path, pet_path)`` sorted by name, and
        ``(name, "<path>: <problem>")`` for volumes without a partner or with a clashing name.
    """
    from jaxfuse.io.images import ImageError

    mri_dir, pet_dir = pathlib.Path(mri_dir), pathlib.Path(pet_dir)
    for folder in (mri_dir, pet_dir):
        if not folder.is_dir():
            raise ImageError(folder, "no such folder")
    (mris, failures), (pets, pet_failures) = _volumes_in(mri_dir), _volumes_in(pet_dir)
    failures += pet_failures
    failures += [(k, f"{mris[k]}: no partner volume named {k} in {pet_dir}") for k in sorted(set(mris) - set(pets))]
    failures += [(k, f"{pets[k]}: no partner volume named {k} in {mri_dir}") for k in sorted(set(pets) - set(mris))]
    return [(k, mris[k], pets[k]) for k in sorted(set(mris) & set(pets))], failures


def _folder_has_volumes(folder: pathlib.Path | None) -> bool:
    if folder is None or not folder.is_dir():
        return False
    with os.scandir(folder) as entries:
        return any(_volume_key(entry) is not None for entry in entries)


def handles(args: argparse.Namespace) -> bool:
    """Whether a ``fuse`` command is for this module: volume inputs, or ``--pet-cmap`` on 2-D images."""
    if getattr(args, "command", None) != "fuse":
        return False
    if args.mri_dir or args.pet_dir:
        return _folder_has_volumes(args.mri_dir) or _folder_has_volumes(args.pet_dir)
    return is_volume_path(args.mri) or is_volume_path(args.pet) or args.pet_cmap is not None


def _cli_error(message: str) -> Exception:
    from jaxfuse.cli import CliError

    return CliError(message)


def _options(args: argparse.Namespace) -> dict:
    from jaxfuse.cli import _method_defaults  # the library's defaults, as the 2-D command line uses them

    defaults = _method_defaults()
    options = {key: getattr(args, key) for key in defaults}
    if args.method == "vgg19":
        return options
    changed = [f"--{k.replace('_', '-')}" for k, v in options.items() if v != defaults[k]]
    if changed:
        raise _cli_error(f"{', '.join(changed)} apply to --method vgg19 only, not {args.method}")
    return {}


def _progress(args: argparse.Namespace, label: str):
    from jaxfuse.pipeline import Progress

    enabled = {"on": True, "off": False}.get(args.progress, sys.stderr.isatty())
    state = {}

    def update(done: int, total: int) -> None:
        bar = state.setdefault("bar", Progress(total, enabled=enabled, label=label))
        bar.advance(done - bar.done)
        if done >= total:
            bar.close()

    return update


def _write_pictures(result, *, slices_dir, montage_path, title: str, png_level: int) -> list[pathlib.Path]:
    from jaxfuse.io.images import write_png
    from jaxfuse.volume.montage import montage, pick_slices, slice_labels, write_slices

    written = []
    if slices_dir is None and montage_path is None:
        return written
    slices = result.slices()
    if slices_dir is not None:
        write_slices(slices_dir, slices, prefix=result.axis, compress_level=png_level)
        written.append(pathlib.Path(slices_dir))
    if montage_path is not None:
        picks = pick_slices(slices)
        labels = slice_labels(result.slice_positions()[picks], result.axis)
        write_png(montage_path, montage(slices[picks], labels=labels, title=title), compress_level=6)
        written.append(pathlib.Path(montage_path))
    return written


def _fuse_one(args, mri_path, pet_path, out_path, *, slices_dir, montage_path) -> str:
    from jaxfuse.io.volumes import read_volume
    from jaxfuse.volume.fuse import fuse_volumes
    from jaxfuse.volume.windows import DEFAULT_PET_WINDOW

    start = time.perf_counter()
    pet = read_volume(pet_path, frame=args.frame) if args.frame is not None else pet_path
    try:
        result = fuse_volumes(
            mri_path,
            pet,
            method=args.method,
            pet_cmap=args.pet_cmap or "pet",
            pet_window=args.pet_window if args.pet_window is not None else DEFAULT_PET_WINDOW,
            mri_window=args.mri_window,
            axis=args.axis,
            batch_slices=args.batch_size,
            progress=_progress(args, "slices"),
            **_options(args),
        )
    except ValueError as error:
        if hasattr(error, "path"):  # an ImageError: a file's problem, reported as it is
            raise
        raise _cli_error(str(error)) from None
    result.save(out_path)
    title = f"{pathlib.Path(mri_path).name} + {pathlib.Path(pet_path).name}: {result.description} (patient's right on the left)"
    _write_pictures(result, slices_dir=slices_dir, montage_path=montage_path, title=title, png_level=args.png_level)
    low, high = result.pet_window
    return (
        f"wrote {out_path} ({' x '.join(map(str, result.rgb.shape[:3]))}, {result.axis}, {result.method}, "
        f"PET window {low:.4g}-{high:.4g}{' ' + result.pet_units if result.pet_units else ''}) in {time.perf_counter() - start:.2f} s"
    )


def _check_output(out: pathlib.Path, inputs) -> None:
    for source in inputs:
        if out.exists() and source.exists() and out.resolve() == source.resolve():
            raise _cli_error(f"{out}: output path is an input; inputs are never overwritten")
    if not out.parent.is_dir():
        raise _cli_error(f"{out}: folder {out.parent} does not exist")


def _run_single(args: argparse.Namespace) -> int:
    if not (is_volume_path(args.mri) and is_volume_path(args.pet)):
        other = args.pet if is_volume_path(args.mri) else args.mri
        raise _cli_error(f"{other}: both inputs must be volumes (.nii, .nii.gz or a DICOM folder) or both 2-D images")
    if args.out is None or not args.out.name.lower().endswith(VOLUME_SUFFIXES):
        raise _cli_error("fuse with volume inputs needs -o FUSED.nii.gz (or .nii)")
    _check_output(args.out, (args.mri, args.pet))
    print(_fuse_one(args, args.mri, args.pet, args.out, slices_dir=args.slices_dir, montage_path=args.montage))
    return 0


def _run_folders(args: argparse.Namespace) -> int:
    if args.mri_dir is None or args.pet_dir is None or args.out_dir is None:
        raise _cli_error("folder mode needs --mri-dir, --pet-dir and --out-dir")
    pairs, failures = pair_volume_folders(args.mri_dir, args.pet_dir)
    if not pairs and not failures:
        raise _cli_error(f"{args.mri_dir}: no volumes to fuse")
    for folder in (args.mri_dir, args.pet_dir):
        if args.out_dir.exists() and args.out_dir.resolve() == folder.resolve():
            raise _cli_error(f"{args.out_dir}: output folder is an input folder; inputs are never overwritten")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.montage is not None:
        args.montage.mkdir(parents=True, exist_ok=True)
    from jaxfuse.io.images import ImageError

    fused = skipped = 0
    for name, mri_path, pet_path in pairs:
        out = args.out_dir / f"{name}.nii.gz"
        if args.skip_existing and out.exists():
            skipped += 1
            continue
        slices_dir = args.slices_dir / name if args.slices_dir is not None else None
        montage_path = args.montage / f"{name}.png" if args.montage is not None else None
        try:
            print(_fuse_one(args, mri_path, pet_path, out, slices_dir=slices_dir, montage_path=montage_path))
            fused += 1
        except ImageError as error:
            failures.append((name, str(error)))
    print(f"fused {fused} volume pairs, skipped {skipped}, failed {len(failures)}")
    for name, reason in failures:
        print(f"  failed {name}: {reason}")
    return 1 if failures else 0


def _run_scalar_pair(args: argparse.Namespace) -> int:
    """A 2-D pair whose functional image is scalar (gray): windowed, coloured, fused, PNG out."""
    import numpy as np

    from jaxfuse.io.images import ImageError, read_image, read_mri, resize_image, write_png
    from jaxfuse.methods import batch_fuser
    from jaxfuse.volume.colormap import window
    from jaxfuse.volume.windows import colour_scalar_image, resolve_window

    if args.mri_dir or args.pet_dir or args.mri is None or args.pet is None:
        raise _cli_error("--pet-cmap with 2-D images applies to one pair (MRI PET -o OUT.png)")
    if args.out is None:
        raise _cli_error("fuse MRI PET needs -o OUT.png")
    _check_output(args.out, (args.mri, args.pet))
    mri, pet = read_mri(args.mri), read_image(args.pet)
    if pet.ndim == 3:
        raise ImageError(args.pet, "--pet-cmap colours a scalar (gray) functional image; this one is RGB")
    if args.resize:
        mri, pet = resize_image(mri, (args.resize, args.resize)), resize_image(pet, (args.resize, args.resize))
    elif mri.shape != pet.shape:
        raise ImageError(args.pet, f"size {pet.shape[0]}x{pet.shape[1]} does not match MRI {args.mri} "
                                   f"({mri.shape[0]}x{mri.shape[1]}); register them or pass --resize")
    coloured = colour_scalar_image(pet, cmap=args.pet_cmap, window_spec=args.pet_window)
    if args.mri_window is not None:  # else the MRI keeps the 2-D contract (uint8 / 255, ...)
        low, high = resolve_window(mri, args.mri_window)
        mri = window(np.asarray(mri, np.float32), low=low, high=high)
    try:
        fused = np.asarray(batch_fuser(args.method, **_options(args))(mri, coloured))
    except ValueError as error:
        raise _cli_error(f"{args.pet}: {error}") from None
    write_png(args.out, fused, compress_level=args.png_level)
    print(f"wrote {args.out}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Runs a ``fuse`` command that :func:`handles` accepted; returns the exit code."""
    if args.resize and (args.mri_dir or is_volume_path(args.mri)):
        raise _cli_error("--resize applies to 2-D images; volumes are resampled onto the MRI's grid")
    if args.mri_dir or args.pet_dir or args.out_dir:
        if args.mri or args.pet or args.out:
            raise _cli_error("give either MRI PET -o OUT or --mri-dir/--pet-dir/--out-dir, not both")
        return _run_folders(args)
    if is_volume_path(args.mri) or is_volume_path(args.pet):
        return _run_single(args)
    return _run_scalar_pair(args)


def run_volume_demo(args: argparse.Namespace) -> int:
    """``jaxfuse demo``: fuses the shipped MNI152 sample; writes ``fused.nii.gz`` and ``montage.png``."""
    from jaxfuse.volume.fuse import fuse_volumes

    start = time.perf_counter()
    folder = importlib.resources.files("jaxfuse") / "data" / "volume_sample"
    with importlib.resources.as_file(folder / _SAMPLE[0]) as mri_path, importlib.resources.as_file(folder / _SAMPLE[1]) as pet_path:
        result = fuse_volumes(mri_path, pet_path)
        inputs = (mri_path, pet_path)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    result.save(args.out_dir / "fused.nii.gz")
    title = "jaxfuse demo: MNI152 T1 2 mm + simulated FDG PET 3 mm (oblique, LPS), vgg19, axial; patient's right on the left"
    _write_pictures(result, slices_dir=None, montage_path=args.out_dir / "montage.png", title=title, png_level=6)
    print(f"fused {inputs[0].name} with {inputs[1].name} from {folder} (NOTICE.md there: provenance, licence)")
    print(f"wrote {args.out_dir / 'fused.nii.gz'} and {args.out_dir / 'montage.png'} in {time.perf_counter() - start:.1f} s")
    return 0
