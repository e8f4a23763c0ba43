"""Pictures of a fused volume: one PNG per slice, and a labelled montage (host side, NumPy + Pillow).

Slices are shown as the kernel saw them, in the radiological layout of SPEC section 7 (the patient's
right on the left of each tile for axial and coronal slices), as
:meth:`jaxfuse.volume.fuse.FusedVolume.slices` returns them.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from jaxfuse.io.images import write_png

__all__ = ["pick_slices", "montage", "write_slices", "slice_labels"]

_AXIS_LETTER = {"axial": "z", "coronal": "y", "sagittal": "x"}


def pick_slices(slices: np.ndarray, *, count: int = 20) -> np.ndarray:
    """Indices of up to ``count`` slices spread evenly over those that hold anything.

    Args:
        slices: uint8 ``[N, H, W, 3]`` (or ``[N, H, W]``).
        count: how many to pick (>= 1).

    Returns:
        int ``[M]`` increasing indices, ``M <= count``; a slice "holds something" when more than
        1% of its pixels are above level 8 (so the empty ends of a volume are left out).
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    slices = np.asarray(slices)
    pixels = slices.max(axis=-1) if slices.ndim == 4 else slices
    filled = np.flatnonzero((pixels > 8).mean(axis=(1, 2)) > 0.01)
    if filled.size == 0:
        filled = np.arange(slices.shape[0])
    first, last = int(filled[0]), int(filled[-1])
    return np.unique(np.round(np.linspace(first, last, min(count, last - first + 1))).astype(int))


def slice_labels(positions_mm: Sequence[float], axis: str) -> list[str]:
    """Tile labels: the world coordinate of each slice, e.g. ``"z +12.0 mm"`` (RAS+)."""
    letter = _AXIS_LETTER[axis]
    return [f"{letter} {p:+.1f} mm" for p in positions_mm]


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the bitmap font, one size
        return ImageFont.load_default()


def montage(
    slices: np.ndarray,
    *,
    labels: Sequence[str] | None = None,
    columns: int | None = None,
    title: str = "",
    min_tile: int = 160,
) -> np.ndarray:
    """A labelled grid of slices, the picture a person looks at first.

    Args:
        slices: uint8 ``[N, H, W, 3]``, in display layout.
        labels: one short text per slice, drawn in its top-left corner.
        columns: tiles per row (default: about square).
        title: a line drawn above the grid.
        min_tile: each tile is enlarged by an integer factor (nearest neighbour, so voxels stay
            visible as voxels) until its shorter side is at least this many pixels.

    Returns:
        uint8 ``[H', W', 3]`` RGB.
    """
    slices = np.asarray(slices)
    if slices.dtype != np.uint8 or slices.ndim != 4 or slices.shape[-1] != 3 or slices.shape[0] == 0:
        raise ValueError(f"slices must be uint8 [N, H, W, 3] with N >= 1, got {slices.dtype} {slices.shape}")
    if labels is not None and len(labels) != slices.shape[0]:
        raise ValueError(f"got {len(labels)} labels for {slices.shape[0]} slices")
    count, height, width = slices.shape[:3]
    factor = max(1, -(-min_tile // max(1, min(height, width))))
    tiles = slices.repeat(factor, axis=1).repeat(factor, axis=2)
    tile_h, tile_w = height * factor, width * factor
    columns = columns or int(np.ceil(np.sqrt(count * tile_h / tile_w)))
    rows = -(-count // columns)
    gap, header = 2, (28 if title else 0)
    canvas = np.zeros((header + rows * (tile_h + gap) + gap, columns * (tile_w + gap) + gap, 3), np.uint8)
    for n in range(count):
        top = header + gap + (n // columns) * (tile_h + gap)
        left = gap + (n % columns) * (tile_w + gap)
        canvas[top : top + tile_h, left : left + tile_w] = tiles[n]
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    font = _font(max(11, min(16, tile_h // 12)))
    for n, label in enumerate(labels or ()):
        top = header + gap + (n // columns) * (tile_h + gap)
        left = gap + (n % columns) * (tile_w + gap)
        draw.text((left + 4, top + 3), label, fill=(255, 255, 255), font=font, stroke_width=1, stroke_fill=(0, 0, 0))
    if title:
        draw.text((6, 6), title, fill=(255, 255, 255), font=_font(15))
    return np.asarray(image)


def write_slices(folder: os.PathLike | str, slices: np.ndarray, *, prefix: str = "slice", compress_level: int = 1) -> list[pathlib.Path]:
    """Writes every slice as ``folder/<prefix>_0000.png`` ... (created if needed), atomically each.

    Args:
        folder: destination folder.
        slices: uint8 ``[N, H, W, 3]``.
        prefix: file name start.
        compress_level: PNG level 0-9 (zlib's scale, :func:`jaxfuse.io.png.png_chunks`).

    Returns:
        The paths written, in slice order.
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    digits = max(4, len(str(len(slices) - 1)))
    paths = []
    for n, image in enumerate(np.asarray(slices)):
        path = folder / f"{prefix}_{n:0{digits}d}.png"
        write_png(path, np.ascontiguousarray(image), compress_level=compress_level)
        paths.append(path)
    return paths

