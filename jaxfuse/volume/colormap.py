"""Windowing and colour lookup tables for scalar functional images (PET, SPECT).

A scalar volume ``x`` (in its own units: Bq/ml, SUV, or arbitrary MRI units) becomes colour in two
steps, both per volume, never per slice (SPEC section 7):

1. :func:`window` maps it to ``v = clip((x - low) / (high - low), 0, 1)``, with ``low, high`` given
   in ``x``'s units or found by :func:`percentile_window` (default ``p0, p99.5`` of the voxels inside
   the PET's field of view).
2. :func:`apply_colormap` looks ``v`` up in a 256-entry RGB table at index ``round(255 * v)``.

The tables (:data:`COLORMAPS`) are package data, ``jaxfuse/data/palettes.npz``, written by
``weights/make_palettes.py``; ``weights/palettes.md`` has their provenance and licences:

* ``pet``, ``hot_iron``, ``hot_metal_blue``, ``pet_20_step``: the DICOM standard's well-known colour
  palettes, PS3.6 Annex B (free to use), as published in the standard (pydicom's copies).
* ``hot``, ``jet``: the classic piecewise-linear maps (MATLAB's, as matplotlib defines them).
* ``gray``: equal channels, ``(i, i, i)``.
* ``inferno``: N. J. Smith and S. van der Walt's perceptually uniform map (CC0 public domain dedication).
"""

from __future__ import annotations

import functools
import importlib.resources
import io

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__ = [
    "COLORMAPS",
    "DEFAULT_PERCENTILES",
    "window",
    "percentile_window",
    "colormap_table",
    "apply_colormap",
]

#: The colour tables' names.
COLORMAPS = ("pet", "hot_iron", "hot_metal_blue", "pet_20_step", "hot", "jet", "gray", "inferno")

#: SPEC section 7's default window: percentiles 0 and 99.5 of the voxels in the PET's field of view.
DEFAULT_PERCENTILES = (0.0, 99.5)

_RESOURCE = "palettes.npz"


def _as_float(x: ArrayLike, name: str) -> jax.Array:
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        raise ValueError(f"{name} must be real, got dtype {x.dtype}")
    if jnp.issubdtype(x.dtype, jnp.floating):
        return x.astype(jnp.result_type(x.dtype, jnp.float32))
    return x.astype(jnp.float32)


def _concrete(value) -> float | None:
    """``value`` as a float when it is known now (not traced under jit/vmap), else None."""
    if isinstance(value, jax.core.Tracer):
        return None
    value = np.asarray(value)
    if value.shape != ():
        raise ValueError(f"expected a scalar, got shape {value.shape}")
    return float(value)


def window(x: ArrayLike, *, low: ArrayLike, high: ArrayLike) -> jax.Array:
    """Linear display window ``clip((x - low) / (high - low), 0, 1)``.

    Args:
        x: ``[...]`` image in its units (Bq/ml, SUV, MRI units); integers are converted to float32.
        low: scalar, the value shown as 0, in ``x``'s units.
        high: scalar, the value shown as 1, in ``x``'s units; must be greater than ``low``.

    Returns:
        ``[...]`` float32 (float64 for float64 input under x64) in [0, 1]; NaN stays NaN.

    Raises:
        ValueError: ``low``/``high`` not finite scalars or ``high <= low`` (checked when they are
            concrete, i.e. not traced).

    Example:
        >>> window(jnp.array([0.0, 2.5, 5.0, 9.0]), low=0.0, high=5.0).tolist()
        [0.0, 0.5, 1.0, 1.0]
    """
    x = _as_float(x, "x")
    lo, hi = _concrete(low), _concrete(high)
    if lo is not None and hi is not None:
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"window bounds must be finite, got low={lo}, high={hi}")
        if not hi > lo:
            raise ValueError(f"window needs high > low, got low={lo}, high={hi}")
    lo_x = jnp.asarray(low, x.dtype)
    hi_x = jnp.asarray(high, x.dtype)
    return jnp.clip((x - lo_x) / (hi_x - lo_x), 0, 1)


