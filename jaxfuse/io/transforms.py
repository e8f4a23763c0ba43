"""Rigid transform files: a 4x4 matrix in plain text, read and checked, or written atomically.

Transform files are plain text, a 4x4 matrix as ``numpy.savetxt`` writes it (``#`` lines are
comments), mapping a point of the MRI's world to the corresponding point of the PET's world:
``y = T @ [x, 1]``.

* Volumes: world = RAS+ mm of each file's affine (NIfTI ``qform``/``sform``, DICOM patient
  coordinates turned to RAS). The fused PET voxel at MRI voxel ``k`` is sampled at PET voxel
  ``inv(A_pet) @ T @ A_mri @ k``.
* 2-D images: world = pixel coordinates ``(row, column)`` of the images as fused (after
  ``--resize``), the centre of the top-left pixel at ``(0, 0)``. The file is 4x4 all the same:
  rows/columns 0-1 are the in-plane transform, the third axis is the identity. A 3x3 file (the
  in-plane matrix alone) is read as well.

A transform file is refused (one line naming the file, exit 1) when it cannot be parsed, is not 4x4
(or 3x3 for 2-D), has a non-finite entry, a last row other than ``0 0 0 1``, a singular or
reflecting linear part, or a linear part that is not a rotation: each singular value must be 1
within :data:`RIGID_TOLERANCE` (scaling or shearing by more than 0.1 % is not a rigid motion of the
same patient; a 4-decimal print of a rotation is well within it). A 2-D file's third axis must be
the identity's.
"""

from __future__ import annotations

import io
import os
import pathlib

import numpy as np

from jaxfuse.io.atomic import atomic_write
from jaxfuse.io.images import ImageError

__all__ = ["RIGID_TOLERANCE", "read_transform", "write_transform"]

#: A transform file's linear part must have every singular value within this of 1.
RIGID_TOLERANCE = 1e-3
_MAX_FILE_BYTES = 64 * 1024  # a 4x4 matrix in text is a few hundred bytes


def _parse(path: pathlib.Path) -> np.ndarray:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageError(path, "no such transform file") from None
    except OSError as error:
        raise ImageError(path, f"cannot read the transform file ({error.strerror or error})") from None
    if path.is_dir():
        raise ImageError(path, "is a folder; need a transform file (4x4 plain text)")
    if size > _MAX_FILE_BYTES:
        raise ImageError(path, f"is {size:,} bytes, too large for a 4x4 transform (plain text, numpy.savetxt)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ImageError(path, "is not a plain-text transform (not UTF-8 text)") from None
    except OSError as error:
        raise ImageError(path, f"cannot read the transform file ({error.strerror or error})") from None
    if not any(line.split("#", 1)[0].strip() for line in text.splitlines()):
        # before numpy.loadtxt, which warns "input contained no data"; silencing that warning here
        # would change the process-wide filters under the other pairs' threads (folder mode)
        raise ImageError(path, "is empty; need a 4x4 transform")
    try:
        matrix = np.loadtxt(io.StringIO(text), dtype=np.float64, ndmin=2)
    except ValueError as error:
        first = str(error).splitlines()[0] if str(error) else "unparseable"
        raise ImageError(path, f"is not a matrix of numbers in plain text (numpy.loadtxt: {first})") from None
    if matrix.size == 0:
        raise ImageError(path, "is empty; need a 4x4 transform")
    return matrix


def read_transform(path: os.PathLike | str, *, ndim: int) -> np.ndarray:
    """Reads and checks a transform file (see the module notes).

    Args:
        path: the file.
        ndim: 3 for volumes (the file must be 4x4), 2 for images (4x4 with an identity third axis,
            or 3x3).

    Returns:
        float64 ``[ndim + 1, ndim + 1]``: MRI world -> PET world, last row exact.

    Raises:
        ImageError: ``"<path>: <problem>"``, one line.
    """
    path = pathlib.Path(path)
    matrix = _parse(path)
    shapes = ((4, 4),) if ndim == 3 else ((4, 4), (3, 3))
    if matrix.shape not in shapes:
        want = "4x4" if ndim == 3 else "4x4 (or 3x3 for a 2-D pair)"
        raise ImageError(path, f"is a {matrix.shape[0]}x{matrix.shape[1]} matrix; need {want}")
    if not np.all(np.isfinite(matrix)):
        raise ImageError(path, "has non-finite entries (nan or inf)")
    d = matrix.shape[0] - 1
    if not np.allclose(matrix[d], np.eye(d + 1)[d], rtol=0.0, atol=1e-6):
        expected = " ".join(["0"] * d + ["1"])
        raise ImageError(
            path, f"has last row {' '.join(f'{v:g}' for v in matrix[d])}; need {expected} (a homogeneous affine)"
        )
    if ndim == 2 and d == 3:
        if not (np.allclose(matrix[2], [0, 0, 1, 0], atol=1e-6) and np.allclose(matrix[:, 2], [0, 0, 1, 0], atol=1e-6)):
            raise ImageError(
                path, "moves points out of the image plane: for a 2-D pair row and column 3 must be 0 0 1 0"
            )
        matrix = matrix[np.ix_([0, 1, 3], [0, 1, 3])]
        d = 2
    linear = matrix[:d, :d]
    singular = np.linalg.svd(linear, compute_uv=False)
    if singular.min() < 1e-6 * max(1.0, singular.max()):
        raise ImageError(path, "is singular (its linear part maps space onto a plane or line)")
    if np.linalg.det(linear) < 0:
        raise ImageError(path, "is a reflection (determinant < 0), not a rigid transform")
    if np.max(np.abs(singular - 1.0)) > RIGID_TOLERANCE:
        values = ", ".join(f"{s:.4g}" for s in singular)
        raise ImageError(
            path,
            f"is not rigid: its linear part scales or shears (singular values {values}; a rotation needs 1 within {RIGID_TOLERANCE:g})",
        )
    matrix = matrix.copy()
    matrix[d] = np.eye(d + 1)[d]
    return matrix


def write_transform(path: os.PathLike | str, matrix: np.ndarray, *, plane: bool = False) -> None:
    """Writes ``matrix`` atomically as 4x4 plain text (``numpy.savetxt``; a 3x3 2-D matrix is
    embedded with an identity third axis). ``plane`` only changes the comment line."""
    matrix = np.asarray(matrix, np.float64)
    if matrix.shape == (3, 3):
        full = np.eye(4)
        full[np.ix_([0, 1, 3], [0, 1, 3])] = matrix
        matrix, plane = full, True
    if matrix.shape != (4, 4):
        raise ValueError(f"a transform is [4, 4] or [3, 3], got shape {matrix.shape}")
    world = "pixel (row, column) coordinates, third axis unused" if plane else "RAS mm"
    header = f"jaxfuse rigid transform: MRI world -> PET world, y = T @ [x, 1]; world = {world}"
    atomic_write(path, lambda handle: np.savetxt(handle, matrix, fmt="%.17g", header=header))
