"""Canonical (RAS+) reorientation and display-oriented 2-D slices of a volume (SPEC section 7).

Two steps take an MRI volume to the images the 2-D kernel fuses, and back:

1. :func:`to_canonical` reorders and flips the first three axes (no resampling) so that array
   axis ``i`` runs towards patient Right, ``j`` towards Anterior, ``k`` towards Superior (the closest
   RAS+ orientation to the affine, nibabel's ``as_closest_canonical`` rule); :func:`from_canonical`
   restores the original voxel order exactly.
2. :func:`volume_to_slices` cuts the canonical array into planes laid out as a radiologist displays
   them; :func:`slices_to_volume` is its exact inverse. With ``vol`` the canonical array:

   ============  =========================  ==============================  ==============================
   ``axis``      slice                      rows (top -> bottom)            columns (left -> right)
   ============  =========================  ==============================  ==============================
   ``axial``     ``vol[::-1, ::-1, k].T``   anterior -> posterior           patient right -> left
   ``coronal``   ``vol[::-1, j, ::-1].T``   superior -> inferior            patient right -> left
   ``sagittal``  ``vol[i, ::-1, ::-1].T``   superior -> inferior            anterior -> posterior
   ============  =========================  ==============================  ==============================

   With a trailing channel axis (``vol`` ``[I, J, K, C]``) the transpose swaps the two spatial axes
   only. Slices are stacked along a new leading axis, in increasing ``k`` (``j``, ``i``) order.

The reorientation is host-side NumPy with nibabel's orientation tools; the slicing is indexing and a
transpose, so it works on NumPy and JAX arrays alike (under ``jax.jit`` too).
"""

from __future__ import annotations

import numpy as np
from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation, ornt_transform

__all__ = ["AXES", "to_canonical", "from_canonical", "volume_to_slices", "slices_to_volume"]

#: Slice orientations and the canonical array axis each one holds constant (R = 0, A = 1, S = 2).
AXES = {"sagittal": 0, "coronal": 1, "axial": 2}

_CANONICAL = np.array([[0, 1], [1, 1], [2, 1]], dtype=float)


def _check_volume(data, name: str):
    if not hasattr(data, "ndim") or not hasattr(data, "transpose"):
        data = np.asarray(data)
    if data.ndim not in (3, 4):
        raise ValueError(f"{name} must be [I, J, K] or [I, J, K, C], got shape {data.shape}")
    return data


def _check_ornt(ornt) -> np.ndarray:
    ornt = np.asarray(ornt, dtype=float)
    if ornt.shape != (3, 2) or not np.all(np.isfinite(ornt)):
        raise ValueError(f"ornt must be a finite [3, 2] nibabel orientation, got\n{ornt}")
    if sorted(ornt[:, 0]) != [0, 1, 2] or not np.all(np.abs(ornt[:, 1]) == 1):
        raise ValueError(f"ornt must permute axes 0, 1, 2 with flips of +-1, got\n{ornt}")
    return ornt


