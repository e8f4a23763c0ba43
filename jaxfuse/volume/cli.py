"""The volume side of the ``jaxfuse`` command line (hooked into :mod:`jaxfuse.cli` by a few lines).

``jaxfuse fuse MRI PET -o FUSED.nii.gz`` where MRI and PET are NIfTI files or DICOM series folders;
folder mode (``--mri-dir --pet-dir --out-dir``) pairs volumes by name (``a.nii.gz`` or a DICOM
folder ``a/`` in each) as it pairs 2-D images, and splits them over many machines the same way
(``--part K/N``, ``--distributed``: :mod:`jaxfuse.partition`); a gray 2-D functional image given with
``--pet-cmap`` is windowed and coloured before fusing; ``jaxfuse demo`` fuses the shipped MNI152
sample. Problems are raised as the command line's kinds (see :mod:`jaxfuse.cli`): an input's
:class:`jaxfuse.io.images.ImageError` (exit 1), ``UsageError`` (exit 2), an output's
``OutputError`` (exit 3); each is printed as one line.
"""

from __future__ import annotations

import argparse
import importlib.resources
import os
import pathlib
import sys
import time

from jaxfuse.volume.folders import pair_volume_folders

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
    """True for a ``.nii``/``.nii.gz`` name or an existing folder (a DICOM series) whose name does
    not end like a 2-D image file (a folder named ``x.png`` is a mistaken 2-D input)."""
    from jaxfuse.io.images import IMAGE_SUFFIXES

    if path is None:
        return False
    path = pathlib.Path(path)
    if path.name.lower().endswith(VOLUME_SUFFIXES):
        return True
    return path.is_dir() and path.suffix.lower() not in IMAGE_SUFFIXES


def _folder_has_volumes(folder: pathlib.Path | None) -> bool:
    """A folder of volumes: it holds a NIfTI file, or no 2-D image file but a sub-folder (DICOM)."""
    from jaxfuse.io.images import IMAGE_SUFFIXES

    if folder is None or not folder.is_dir():
        return False
    images = folders = False
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.name.lower().endswith(VOLUME_SUFFIXES):
                return True
            images |= os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES
            try:
                folders |= entry.is_dir()
            except OSError:  # a link loop: the image pipeline reports it as that pair's failure
                pass
    return folders and not images


def handles(args: argparse.Namespace) -> bool:
    """Whether a ``fuse`` command is for this module: volume inputs, or ``--pet-cmap`` on 2-D images."""
    if getattr(args, "command", None) != "fuse":
        return False
    if args.mri_dir or args.pet_dir:
        return _folder_has_volumes(args.mri_dir) or _folder_has_volumes(args.pet_dir)
    return is_volume_path(args.mri) or is_volume_path(args.pet) or args.pet_cmap is not None


def _cli_error(message: str, *, usage: bool = False) -> Exception:
    """``jaxfuse.cli.CliError`` (an input: exit 1) or ``UsageError`` (the command line: exit 2)."""
    from jaxfuse.cli import CliError, UsageError

    return (UsageError if usage else CliError)(message)


def _options(args: argparse.Namespace) -> dict:
    """The vgg19 options that differ from the library's defaults (none allowed for other methods)."""
    from jaxfuse.cli import _method_defaults

    options = {key: getattr(args, key) for key, default in _method_defaults().items() if getattr(args, key) != default}
    if options and args.method != "vgg19":
        flags = ", ".join(f"--{key.replace('_', '-')}" for key in options)
        verb = "applies" if len(options) == 1 else "apply"
        raise _cli_error(f"{flags} {verb} to --method vgg19 only, not {args.method}", usage=True)
    return options


def _progress(args: argparse.Namespace, label: str):
    from jaxfuse.cli import _progress_enabled
    from jaxfuse.pipeline import Progress

    enabled = _progress_enabled(args)
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


