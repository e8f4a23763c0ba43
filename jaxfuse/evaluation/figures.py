"""Labelled image grids for the demo and evaluation reports (Pillow; uint8 in, uint8 out)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["side_by_side", "grid"]

_LABEL_HEIGHT = 18


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    return np.stack([image] * 3, axis=-1) if image.ndim == 2 else image


def _tile(label: str, image: np.ndarray) -> Image.Image:
    image = _rgb(image)
    tile = Image.new("RGB", (image.shape[1], image.shape[0] + _LABEL_HEIGHT), "white")
    tile.paste(Image.fromarray(image), (0, _LABEL_HEIGHT))
    ImageDraw.Draw(tile).text((4, 3), label, fill="black")
    return tile


def grid(rows: Sequence[Sequence[tuple[str, np.ndarray]]], *, gap: int = 4) -> np.ndarray:
    """Lays out labelled uint8 images (``[H, W]`` or ``[H, W, 3]``, all the same size) in rows.

    Returns:
        uint8 ``[H', W', 3]`` on a white background.
    """
    tiles = [[_tile(label, image) for label, image in row] for row in rows]
    tile_w, tile_h = tiles[0][0].size
    columns = max(len(row) for row in tiles)
    canvas = Image.new("RGB", (columns * tile_w + (columns - 1) * gap, len(tiles) * tile_h + (len(tiles) - 1) * gap), "white")
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            canvas.paste(tile, (c * (tile_w + gap), r * (tile_h + gap)))
    return np.asarray(canvas)


def side_by_side(panels: Sequence[tuple[str, np.ndarray]], *, gap: int = 4) -> np.ndarray:
    """One labelled row, e.g. ``[("MRI", mri), ("PET", pet), ("fused", fused)]`` -> uint8 RGB."""
    return grid([panels], gap=gap)
