"""Slices of a volume as batches for the 2-D fusion kernel (SPEC section 7).

A volume is fused as a stack of 2-D slices in the radiological layout of
:func:`jaxfuse.volume.slicing.volume_to_slices`. This module holds the pieces between the volume
and the kernel, each usable on its own:

* :func:`slice_layout`: the slice stack's voxel grid as a matrix, ``(slice, row, column)`` ->
  canonical voxel ``(i, j, k)``, so a PET can be resampled straight onto the slices
  (``inv(A_pet) @ A_canonical @ slice_layout(...)``) and each batch is a contiguous block;
* :func:`chunk_starts`: equal-sized kernel calls covering all slices (one compiled program);
* :func:`kernel_inputs`: the MRI scaled to [0, 1] and the PET windowed and coloured, exactly as the
  kernel receives them (JAX);
* :func:`slice_fuser`: a method's batch fuser for slices of one size (mirror-padding the sizes a
  transform method cannot take).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxfuse.methods import batch_fuser
from jaxfuse.volume.colormap import COLORMAPS, apply_colormap, window

__all__ = ["slice_layout", "chunk_starts", "kernel_inputs", "chunk_inputs", "slice_fuser"]

Fuser = Callable[[jax.Array, jax.Array], jax.Array]

# Multiples tried when a method cannot take a slice's size (the 4-level DWT and contourlet need 16).
_PAD_MULTIPLES = (16, 32, 64)

# SPEC section 7's layouts as data: for each axis, the canonical axis fed by the slice index n,
# the row r and the column c, and whether it runs backwards (i = I - 1 - c means "c, reversed").
#   axial    vol[::-1, ::-1, n].T:  i = I-1-c, j = J-1-r, k = n
#   coronal  vol[::-1, n, ::-1].T:  i = I-1-c, j = n,     k = K-1-r
#   sagittal vol[n, ::-1, ::-1].T:  i = n,     j = J-1-c, k = K-1-r
_LAYOUTS = {
    "axial": ((2, False), (1, True), (0, True)),
    "coronal": ((1, False), (2, True), (0, True)),
    "sagittal": ((0, False), (2, True), (1, True)),
}


def slice_layout(canonical_shape: tuple[int, int, int], *, axis: str) -> np.ndarray:
    """The slice stack's grid: homogeneous ``(n, r, c, 1)`` -> canonical voxel ``(i, j, k, 1)``.

    Args:
        canonical_shape: ``(I, J, K)`` of the canonical (RAS+) volume.
        axis: ``"axial"``, ``"coronal"`` or ``"sagittal"``.

    Returns:
        float64 ``[4, 4]`` integer matrix (a signed permutation plus offsets). ``A_canonical @
        slice_layout(...)`` is the slice stack's voxel -> RAS mm affine; slice ``n``, row ``r``,
        column ``c`` of :func:`jaxfuse.volume.slicing.volume_to_slices` is that canonical voxel.

    Example:
        >>> slice_layout((4, 5, 6), axis="axial") @ [2, 0, 0, 1]  # slice 2, top-left pixel
        array([3., 4., 2., 1.])
    """
    if axis not in _LAYOUTS:
        raise ValueError(f"axis must be one of {', '.join(_LAYOUTS)}, got {axis!r}")
    layout = np.zeros((4, 4))
    layout[3, 3] = 1.0
    for column, (canonical_axis, reversed_) in enumerate(_LAYOUTS[axis]):
        layout[canonical_axis, column] = -1.0 if reversed_ else 1.0
        layout[canonical_axis, 3] = canonical_shape[canonical_axis] - 1 if reversed_ else 0.0
    return layout


def chunk_starts(total: int, size: int) -> list[int]:
    """First slice of each kernel call for ``total`` slices in calls of ``size`` (``1 <= size <= total``).

    Every call has the same size, so one compiled program serves them all: the last call starts at
    ``total - size`` and overlaps the one before it (its first slices are fused twice, identically,
    and kept once), rather than being padded with slices that are not in the volume.

    Example:
        >>> chunk_starts(10, 4)
        [0, 4, 6]
    """
    if not 1 <= size <= total:
        raise ValueError(f"need 1 <= size <= total, got size {size}, total {total}")
    starts = list(range(0, total - size + 1, size))
    if starts[-1] + size < total:
        starts.append(total - size)
    return starts


def _kernel_inputs_impl(mri, pet, mri_window, pet_window, cmap: str):
    mri_unit = window(mri, low=mri_window[0], high=mri_window[1])
    pet_unit = window(pet, low=pet_window[0], high=pet_window[1])
    rgb = apply_colormap(pet_unit, name=cmap)
    return mri_unit, (rgb[..., 0] if cmap == "gray" else rgb)


_kernel_inputs = jax.jit(_kernel_inputs_impl, static_argnames=("cmap",))


def _check_cmap(cmap: str) -> None:
    if cmap not in COLORMAPS:
        raise ValueError(f"unknown colour map {cmap!r}; known: {', '.join(COLORMAPS)}")


def kernel_inputs(
    mri: ArrayLike, pet: ArrayLike, *, mri_window: tuple[float, float], pet_window: tuple[float, float], cmap: str = "pet"
) -> tuple[jax.Array, jax.Array]:
    """Slices as the fusion kernel receives them: MRI scaled to [0, 1], PET windowed and coloured.

    Args:
        mri: float ``[...]`` MRI values (signal units), e.g. slices ``[N, H, W]``.
        pet: float ``[...]`` functional values (Bq/ml, SUVbw, ...), same shape.
        mri_window, pet_window: ``(lo, hi)`` in each image's units, ``lo < hi`` (per volume, see
            :func:`jaxfuse.volume.windows.resolve_window`).
        cmap: a palette name of :data:`jaxfuse.volume.colormap.COLORMAPS`.

    Returns:
        ``(mri_unit, pet_image)``: float32 ``clip((x - lo) / (hi - lo), 0, 1)``, and the palette at
        ``round(255 v)``: uint8 ``[..., 3]`` RGB, or uint8 ``[...]`` for ``"gray"`` (the gray path).

    Example:
        >>> m, p = kernel_inputs(jnp.array([0.0, 5.0]), jnp.array([0.0, 9.0]), mri_window=(0, 10),
        ...                      pet_window=(0, 9), cmap="gray")
        >>> m.tolist(), p.tolist()
        ([0.0, 0.5], [0, 255])
    """
    _check_cmap(cmap)
    windows = jnp.asarray(mri_window, jnp.float32), jnp.asarray(pet_window, jnp.float32)
    return _kernel_inputs(jnp.asarray(mri, jnp.float32), jnp.asarray(pet, jnp.float32), *windows, cmap=cmap)


@functools.partial(jax.jit, static_argnames=("cmap", "size"))
def _chunk_inputs(mri, pet, start, mri_window, pet_window, *, cmap: str, size: int):
    mri_chunk = jax.lax.dynamic_slice_in_dim(mri, start, size, axis=0)
    pet_chunk = jax.lax.dynamic_slice_in_dim(pet, start, size, axis=0)
    return _kernel_inputs_impl(mri_chunk, pet_chunk, mri_window, pet_window, cmap)


def chunk_inputs(
    mri_slices: jax.Array,
    pet_slices: jax.Array,
    start: int,
    *,
    size: int,
    mri_window: tuple[float, float],
    pet_window: tuple[float, float],
    cmap: str = "pet",
) -> tuple[jax.Array, jax.Array]:
    """:func:`kernel_inputs` of slices ``start .. start + size`` of two slice stacks, one compiled
    program for every ``start``.

    Args:
        mri_slices, pet_slices: float ``[N, H, W]`` stacks (MRI units, PET units).
        start: first slice (``0 <= start <= N - size``; a traced value, so it does not recompile).
        size: slices per call (static).
        mri_window, pet_window, cmap: as :func:`kernel_inputs`.

    Returns:
        ``(float32 [size, H, W], uint8 [size, H, W, 3] or [size, H, W])``.
    """
    _check_cmap(cmap)
    # NumPy scalars and arrays: jnp.asarray / jnp.int32 would each compile a small program
    windows = np.asarray(mri_window, np.float32), np.asarray(pet_window, np.float32)
    return _chunk_inputs(mri_slices, pet_slices, np.int32(start), *windows, cmap=cmap, size=size)


def _size_error(fuser: Fuser, height: int, width: int) -> ValueError | None:
    """The error ``fuser`` raises for ``height x width`` slices (None: it takes them)."""
    mri = jax.ShapeDtypeStruct((2, height, width), jnp.float32)
    pet = jax.ShapeDtypeStruct((2, height, width, 3), jnp.uint8)
    try:
        jax.eval_shape(fuser, mri, pet)
    except ValueError as error:
        return error
    return None


def slice_fuser(method: str = "vgg19", *, height: int, width: int, **options) -> Fuser:
    """A ``(mri [N, H, W], pet [N, H, W(, 3)]) -> uint8 [N, H, W, 3]`` fuser for slices of one size.

    Methods that cannot take ``H x W`` (the 4-level DWT and contourlet need multiples of 16) get
    each slice padded symmetrically (mirror at the edge) to the next size they take and cropped
    back; every other method sees the slices as they are.

    Args:
        method: a key of :data:`jaxfuse.METHODS`.
        height, width: the slices' size.
        **options: the ``vgg19`` method's options (see :func:`jaxfuse.methods.batch_fuser`).

    Raises:
        ValueError: an unknown method, options for a method that takes none, or a size that no
            padding makes acceptable.
    """
    fuser = batch_fuser(method, output_dtype=jnp.uint8, **options)
    error = _size_error(fuser, height, width)
    if error is None:
        return fuser
    for multiple in _PAD_MULTIPLES:
        padded_h, padded_w = -(-height // multiple) * multiple, -(-width // multiple) * multiple
        if _size_error(fuser, padded_h, padded_w) is None:
            break
    else:
        raise ValueError(f"method {method} cannot fuse {height}x{width} slices, even padded ({error})")
    top, left = (padded_h - height) // 2, (padded_w - width) // 2
    widths = ((0, 0), (top, padded_h - height - top), (left, padded_w - width - left))

    def padded(mri, pet):
        pet_widths = widths + ((0, 0),) * (jnp.ndim(pet) - 3)
        fused = fuser(jnp.pad(mri, widths, mode="symmetric"), jnp.pad(pet, pet_widths, mode="symmetric"))
        return fused[:, top : top + height, left : left + width]

    return padded
