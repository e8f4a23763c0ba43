"""Volumes in world space (SPEC section 7): resampling between voxel grids through their affines
(voxel index -> RAS mm), canonical RAS+ reorientation and display-oriented slices, and the display
window and colour tables of scalar functional images (PET, SPECT).

* :mod:`jaxfuse.volume.resample`: :func:`resample`, :func:`field_of_view`, :func:`grid_to_grid`,
  :func:`resample_to` (pure JAX, scipy ``map_coordinates(order=1, mode="constant")`` semantics).
* :mod:`jaxfuse.volume.slicing`: :func:`to_canonical`, :func:`from_canonical` (NumPy + nibabel),
  :func:`volume_to_slices`, :func:`slices_to_volume` (NumPy or JAX arrays).
* :mod:`jaxfuse.volume.colormap`: :func:`window`, :func:`percentile_window`,
  :func:`apply_colormap`, :func:`colormap_table`, :data:`COLORMAPS`.
"""

from __future__ import annotations

from jaxfuse.volume.colormap import (
    COLORMAPS,
    DEFAULT_PERCENTILES,
    apply_colormap,
    colormap_table,
    percentile_window,
    window,
)
from jaxfuse.volume.resample import CHUNK_VOXELS, field_of_view, grid_to_grid, resample, resample_to
from jaxfuse.volume.slicing import AXES, from_canonical, slices_to_volume, to_canonical, volume_to_slices

__all__ = [
    # resample
    "CHUNK_VOXELS",
    "resample",
    "field_of_view",
    "grid_to_grid",
    "resample_to",
    # slicing
    "AXES",
    "to_canonical",
    "from_canonical",
    "volume_to_slices",
    "slices_to_volume",
    # colormap
    "COLORMAPS",
    "DEFAULT_PERCENTILES",
    "window",
    "percentile_window",
    "colormap_table",
    "apply_colormap",
]
