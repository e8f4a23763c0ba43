"""Linear resampling of a 2-D or 3-D scalar image onto another voxel grid (pure JAX).

Geometry follows nibabel's model: an image is an array plus an affine ``A`` mapping voxel indices
(0-based, continuous, voxel centres at integers) to world coordinates (RAS, mm). Resampling a
*source* image onto a *target* grid needs, for every target voxel index ``t``, the source voxel
index ``s = inv(A_source) @ A_target @ t`` (homogeneous coordinates): :func:`grid_to_grid` builds
that matrix in float64 NumPy, :func:`resample` evaluates the source there, :func:`resample_to` does
both.

Interpolation and the field of view are exactly those of
``scipy.ndimage.map_coordinates(array, coords, order=1, mode="constant", cval=0)``:

* A sample at continuous index ``x`` is the (bi/tri)linear interpolation of the ``2**d`` source
  voxels around it when ``0 <= x[a] <= shape[a] - 1`` on every axis ``a`` (the closed box spanned
  by the source's voxel *centres*), and ``0`` otherwise.
* So the outer half of each edge voxel (``-0.5 <= x < 0`` and ``shape - 1 < x <= shape - 0.5``) is
  outside: scipy's ``"constant"`` mode does not interpolate towards ``cval`` there (that is its
  ``"grid-constant"`` mode, and what ``jax.scipy.ndimage.map_coordinates(mode="constant")`` does,
  which is why this module does not use it). nibabel's ``resample_from_to`` and
  ``scipy.ndimage.affine_transform`` use the same rule. Checked in ``tests/volume`` at exactly
  ``0``, ``shape - 1`` and just beyond.

Everything is jit-compiled with ``out_shape`` static, vmap-able over arrays and/or matrices, and
differentiable with respect to both the array (the adjoint of the interpolation) and the voxel map
(the piecewise-linear derivative of the interpolant; the field-of-view edge itself contributes no
gradient). Large outputs are computed in chunks of output slices (``lax.map``), each chunk
re-computed in the backward pass (``jax.checkpoint``), so memory stays a small multiple of the
output size. Computation is in float32 (float64 when the array is float64 under x64): source
coordinates then carry about 1e-5 voxel of rounding on grids a few hundred voxels across, so a
sample that close to the field-of-view edge may fall on the other side of it than in float64
(about 2 in 10^5 samples of random oblique maps in the tests; everywhere else the values agree with
scipy's float64 to a few 1e-6 relative).
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__ = ["CHUNK_VOXELS", "resample", "field_of_view", "resample_with_field_of_view", "grid_to_grid", "resample_to"]

#: About this many output voxels are computed at once; bigger outputs go in chunks of slices.
CHUNK_VOXELS = 1 << 20


def _as_int(n) -> int:
    """``n`` as an int (a Python or NumPy integer; not a float or a bool)."""
    if isinstance(n, bool | np.bool_):
        raise TypeError(n)
    return operator.index(n)


def _check_shape(shape: Sequence[int], d: int | None, name: str) -> tuple[int, ...]:
    try:
        shape = tuple(_as_int(n) for n in shape)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of ints, got {shape!r}") from None
    if (d is not None and len(shape) != d) or len(shape) not in (2, 3) or any(n < 1 for n in shape):
        want = f"{d}" if d is not None else "2 or 3"
        raise ValueError(f"{name} must be {want} positive ints, got {shape!r}")
    return shape


def _check_map(voxel_map: ArrayLike, source_shape: tuple[int, ...], dtype):
    """The map in ``dtype``: a NumPy array where it is concrete (checked here; converting it on the
    host keeps ``jnp.asarray`` from compiling a program for it), the tracer itself under a transform."""
    d = len(source_shape)
    if not isinstance(voxel_map, jax.core.Tracer):
        voxel_map = np.asarray(voxel_map)
    if voxel_map.shape != (d + 1, d + 1):
        raise ValueError(
            f"voxel_map must be a [{d + 1}, {d + 1}] homogeneous matrix for a {d}-D array of shape "
            f"{source_shape}, got shape {voxel_map.shape}"
        )
    if isinstance(voxel_map, jax.core.Tracer):
        return voxel_map.astype(dtype)
    m = np.asarray(voxel_map, dtype=np.float64)
    if not np.all(np.isfinite(m)):
        raise ValueError(f"voxel_map must be finite, got\n{m}")
    if not np.array_equal(m[d], np.eye(d + 1)[d]):
        raise ValueError(f"voxel_map's last row must be {np.eye(d + 1)[d].tolist()}, got {m[d].tolist()}")
    return m.astype(dtype)


def _check_array(array: ArrayLike):
    """The array as float32 (float64 under x64 for float64 input): a JAX array stays one, anything
    else is converted with NumPy (``jnp.asarray`` would compile a program per shape)."""
    if not isinstance(array, jax.Array):
        array = np.asarray(array)
    if array.ndim not in (2, 3):
        raise ValueError(f"array must be 2-D or 3-D (spatial axes only, no channel axis), got shape {array.shape}")
    if jnp.issubdtype(array.dtype, jnp.complexfloating):
        raise ValueError(f"array must be real, got dtype {array.dtype}")
    if array.size >= 2**31:
        raise ValueError(f"array of shape {array.shape} has more than 2**31 - 1 voxels")
    floating = jnp.issubdtype(array.dtype, jnp.floating)
    dtype = jax.dtypes.canonicalize_dtype(np.result_type(array.dtype, np.float32)) if floating else np.float32
    if isinstance(array, jax.Array):
        return array.astype(dtype)
    return array.astype(dtype, copy=False)


def _inside(coords: list[jax.Array], shape: tuple[int, ...]) -> jax.Array:
    """scipy's "constant"-mode field of view: ``0 <= x <= n - 1`` on every axis (closed, no tolerance)."""
    return functools.reduce(jnp.logical_and, [(x >= 0) & (x <= n - 1) for x, n in zip(coords, shape)])


