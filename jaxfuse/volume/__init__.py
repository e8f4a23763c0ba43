"""Volumes in world space: resampling between voxel grids (RAS mm affines)."""

from __future__ import annotations

from jaxfuse.volume.resample import CHUNK_VOXELS, field_of_view, grid_to_grid, resample, resample_to

__all__ = [
    "CHUNK_VOXELS",
    "resample",
    "field_of_view",
    "grid_to_grid",
    "resample_to",
]