def _fuse_one(args, mri_path, pet_path, out_path, *, slices_dir, montage_path, say=print, name=None, budget=None, progress=True) -> None:
    """Fuses one pair and writes its outputs; ``say`` gets the lines to print (a registration's as
    soon as it is known, then the result's).

    ``budget``: a :class:`~jaxfuse.volume.folders.VoxelBudget` in which the pair holds its MRI's
    voxels until its last file is written: from the header's shape before anything is read for a
    NIfTI MRI (so a waiting pair holds no memory), from the volume once read for a DICOM series.
    """
    import contextlib

    from jaxfuse.io.volumes import declared_voxels, read_volume
    from jaxfuse.registration.cli import volume_transform
    from jaxfuse.volume.fuse import fuse_volumes
    from jaxfuse.volume.windows import DEFAULT_PET_WINDOW

    start = time.perf_counter()
    register = args.register != "none"  # registering needs both volumes here; otherwise fuse_volumes reads the PET
    with contextlib.ExitStack() as held:
        declared = declared_voxels(mri_path) if budget is not None else None
        if declared is not None:
            held.enter_context(budget.hold(declared))
        mri = read_volume(mri_path)
        if budget is not None and declared is None:  # a DICOM series: its size is known once read
            held.enter_context(budget.hold(mri.data.size))
        pet = read_volume(pet_path, frame=args.frame) if args.frame is not None or register else pet_path
        transform, registered = volume_transform(args, mri, pet, name=name)  # (None, "") unless --register/--transform-in
        if registered:
            say(registered)
        try:
            result = fuse_volumes(
                mri,
                pet,
                method=args.method,
                pet_cmap=args.pet_cmap or "pet",
                pet_window=args.pet_window if args.pet_window is not None else DEFAULT_PET_WINDOW,
                mri_window=args.mri_window,
                axis=args.axis,
                batch_slices=args.batch_size,
                progress=_progress(args, "slices") if progress else None,
                transform=transform,
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
    say(
        f"wrote {out_path} ({' x '.join(map(str, result.rgb.shape[:3]))}, {result.axis}, {result.method}, "
        f"PET window {low:.4g}-{high:.4g}{' ' + result.pet_units if result.pet_units else ''}) in {time.perf_counter() - start:.2f} s"
    )


def _check_output(out: pathlib.Path, inputs) -> None:
    from jaxfuse.io.atomic import OutputError, clean_stale_temporaries, refuse_overwriting_inputs

    refuse_overwriting_inputs(out, inputs, what="output path")
    if out.is_dir():
        raise OutputError(out, "is a directory; -o needs a file name")
    if not out.parent.is_dir():
        raise OutputError(out, f"folder {out.parent} does not exist")
    clean_stale_temporaries(out.parent)


def _run_single(args: argparse.Namespace) -> int:
    _options(args)  # usage errors before any file is read
    if not (is_volume_path(args.mri) and is_volume_path(args.pet)):
        other = args.pet if is_volume_path(args.mri) else args.mri
        raise _cli_error(f"{other}: both inputs must be volumes (.nii, .nii.gz or a DICOM folder) or both 2-D images")
    if args.out is None or not args.out.name.lower().endswith(VOLUME_SUFFIXES):
        raise _cli_error("fuse with volume inputs needs -o FUSED.nii.gz (or .nii)", usage=True)
    _check_output(args.out, (args.mri, args.pet))
    _fuse_one(args, args.mri, args.pet, args.out, slices_dir=args.slices_dir, montage_path=args.montage)
    return 0


def _run_folders(args: argparse.Namespace) -> int:
    """Folder mode: every pair fused and written, up to two at once (:mod:`jaxfuse.volume.folders`);
    whatever goes wrong with one pair is reported at the end and the others go on."""
    import contextlib

    from jaxfuse.cli import CliError, UsageError, _progress_enabled
    from jaxfuse.io.atomic import clean_stale_temporaries, refuse_overwriting_inputs, run_level_error
    from jaxfuse.io.images import ImageError
    from jaxfuse.pipeline import Progress, pair_failure
    from jaxfuse.volume.folders import FOLDER_VOXEL_BUDGET, MAX_PAIRS_IN_FLIGHT, VoxelBudget, in_order

    if args.mri_dir is None or args.pet_dir is None or args.out_dir is None:
        raise _cli_error("folder mode needs --mri-dir, --pet-dir and --out-dir", usage=True)
    _options(args)
    from jaxfuse.partition_cli import job_share, take_job_share

    share = job_share(args)  # joins a jax.distributed job: before the first JAX call
    pairs, failures, prefix = take_job_share(
        args, share, lambda: pair_volume_folders(args.mri_dir, args.pet_dir), name=lambda pair: pair[0],
        empty=f"{args.mri_dir}: no volumes to fuse",
    )  # fmt: skip
    refuse_overwriting_inputs(args.out_dir, (args.mri_dir, args.pet_dir), what="output folder")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(args.out_dir)
    if args.montage is not None:
        args.montage.mkdir(parents=True, exist_ok=True)
    # Each job keeps the lines its pair has to say (a registration's, the result's), printed in the
    # pairs' order when its outcome comes, whether it was fused or failed.
    jobs = [(name, m, p, args.out_dir / f"{name}.nii.gz", []) for name, m, p in pairs]
    if args.skip_existing:
        jobs = [job for job in jobs if not job[3].exists()]
    skipped, fused = len(pairs) - len(jobs), 0
    budget = VoxelBudget(FOLDER_VOXEL_BUDGET)
    if len(jobs) > 1:  # the same buffers each pair: keep them rather than fault them in again
        from jaxfuse._host_buffers import keep_freed_blocks

        keep_freed_blocks()

    def work(job) -> None:
        name, mri_path, pet_path, out, lines = job
        _fuse_one(
            args, mri_path, pet_path, out, say=lines.append, name=name, budget=budget, progress=False,
            slices_dir=args.slices_dir / name if args.slices_dir is not None else None,
            montage_path=args.montage / f"{name}.png" if args.montage is not None else None,
        )  # fmt: skip

    bar = Progress(len(jobs), enabled=_progress_enabled(args), label="volume pairs")  # pairs: two run at once
    workers = min(args.workers, MAX_PAIRS_IN_FLIGHT)
    # Closing the outcomes on a stop (or Ctrl-C) cancels the pairs not started and waits for those
    # running, each of which writes its files whole or not at all.
    try:
        with contextlib.closing(in_order(jobs, work, workers=workers)) as outcomes:
            for (name, _, _, out, lines), outcome in outcomes:
                bar.clear()  # the lines go where the bar was; it is drawn again below them
                if lines:
                    print("\n".join(lines))
                try:
                    outcome.result()
                    fused += 1
                except UsageError:  # the command line itself: no pair can go on
                    raise
                except (ImageError, CliError) as error:  # this pair's input, a registration that did not converge,
                    failures.append((name, str(error)))  # a size a method refuses: reported, the others go on
                except OSError as error:  # a full disk or a vanished output folder stops the run; else this pair's
                    stop = run_level_error(error, out)
                    if stop is not None:
                        raise stop from None
                    failures.append((name, pair_failure(error)))
                except Exception as error:  # noqa: BLE001 - the rule: whatever went wrong, this pair's failure
                    failures.append((name, pair_failure(error, stage="fusing")))
                bar.advance()
    finally:
        bar.clear()  # nothing of the bar left where the summary or a stop's message goes
    print(f"{prefix}fused {fused} volume pairs, skipped {skipped}, failed {len(failures)}")
    for name, reason in failures:
        print(f"jaxfuse: failed {name}: {reason}", file=sys.stderr)
    return 1 if failures else 0


def _run_scalar_pair(args: argparse.Namespace) -> int:
    """A 2-D pair whose functional image is scalar (gray): windowed, coloured, fused, PNG out."""
    import numpy as np

    from jaxfuse.cli import _resize
    from jaxfuse.io.images import ImageError, read_pair
    from jaxfuse.methods import batch_fuser
    from jaxfuse.volume.colormap import window
    from jaxfuse.volume.windows import colour_scalar_image, resolve_window

    if args.mri_dir or args.pet_dir or args.mri is None or args.pet is None:
        raise _cli_error("--pet-cmap with 2-D images applies to one pair (MRI PET -o OUT.png)", usage=True)
    if args.out is None:
        raise _cli_error("fuse MRI PET needs -o OUT.png", usage=True)
    fuse_batch = batch_fuser(args.method, **_options(args))
    resize = _resize(args)
    _check_output(args.out, (args.mri, args.pet))
    mri, pet = read_pair(args.mri, args.pet, resize=resize, max_pixels=args.max_pixels)
    if pet.ndim == 3:
        raise ImageError(args.pet, "--pet-cmap colours a scalar (gray) functional image; this one is RGB")
    from jaxfuse.registration.cli import align_image_pair

    pet = align_image_pair(args, mri, pet, stored_units=True)  # unchanged unless --register/--transform-in
    coloured = colour_scalar_image(pet, cmap=args.pet_cmap, window_spec=args.pet_window)
    if args.mri_window is not None:  # else the MRI keeps the 2-D contract (uint8 / 255, ...)
        low, high = resolve_window(mri, args.mri_window)
        mri = window(np.asarray(mri, np.float32), low=low, high=high)
    from jaxfuse.cli import fuse_one_and_write

    return fuse_one_and_write(args, fuse_batch, mri, coloured)


def run(args: argparse.Namespace) -> int:
    """Runs a ``fuse`` command that :func:`handles` accepted; returns the exit code."""
    if args.resize and (args.mri_dir or is_volume_path(args.mri)):
        raise _cli_error("--resize applies to 2-D images; volumes are resampled onto the MRI's grid", usage=True)
    if args.mri_dir or args.pet_dir or args.out_dir:
        if args.mri or args.pet or args.out:
            raise _cli_error("give either MRI PET -o OUT or --mri-dir/--pet-dir/--out-dir, not both", usage=True)
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