def _interpolate(flat: jax.Array, shape: tuple[int, ...], coords: list[jax.Array]) -> jax.Array:
    """Linear interpolation of ``flat`` (a C-order ``shape`` array) at ``coords`` (d arrays, same shape)."""
    inside = _inside(coords, shape)
    strides = [math.prod(shape[a + 1 :]) for a in range(len(shape))]
    lows, highs, fracs = [], [], []
    for x, n in zip(coords, shape):
        base = jnp.floor(x)
        fracs.append(x - base)  # d(frac)/dx = 1: floor has a zero derivative
        low = jnp.clip(base, 0, n - 1).astype(jnp.int32)  # clipping only matters outside (masked)
        lows.append(low)
        highs.append(jnp.minimum(low + 1, n - 1))  # at x == n - 1 its weight is 0
    value = jnp.zeros_like(coords[0])
    for corner in itertools.product((0, 1), repeat=len(shape)):
        index = sum(s * (h if c else lo) for s, c, lo, h in zip(strides, corner, lows, highs))
        weight = functools.reduce(lambda a, b: a * b, [t if c else 1 - t for c, t in zip(corner, fracs)])
        value = value + weight * jnp.take(flat, index, mode="clip")
    return jnp.where(inside, value, jnp.zeros_like(value))


def _slice_coords(voxel_map: jax.Array, first: jax.Array, rest: tuple[int, ...]) -> list[jax.Array]:
    """Source coordinates of output slice ``first`` (index along output axis 0): d arrays ``[*rest]``."""
    d = voxel_map.shape[0] - 1
    dtype = voxel_map.dtype
    grids = [
        jnp.arange(n, dtype=dtype).reshape((1,) * a + (n,) + (1,) * (len(rest) - a - 1)) for a, n in enumerate(rest)
    ]
    coords = []
    for c in range(d):
        x = voxel_map[c, d] + voxel_map[c, 0] * first.astype(dtype)
        for a, g in enumerate(grids):
            x = x + voxel_map[c, a + 1] * g
        coords.append(jnp.broadcast_to(x, rest))
    return coords