def to_canonical(data: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reorder/flip a volume's first three axes to the closest canonical RAS+ orientation.

    Args:
        data: ``[I, J, K]`` or ``[I, J, K, C]`` array (any dtype), voxel order as stored.
        affine: ``[4, 4]`` voxel index -> world (RAS, mm) affine of ``data``.

    Returns:
        ``(canonical_data, canonical_affine, ornt)``: the data with axes towards R, A, S (a NumPy
        view, same dtype, trailing axis untouched), its ``[4, 4]`` float64 affine (the same world
        positions: ``canonical_affine @ v_canonical == affine @ v_original``), and the ``[3, 2]``
        nibabel orientation ``io_orientation(affine)`` that :func:`from_canonical` undoes.

    Raises:
        ValueError: wrong shapes, or an affine with no clear orientation (a zero or non-finite column).

    Example:
        >>> lps = np.diag([-1.0, -1.0, 1.0, 1.0])  # stored L, P, S
        >>> data, aff, ornt = to_canonical(np.arange(8).reshape(2, 2, 2), lps)
        >>> np.diag(aff).tolist(), int(data[0, 0, 0])
        ([1.0, 1.0, 1.0, 1.0], 6)
    """
    data = _check_volume(np.asarray(data), "data")
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        raise ValueError(f"affine must be a finite [4, 4] matrix, got shape {affine.shape}")
    ornt = io_orientation(affine)
    if not np.all(np.isfinite(ornt)):
        raise ValueError(f"affine has no clear orientation (a zero voxel axis?):\n{affine}")
    canonical = apply_orientation(data, ornt)
    canonical_affine = affine @ inv_ornt_aff(ornt, data.shape[:3])
    return canonical, canonical_affine, ornt


def from_canonical(data: np.ndarray, ornt: np.ndarray) -> np.ndarray:
    """Undo :func:`to_canonical`: back to the original voxel order.

    Args:
        data: ``[I', J', K']`` or ``[I', J', K', C]`` canonical array (e.g. a fused RGB volume).
        ornt: ``[3, 2]`` orientation returned by :func:`to_canonical`.

    Returns:
        NumPy array (a view) in the original axis order and directions, so that it lies on the
        original grid with the original affine.

    Example:
        >>> vol = np.arange(24).reshape(2, 3, 4)
        >>> affine = np.array([[0, 0, -2.0, 0], [1, 0, 0, 0], [0, 3, 0, 0], [0, 0, 0, 1]])
        >>> bool(np.array_equal(from_canonical(to_canonical(vol, affine)[0], to_canonical(vol, affine)[2]), vol))
        True
    """
    data = _check_volume(np.asarray(data), "data")
    return apply_orientation(data, ornt_transform(_CANONICAL, _check_ornt(ornt)))


def _plan(axis: str) -> tuple[int, tuple[int, int]]:
    if axis not in AXES:
        raise ValueError(f"axis must be one of {', '.join(sorted(AXES))}, got {axis!r}")
    held = AXES[axis]
    low, high = (a for a in range(3) if a != held)
    return held, (low, high)


def volume_to_slices(canonical, *, axis: str):
    """Cut a canonical (RAS+) volume into display-oriented 2-D slices.

    Args:
        canonical: ``[I, J, K]`` or ``[I, J, K, C]`` NumPy or JAX array, axes towards R, A, S
            (from :func:`to_canonical`).
        axis: ``"axial"`` (constant S), ``"coronal"`` (constant A) or ``"sagittal"`` (constant R).

    Returns:
        ``[N, rows, cols]`` (``[N, rows, cols, C]``), same array type and dtype: axial ``[K, J, I]``,
        coronal ``[J, K, I]``, sagittal ``[I, K, J]``; slice ``n`` is the module table's formula
        at index ``n`` (e.g. axial ``vol[::-1, ::-1, n].T``).

    Example:
        >>> vol = np.zeros((4, 5, 6))
        >>> vol[3, 4, 5] = 1  # the patient's right-anterior-superior corner
        >>> s = volume_to_slices(vol, axis="axial")
        >>> s.shape, float(s[5, 0, 0])  # top slice, first row (anterior), first column (right)
        ((6, 5, 4), 1.0)
    """
    canonical = _check_volume(canonical, "canonical")
    held, (low, high) = _plan(axis)
    flips = tuple(slice(None, None, -1) if a != held else slice(None) for a in range(3))
    channels = tuple(range(3, canonical.ndim))
    return canonical[flips].transpose((held, high, low, *channels))


def slices_to_volume(slices, *, axis: str):
    """Stack display-oriented slices back into the canonical volume (inverse of :func:`volume_to_slices`).

    Args:
        slices: ``[N, rows, cols]`` or ``[N, rows, cols, C]`` NumPy or JAX array, as made by
            :func:`volume_to_slices` with the same ``axis`` (e.g. fused RGB slices).
        axis: ``"axial"``, ``"coronal"`` or ``"sagittal"``.

    Returns:
        ``[I, J, K]`` (``[I, J, K, C]``) canonical array, same array type and dtype.

    Example:
        >>> vol = np.arange(60).reshape(3, 4, 5)
        >>> bool(np.array_equal(slices_to_volume(volume_to_slices(vol, axis="coronal"), axis="coronal"), vol))
        True
    """
    slices = _check_volume(slices, "slices")
    held, (low, high) = _plan(axis)
    order = (held, high, low)
    inverse = tuple(order.index(a) for a in range(3))
    channels = tuple(range(3, slices.ndim))
    volume = slices.transpose((*inverse, *channels))
    flips = tuple(slice(None, None, -1) if a != held else slice(None) for a in range(3))
    return volume[flips]
