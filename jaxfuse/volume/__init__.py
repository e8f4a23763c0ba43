"""Volumes in world space: resampling between voxel grids (RAS mm affines), display windows and
colour tables for scalar functional images."""

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

__all__ = [
    "CHUNK_VOXELS",
    "resample",
    "field_of_view",
    "grid_to_grid",
    "resample_to",
    "COLORMAPS",
    "DEFAULT_PERCENTILES",
    "window",
    "percentile_window",
    "colormap_table",
    "apply_colormap",
]