@functools.partial(jax.jit, static_argnames=("out_shape", "mode", "chunk_voxels"))
def _resample(array: jax.Array, voxel_map: jax.Array, out_shape: tuple[int, ...], mode: str, chunk_voxels: int):
    """``mode``: ``"values"`` (the samples), ``"inside"`` (the field of view) or ``"both"`` (a pair)."""
    shape = array.shape
    flat = array.reshape(-1)
    rest = out_shape[1:]

    def one_slice(first):
        coords = _slice_coords(voxel_map, first, rest)
        if mode == "inside":
            return _inside(coords, shape)
        values = _interpolate(flat, shape, coords)
        return (values, _inside(coords, shape)) if mode == "both" else values

    firsts = jnp.arange(out_shape[0], dtype=jnp.int32)
    per_slice = math.prod(rest)
    if out_shape[0] * per_slice <= chunk_voxels:
        return jax.vmap(one_slice)(firsts)
    # A batch size dividing out_shape[0] lets lax.map write its slices straight into the output;
    # a remainder would be computed apart and concatenated (one more output-sized buffer).
    batch = max(b for b in range(1, max(1, chunk_voxels // per_slice) + 1) if out_shape[0] % b == 0)
    return jax.lax.map(jax.checkpoint(one_slice), firsts, batch_size=batch)


def resample(
    array: ArrayLike, voxel_map: ArrayLike, *, out_shape: Sequence[int], chunk_voxels: int = CHUNK_VOXELS
) -> jax.Array:
    """Sample ``array`` linearly on an output grid: ``out[t] = array(voxel_map @ t)``, 0 outside.

    Matches ``scipy.ndimage.map_coordinates(array, coords, order=1, mode="constant", cval=0)`` at
    the coordinates ``coords = (voxel_map @ [t, 1])[:d]`` (see the module docstring for the
    field-of-view rule at the edges).

    Args:
        array: ``[*S]`` source image, ``d = 2`` or ``3`` spatial axes (no channel axis); real values in
            any units (integers are converted to float32).
        voxel_map: ``[d + 1, d + 1]`` homogeneous matrix mapping OUTPUT voxel indices to SOURCE voxel
            indices (continuous, 0-based, voxel centres at integers); last row ``[0, ..., 0, 1]``.
        out_shape: the output grid's shape, ``d`` positive ints (static under ``jax.jit``).
        chunk_voxels: outputs bigger than this many voxels are computed a few slices (along output
            axis 0) at a time, which bounds the gather intermediates that a gradient keeps; the
            result changes only by float rounding (XLA fuses the chunked program differently).
            Without a gradient XLA fuses the whole resampling into one loop that keeps none, so a
            forward-only caller may pass the output's size (one chunk: the same peak memory,
            faster to run and to compile, as :func:`jaxfuse.volume.fuse.fuse_volumes` does).

    Returns:
        ``[*out_shape]`` float32 (float64 for a float64 array under x64), in the array's units.

    Raises:
        ValueError: wrong ranks or shapes (the message gives them), a non-finite or non-affine map.

    Example:
        >>> import numpy as np
        >>> halve = np.diag([2.0, 2.0, 1.0])  # output pixel t samples source pixel 2 t
        >>> resample(np.arange(16.0).reshape(4, 4), halve, out_shape=(2, 2)).tolist()
        [[0.0, 2.0], [8.0, 10.0]]
    """
    array = _check_array(array)
    voxel_map = _check_map(voxel_map, array.shape, array.dtype)
    if isinstance(chunk_voxels, bool) or not isinstance(chunk_voxels, int) or chunk_voxels < 1:
        raise ValueError(f"chunk_voxels must be a positive int, got {chunk_voxels!r}")
    out_shape = _check_shape(out_shape, array.ndim, "out_shape")
    return _resample(array, voxel_map, out_shape, "values", chunk_voxels)


def field_of_view(source_shape: Sequence[int], voxel_map: ArrayLike, *, out_shape: Sequence[int]) -> jax.Array:
    """Which output voxels :func:`resample` takes from inside the source (the rest are 0).

    Args:
        source_shape: the source array's shape, ``d = 2`` or ``3`` ints.
        voxel_map: ``[d + 1, d + 1]`` output voxel -> source voxel matrix, as for :func:`resample`.
        out_shape: the output grid's shape, ``d`` positive ints.

    Returns:
        ``[*out_shape]`` bool, True where ``0 <= (voxel_map @ t)[a] <= source_shape[a] - 1`` on every axis.

    Example:
        >>> field_of_view((4, 4), np.eye(3), out_shape=(5, 5)).sum().item()
        16
    """
    source_shape = _check_shape(source_shape, None, "source_shape")
    voxel_map = _check_map(voxel_map, source_shape, jnp.float32)
    out_shape = _check_shape(out_shape, len(source_shape), "out_shape")
    # only the shape of the source matters here
    return _resample(np.zeros(source_shape, np.float32), voxel_map, out_shape, "inside", CHUNK_VOXELS)


def resample_with_field_of_view(
    array: ArrayLike, voxel_map: ArrayLike, *, out_shape: Sequence[int], chunk_voxels: int = CHUNK_VOXELS
) -> tuple[jax.Array, jax.Array]:
    """:func:`resample` and :func:`field_of_view` of the same map, computed by one compiled program.

    Args and units as :func:`resample`.

    Returns:
        ``(values, inside)``: ``[*out_shape]`` float32 samples (0 outside) and ``[*out_shape]`` bool
        field of view, each equal to what the two functions return.

    Example:
        >>> values, inside = resample_with_field_of_view(np.ones((4, 4)), np.eye(3), out_shape=(5, 5))
        >>> float(values.sum()), int(inside.sum())
        (16.0, 16)
    """
    array = _check_array(array)
    voxel_map = _check_map(voxel_map, array.shape, array.dtype)
    if isinstance(chunk_voxels, bool) or not isinstance(chunk_voxels, int) or chunk_voxels < 1:
        raise ValueError(f"chunk_voxels must be a positive int, got {chunk_voxels!r}")
    out_shape = _check_shape(out_shape, array.ndim, "out_shape")
    return _resample(array, voxel_map, out_shape, "both", chunk_voxels)


def grid_to_grid(source_affine: ArrayLike, target_affine: ArrayLike) -> np.ndarray:
    """The target voxel -> source voxel matrix ``inv(source_affine) @ target_affine`` (through world).

    Args:
        source_affine: ``[d + 1, d + 1]`` source voxel index -> world (RAS, mm) affine.
        target_affine: ``[d + 1, d + 1]`` target voxel index -> world (RAS, mm) affine, same ``d``.

    Returns:
        ``[d + 1, d + 1]`` float64 NumPy matrix, the ``voxel_map`` of :func:`resample`.

    Raises:
        ValueError: mismatched or non-square shapes, non-finite values, a singular source affine.

    Example:
        >>> source = np.diag([2.0, 2.0, 2.0, 1.0])  # 2 mm voxels
        >>> np.diag(grid_to_grid(source, np.eye(4))).tolist()  # 1 mm target voxels
        [0.5, 0.5, 0.5, 1.0]
    """
    source = np.asarray(source_affine, dtype=np.float64)
    target = np.asarray(target_affine, dtype=np.float64)
    if source.ndim != 2 or source.shape[0] != source.shape[1] or source.shape != target.shape:
        raise ValueError(
            f"affines must be square and of one shape, got source {source.shape} and target {target.shape}"
        )
    if not (np.all(np.isfinite(source)) and np.all(np.isfinite(target))):
        raise ValueError("affines must be finite")
    if np.linalg.cond(source[:-1, :-1]) > 1e12:
        raise ValueError(f"source affine is singular:\n{source}")
    voxel_map = np.linalg.inv(source) @ target
    voxel_map[-1] = np.eye(len(source))[-1]  # exact homogeneous row
    return voxel_map


def resample_to(
    array: ArrayLike, *, source_affine: ArrayLike, target_affine: ArrayLike, out_shape: Sequence[int]
) -> jax.Array:
    """Resample a source image onto a target grid given both affines (world = RAS mm).

    ``resample(array, grid_to_grid(source_affine, target_affine), out_shape=out_shape)``.

    Args:
        array: ``[*S]`` source image (2-D or 3-D, any units).
        source_affine: ``[d + 1, d + 1]`` the source's voxel -> world (mm) affine.
        target_affine: ``[d + 1, d + 1]`` the target grid's voxel -> world (mm) affine.
        out_shape: the target grid's shape, ``d`` ints.

    Returns:
        ``[*out_shape]`` float32, the source's values on the target grid, 0 outside its field of view.

    Example:
        >>> out = resample_to(np.ones((4, 4, 4)), source_affine=np.eye(4), target_affine=np.eye(4),
        ...                   out_shape=(2, 2, 2))
        >>> out.shape
        (2, 2, 2)
    """
    return resample(array, grid_to_grid(source_affine, target_affine), out_shape=out_shape)
