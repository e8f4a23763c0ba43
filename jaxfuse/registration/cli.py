"""The registration side of ``jaxfuse fuse``: ``--register rigid``, ``--transform-in``, ``--transform-out``.

Hooked into the 2-D paths of :mod:`jaxfuse.cli` and the volume paths of :mod:`jaxfuse.volume.cli`
by one call each; the numerics are :func:`jaxfuse.registration.register_rigid` (volumes, 2-D single
pairs) and :func:`jaxfuse.registration.register_rigid_batch` (2-D folder mode, one ``vmap`` per
kernel batch).

Transform files (4x4 plain text, MRI world -> PET world) are read, checked and written by
:mod:`jaxfuse.io.transforms`.

A registration whose optimiser did not settle or whose MI did not improve
(``report.converged`` false, or ``mi_final <= mi_initial +`` :data:`MIN_MI_GAIN`), or whose final
MI is below :data:`MIN_MI` (nothing to register by, e.g. a blank PET), fuses nothing for that pair: a
:class:`RegistrationError` (an :class:`~jaxfuse.io.images.ImageError` naming the PET, exit 1; in
folder mode that pair's failure) unless ``--accept-unconverged`` is given, which prints one
warning line and goes on. A non-finite result is refused even then.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import numpy as np

from jaxfuse.io.images import ImageError
from jaxfuse.io.transforms import read_transform, write_transform

__all__ = [
    "REGISTRATIONS",
    "MIN_MI_GAIN",
    "MIN_MI",
    "RegistrationError",
    "add_registration_options",
    "check_registration_args",
    "wants_alignment",
    "check_report",
    "warp_image",
    "align_image_pair",
    "image_batch_aligner",
    "volume_transform",
]

#: Choices of ``--register`` (default ``none``).
REGISTRATIONS = ("none", "rigid")
#: MI (nats) must rise by more than this (float32 rounding of a flat objective is ~1e-13).
MIN_MI_GAIN = 1e-6
#: Below this final MI (nats) the images share almost nothing to register by (a blank or pure-noise
#: PET: 0 and 0.003; the Harvard PET-MRI pairs 0.2, MNI T1 vs simulated FDG 0.8, at 16 bins).
MIN_MI = 0.01
_PROG = "jaxfuse"


class RegistrationError(ImageError):
    """A registration that did not converge, did not improve MI, or gave a non-finite transform;
    ``str(error)`` is ``"<PET path>: <problem>"``."""


def add_registration_options(parser: argparse.ArgumentParser) -> None:
    """Adds ``--register``, ``--transform-in``, ``--transform-out`` and ``--accept-unconverged``."""
    group = parser.add_argument_group(
        "registration (the paper's step 1: PET moved onto the MRI before fusing)",
        "Transform files: 4x4 plain text (numpy.savetxt) mapping MRI world to PET world, y = T @ [x, 1].\n"
        "Volumes: RAS mm of the files' affines. 2-D images: pixel coordinates (row, column) of the\n"
        "images as fused (after --resize), third axis the identity; a 3x3 in-plane matrix is read too.\n"
        "Folder mode: --transform-out and --transform-in name folders of NAME.txt, one per pair\n"
        "(NAME: the output's stem).",
    )
    group.add_argument(
        "--register", choices=REGISTRATIONS, default="none",
        help="rigid: Mattes mutual-information rigid registration of the PET to the MRI (jaxfuse.registration, "
        "default options) before fusing; none (default): the inputs are taken as registered",
    )  # fmt: skip
    group.add_argument(
        "--transform-in", type=pathlib.Path, metavar="T.txt",
        help="apply this known MRI-world -> PET-world transform instead of registering (folder mode: a folder "
        "of NAME.txt; not with --register rigid)",
    )  # fmt: skip
    group.add_argument(
        "--transform-out",
        type=pathlib.Path,
        metavar="T.txt",
        help="with --register rigid: write the transform found (folder mode: a folder, NAME.txt per pair)",
    )
    group.add_argument(
        "--accept-unconverged", action="store_true",
        help="with --register rigid: fuse even when the optimiser did not settle, MI did not improve or "
        f"ended below {MIN_MI:g} nats (default: that pair fails, exit 1, nothing written for it)",
    )  # fmt: skip


def _usage(message: str) -> Exception:
    from jaxfuse.cli import UsageError

    return UsageError(message)


def check_registration_args(args: argparse.Namespace, *, folder_mode: bool) -> None:
    """Checks the registration options before any image is read: ``UsageError`` (exit 2) for bad
    combinations, :class:`~jaxfuse.io.atomic.OutputError` (exit 3) for an output that is
    ``--transform-in`` or a ``--transform-out`` that is an input or cannot be written where it
    points, ``ImageError`` (exit 1) for a folder-mode ``--transform-in`` that is not a folder."""
    from jaxfuse.io.atomic import OutputError, refuse_overwriting_inputs

    register = getattr(args, "register", "none")
    transform_in, transform_out = getattr(args, "transform_in", None), getattr(args, "transform_out", None)
    if transform_in is not None and register != "none":
        raise _usage("give --register rigid (find the transform) or --transform-in (apply a known one), not both")
    if transform_in is not None:
        for output in (args.out, args.out_dir):
            if output is not None:
                refuse_overwriting_inputs(output, [transform_in], what="output")
    if transform_in is not None and folder_mode and not transform_in.is_dir():
        raise ImageError(
            transform_in, "is not a folder; in folder mode --transform-in names a folder of NAME.txt, one per pair"
        )
    if register == "none":
        for flag, given in (
            ("--transform-out", transform_out is not None),
            ("--accept-unconverged", args.accept_unconverged),
        ):
            if given:
                raise _usage(f"{flag} applies to --register rigid")
    if transform_out is None:
        return
    inputs = [p for p in (args.mri, args.pet, args.mri_dir, args.pet_dir) if p is not None]
    refuse_overwriting_inputs(transform_out, inputs, what="--transform-out")
    for output in (args.out, args.out_dir):
        if output is not None and os.path.realpath(output) == os.path.realpath(transform_out):
            raise _usage(f"--transform-out {transform_out} is also the fused output")
    if folder_mode:
        if transform_out.exists() and not transform_out.is_dir():
            raise OutputError(
                transform_out, "is a file; in folder mode --transform-out names a folder (NAME.txt per pair)"
            )
        return
    if transform_out.is_dir():
        raise OutputError(transform_out, "is a directory; --transform-out needs a file name for a single pair")
    if not transform_out.parent.is_dir():
        raise OutputError(transform_out, f"folder {transform_out.parent} does not exist")


def wants_alignment(args: argparse.Namespace) -> bool:
    """Whether the PET is to be moved: ``--register rigid`` or ``--transform-in``."""
    return getattr(args, "register", "none") != "none" or getattr(args, "transform_in", None) is not None


# -- checking and applying -------------------------------------------------------------------------


def _angle_deg(matrix: np.ndarray) -> float:
    d = matrix.shape[0] - 1
    r = matrix[:d, :d]
    if d == 2:
        return float(np.degrees(abs(np.arctan2(r[1, 0], r[0, 0]))))
    return float(np.degrees(np.arccos(np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0))))


def check_report(matrix: np.ndarray, report, *, mri_path, pet_path, accept: bool) -> str:
    """The one-line account of a registration, or raises :class:`RegistrationError`.

    Args:
        matrix: float64 ``[d+1, d+1]`` transform found.
        report: its :class:`~jaxfuse.registration.RegistrationReport` (one pair's fields).
        accept: ``--accept-unconverged``: a bad report is printed as a warning on stderr instead.

    Returns:
        ``"registered <pet> to <mri>: ..."`` (rotation, shift at the rotation centre, MI).
    """
    mi0, mi1 = float(report.mi_initial), float(report.mi_final)
    if not np.all(np.isfinite(matrix)):
        raise RegistrationError(
            pet_path, f"rigid registration to {mri_path} failed (the transform is not finite); nothing written"
        )
    problems = []
    if not mi1 > mi0 + MIN_MI_GAIN:
        problems.append(f"MI did not improve ({mi0:.4g} -> {mi1:.4g} nats)")
    if not mi1 >= MIN_MI:
        problems.append(f"MI {mi1:.4g} nats is below {MIN_MI:g}: the images share almost no information")
    unit = "mm" if matrix.shape[0] == 4 else "px"
    if not bool(report.converged):
        problems.append(
            f"the optimiser did not settle (moved {float(report.movement):.3g} {unit} over the last quarter of the finest level)"
        )
    if problems:
        what = f"rigid registration to {mri_path} did not converge: {'; '.join(problems)}"
        if not accept:
            raise RegistrationError(pet_path, f"{what}; nothing written (--accept-unconverged fuses anyway)")
        print(f"{_PROG}: warning: {pet_path}: {what}; fusing anyway (--accept-unconverged)", file=sys.stderr)
    d = matrix.shape[0] - 1
    centre = np.asarray(report.centre, np.float64)
    shift = float(np.linalg.norm(matrix[:d, :d] @ centre + matrix[:d, d] - centre))
    return f"registered {pet_path} to {mri_path}: rotation {_angle_deg(matrix):.2f} deg, shift {shift:.2f} {unit} at the centre, MI {mi0:.4f} -> {mi1:.4f} nats"


def warp_image(image: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """A 2-D image seen through a pixel-coordinate transform: ``out[k] = image(T @ k)``, 0 outside.

    Args:
        image: float ``[H, W]`` or ``[H, W, C]`` (each channel resampled linearly).
        transform: ``[3, 3]`` MRI pixel ``(row, column)`` -> PET pixel.

    Returns:
        float32, the same shape.
    """
    from jaxfuse.volume.resample import resample

    image = np.asarray(image, np.float32)
    channels = image[..., None] if image.ndim == 2 else image
    out = [
        np.asarray(resample(channels[..., c], transform, out_shape=image.shape[:2])) for c in range(channels.shape[-1])
    ]
    out = np.stack(out, -1)
    return out[..., 0] if image.ndim == 2 else out


def _unit_float(image: np.ndarray) -> np.ndarray:
    from jaxfuse.core.units import to_unit_float

    return np.asarray(to_unit_float(image), np.float32)


def _intensity(pet: np.ndarray) -> np.ndarray:
    """The PET's intensity on [0, 1]: HSI ``I = (R + G + B) / 3`` of an RGB image, a gray image as is."""
    unit = _unit_float(pet)
    return unit.mean(-1) if unit.ndim == 3 else unit


def _moved(pet: np.ndarray, transform: np.ndarray, *, stored_units: bool) -> np.ndarray:
    """The PET through ``transform``: float32 on [0, 1] (the fusion's value rule), or in its stored
    units (``stored_units``: a scalar PET that ``--pet-cmap`` windows next)."""
    if stored_units:
        return warp_image(np.asarray(pet, np.float32), transform)
    return np.clip(warp_image(_unit_float(pet), transform), 0.0, 1.0)


def align_image_pair(
    args: argparse.Namespace, mri: np.ndarray, pet: np.ndarray, *, stored_units: bool = False
) -> np.ndarray:
    """A single 2-D pair's PET registered or moved onto the MRI (unchanged without the options).

    Args:
        args: the parsed ``fuse`` command (``register``, ``transform_in``, ``transform_out``, ...).
        mri: ``[H, W]`` gray MRI as read; pet: ``[H, W]`` or ``[H, W, 3]`` as read (same H, W).
        stored_units: keep a scalar PET's units (see :func:`_moved`).

    Returns:
        The PET to fuse: float32 ``[H, W(, 3)]``, or ``pet`` itself when nothing is to be done.

    Raises:
        ImageError: a bad ``--transform-in`` file; :class:`RegistrationError`.
    """
    if not wants_alignment(args):
        return pet
    if args.transform_in is not None:
        transform = read_transform(args.transform_in, ndim=2)
    else:
        from jaxfuse.registration import register_rigid

        start = time.perf_counter()
        found, report = register_rigid(_unit_float(mri), _intensity(pet))
        transform = np.asarray(found, np.float64)
        line = check_report(transform, report, mri_path=args.mri, pet_path=args.pet, accept=args.accept_unconverged)
        if args.transform_out is not None:
            write_transform(args.transform_out, transform)
            line += f"; wrote {args.transform_out}"
        print(f"{line} ({time.perf_counter() - start:.2f} s)")
    return _moved(pet, transform, stored_units=stored_units)


def _folder_transform(folder: pathlib.Path, job) -> pathlib.Path:
    return folder / (pathlib.Path(job.out_path).stem + ".txt")


def _accept(args: argparse.Namespace, job, transform: np.ndarray, report) -> tuple[BaseException | None, np.ndarray]:
    """``(None, transform)`` for a registration accepted (and its NAME.txt written), else
    ``(error, identity)``: that pair's failure."""
    try:
        check_report(transform, report, mri_path=job.mri_path, pet_path=job.pet_path, accept=args.accept_unconverged)
        if args.transform_out is not None:
            write_transform(_folder_transform(args.transform_out, job), transform)
    except (ImageError, OSError) as error:
        return error, np.eye(3)
    return None, transform


def image_batch_aligner(args: argparse.Namespace):
    """The folder pipeline's ``align`` hook for 2-D pairs (None without the options).

    Returns:
        ``align(jobs, mri [N, H, W], pet [N, H, W(, 3)]) -> (mri, pet float32, errors)``: the
        first ``len(jobs)`` pairs are real (the rest padding); ``errors[i]`` is None or the
        exception that fails pair ``i``. With ``--register rigid`` the batch is registered as one
        ``vmap`` (:func:`~jaxfuse.registration.register_rigid_batch`; a batch of one with
        :func:`~jaxfuse.registration.register_rigid`); with ``--transform-in DIR``
        each pair reads ``DIR/NAME.txt``.
    """
    if not wants_alignment(args):
        return None
    if args.transform_out is not None:
        args.transform_out.mkdir(parents=True, exist_ok=True)

    def align(jobs, mri, pet):
        count = len(jobs)
        errors: list[BaseException | None] = [None] * count
        transforms = [np.eye(3)] * len(mri)
        if args.transform_in is not None:
            for i, job in enumerate(jobs):
                try:
                    transforms[i] = read_transform(_folder_transform(args.transform_in, job), ndim=2)
                except ImageError as error:
                    errors[i] = error
        elif len(mri) == 1:  # a batch of one is a single registration (the single-pair program)
            from jaxfuse.registration import register_rigid

            found, report = register_rigid(_unit_float(mri[0]), _intensity(pet[0]))
            errors[0], transforms[0] = _accept(args, jobs[0], np.asarray(found, np.float64), report)
        else:
            from jaxfuse.registration import register_rigid_batch

            found, reports = register_rigid_batch(
                np.stack([_unit_float(m) for m in mri]), np.stack([_intensity(p) for p in pet])
            )
            found = np.asarray(found, np.float64)
            for i, job in enumerate(jobs):
                report = type(reports)(*(np.asarray(field)[i] for field in reports))
                errors[i], transforms[i] = _accept(args, job, found[i], report)
        moved = np.stack([_moved(p, t, stored_units=False) for p, t in zip(pet, transforms)])
        return mri, moved, errors

    return align


def volume_transform(args: argparse.Namespace, mri, pet, *, name: str | None = None) -> tuple[np.ndarray | None, str]:
    """The MRI-world -> PET-world transform to fuse a volume pair with, and a line to print.

    Args:
        args: the parsed ``fuse`` command.
        mri, pet: :class:`~jaxfuse.io.Volume` (read; with ``--transform-in`` paths do, nothing is read).
        name: the pair's name in folder mode (``--transform-in/-out`` are folders of NAME.txt).

    Returns:
        ``(transform or None, line)``: None (and ``""``) without the options.

    Raises:
        ImageError: a bad transform file; :class:`RegistrationError`.
    """
    if not wants_alignment(args):
        return None, ""
    if args.transform_in is not None:
        path = args.transform_in if name is None else args.transform_in / f"{name}.txt"
        return read_transform(path, ndim=3), f"applied {path} to {getattr(pet, 'path', pet)}"
    from jaxfuse.registration import register_rigid

    start = time.perf_counter()
    found, report = register_rigid(mri.data, pet.data, fixed_affine=mri.affine, moving_affine=pet.affine)
    transform = np.asarray(found, np.float64)
    line = check_report(transform, report, mri_path=mri.path, pet_path=pet.path, accept=args.accept_unconverged)
    transform[3] = [0.0, 0.0, 0.0, 1.0]
    if args.transform_out is not None:
        path = args.transform_out if name is None else args.transform_out / f"{name}.txt"
        if name is not None:
            args.transform_out.mkdir(parents=True, exist_ok=True)
        write_transform(path, transform)
        line += f"; wrote {path}"
    return transform, f"{line} ({time.perf_counter() - start:.2f} s)"