def percentile_window(
    x: ArrayLike,
    *,
    low_pct: float = DEFAULT_PERCENTILES[0],
    high_pct: float = DEFAULT_PERCENTILES[1],
    mask: ArrayLike | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Window bounds as percentiles of the voxels in ``mask`` (NumPy's default "linear" method).

    Args:
        x: ``[...]`` image in its units (Bq/ml, SUV, ...), e.g. a PET resampled onto the MRI grid.
        low_pct: percentile (in [0, 100]) giving ``low``; SPEC default 0.
        high_pct: percentile (in [0, 100], greater than ``low_pct``) giving ``high``; SPEC default 99.5.
        mask: ``[...]`` bool, same shape as ``x``: the voxels to count (the PET's field of view,
            e.g. :func:`jaxfuse.volume.field_of_view`); None counts every voxel. NaNs are ignored.

    Returns:
        ``(low, high)``, two 0-d arrays in ``x``'s units and float dtype, ``low <= high``. Pass them
        to :func:`window` (which rejects ``high == low``, e.g. for a constant image).

    Raises:
        ValueError: percentiles out of order or range, a mask of another shape, or (when concrete)
            a mask with no voxel.

    Example:
        >>> lo, hi = percentile_window(jnp.arange(101.0), low_pct=10, high_pct=90)
        >>> float(lo), float(hi)
        (10.0, 90.0)
    """
    x = _as_float(x, "x")
    if not (0 <= low_pct < high_pct <= 100):
        raise ValueError(f"percentiles must satisfy 0 <= low_pct < high_pct <= 100, got {low_pct}, {high_pct}")
    if mask is not None:
        mask = jnp.asarray(mask)
        if mask.shape != x.shape or mask.dtype != jnp.bool_:
            raise ValueError(f"mask must be bool of the image's shape {x.shape}, got {mask.dtype} {mask.shape}")
        if not isinstance(mask, jax.core.Tracer) and not bool(jnp.any(mask)):
            raise ValueError("mask selects no voxel")
        x = jnp.where(mask, x, jnp.nan)
    q = jnp.asarray([low_pct, high_pct], x.dtype)
    bounds = jnp.nanpercentile(x.reshape(-1), q)
    return bounds[0], bounds[1]


@functools.cache
def _tables() -> dict[str, np.ndarray]:
    data = (importlib.resources.files("jaxfuse") / "data" / _RESOURCE).read_bytes()
    with np.load(io.BytesIO(data)) as npz:
        tables = {name: npz[name] for name in npz.files}
    if sorted(tables) != sorted(COLORMAPS):
        raise RuntimeError(f"jaxfuse/data/{_RESOURCE} holds {sorted(tables)}, expected {sorted(COLORMAPS)}")
    for name, table in tables.items():
        if table.shape != (256, 3) or table.dtype != np.uint8:
            raise RuntimeError(
                f"jaxfuse/data/{_RESOURCE}: {name} is {table.dtype} {table.shape}, expected uint8 (256, 3)"
            )
        table.setflags(write=False)
    return tables


def _check_name(name: str) -> None:
    if name not in COLORMAPS:
        raise ValueError(f"unknown colour map {name!r}; choose one of {', '.join(COLORMAPS)}")


def colormap_table(name: str) -> np.ndarray:
    """The 256-entry lookup table ``name`` (one of :data:`COLORMAPS`).

    Returns:
        ``[256, 3]`` uint8 RGB, a fresh copy; entry ``i`` is the colour of window value ``i / 255``.

    Example:
        >>> colormap_table("gray")[200].tolist()
        [200, 200, 200]
    """
    _check_name(name)
    return _tables()[name].copy()


def apply_colormap(values: ArrayLike, *, name: str) -> jax.Array:
    """Colour window values through table ``name`` at index ``round(255 * v)``.

    The index is ``round(255 * clip(v, 0, 1))`` computed in ``values``' float dtype, with ties to
    even (as ``numpy.round``); NaN maps to entry 0.

    Args:
        values: ``[...]`` float window values in [0, 1] (e.g. from :func:`window`); outside is clipped.
        name: one of :data:`COLORMAPS`.

    Returns:
        ``[..., 3]`` uint8 RGB.

    Raises:
        ValueError: an unknown ``name`` or non-float ``values``.

    Example:
        >>> apply_colormap(jnp.array([0.0, 1.0]), name="hot_iron").tolist()
        [[0, 0, 0], [255, 255, 255]]
    """
    _check_name(name)
    values = jnp.asarray(values)
    if not jnp.issubdtype(values.dtype, jnp.floating):
        raise ValueError(f"values must be float window values in [0, 1], got dtype {values.dtype}")
    index = jnp.round(255 * jnp.clip(values, 0, 1))
    index = jnp.where(jnp.isnan(index), 0, index).astype(jnp.int32)
    return jnp.asarray(_tables()[name])[index]
