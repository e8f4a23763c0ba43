"""How the metrics read their inputs: layout, channel axis, gray versus RGB.

Values follow the level contract of :mod:`jaxfuse.metrics._levels` (0..255). The rest:

* **Layout.** Channels-last. ``F`` is the fused RGB image ``[..., H, W, 3]``, ``P`` the
  PET/functional image, RGB ``[..., H, W, 3]`` or gray ``[..., H, W]``, ``M`` the MRI, gray
  ``[..., H, W]``.
* **Single-image and same-shape metrics** (EN, AG, SD, SF, D, OP, PSNR, SSIM) take
  ``channel_axis: int | None = -1``: the axis holding the bands, moved last before computing;
  ``None`` declares a gray image ``[..., H, W]`` without a channel axis. The two images of D, OP,
  PSNR and SSIM must have equal shapes (:func:`pair`).
* **Gray-domain metrics** (MI, Qabf, SCD, VIF) compare gray images (:func:`gray_inputs`). Each
  input may be RGB or gray, told apart by rank: the gray rank is the smallest ``ndim`` among the
  inputs, and an input with one more dimension is RGB, converted by :func:`to_gray` along
  ``channel_axis``. If all inputs share one rank they are gray; should their ``channel_axis`` then
  have size 3 the call is ambiguous and raises (pass ``channel_axis=None`` to declare gray images).
* **Gray conversion** is BT.601 luma ``0.2989 R + 0.5870 G + 0.1140 B`` (the MATLAB ``rgb2gray``
  weights), unrounded unless a metric says otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxfuse.metrics._levels import as_levels

__all__ = ["LUMA_WEIGHTS", "channels_last", "check_same_shape", "gray_inputs", "pair", "to_gray"]

#: BT.601 luma weights for (R, G, B), as in MATLAB ``rgb2gray``.
LUMA_WEIGHTS: tuple[float, float, float] = (0.2989, 0.5870, 0.1140)


def channels_last(x: jax.Array, channel_axis: int | None, name: str) -> jax.Array:
    """Returns ``[..., H, W, C]``; a gray image (``channel_axis=None``) gets C = 1."""
    if channel_axis is None:
        if x.ndim < 2:
            raise ValueError(
                f"{name}: a gray image needs shape [..., H, W], got {x.shape}"
            )
        return x[..., None]
    if not isinstance(channel_axis, int):
        raise ValueError(
            f"{name}: channel_axis must be an int or None, got {channel_axis!r}"
        )
    if x.ndim < 3:
        raise ValueError(
            f"{name}: a multi-band image needs shape [..., H, W, C], got {x.shape};"
            " pass channel_axis=None for a gray image"
        )
    if not -x.ndim <= channel_axis < x.ndim:
        raise ValueError(
            f"{name}: channel_axis={channel_axis} is out of range for shape {x.shape}"
        )
    return jnp.moveaxis(x, channel_axis, -1)


def check_same_shape(names: Sequence[str], arrays: Sequence[jax.Array]) -> None:
    shapes = [a.shape for a in arrays]
    if any(s != shapes[0] for s in shapes):
        got = ", ".join(f"{n} {s}" for n, s in zip(names, shapes))
        raise ValueError(f"shapes must be equal, got {got}")


def pair(
    x: ArrayLike, y: ArrayLike, channel_axis: int | None, names: tuple[str, str]
) -> tuple[jax.Array, jax.Array]:
    xa, ya = as_levels(x), as_levels(y)
    check_same_shape(names, [xa, ya])
    return (
        channels_last(xa, channel_axis, names[0]),
        channels_last(ya, channel_axis, names[1]),
    )


def gray_inputs(
    names: Sequence[str], images: Sequence[ArrayLike], channel_axis: int | None
) -> list[jax.Array]:
    """Applies the rank rule of the module docstring; returns gray [..., H, W]."""
    arrays = [as_levels(im) for im in images]
    if channel_axis is None:
        grays = arrays
    else:
        rank = min(a.ndim for a in arrays)
        if all(a.ndim == rank for a in arrays) and rank >= 3:
            try:
                ambiguous = all(a.shape[channel_axis] == 3 for a in arrays)
            except IndexError:
                ambiguous = False
            if ambiguous:
                got = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))
                raise ValueError(
                    f"cannot tell gray from RGB: all inputs have the same rank ({got});"
                    " convert RGB inputs with to_gray, or pass channel_axis=None"
                    " to declare them gray"
                )
        grays = []
        for n, a in zip(names, arrays):
            if a.ndim == rank:
                grays.append(a)
            elif a.ndim == rank + 1:
                grays.append(to_gray(a, channel_axis=channel_axis))
            else:
                got = ", ".join(f"{m} {b.shape}" for m, b in zip(names, arrays))
                raise ValueError(
                    f"{n}: rank {a.ndim} is neither gray ({rank}) nor RGB"
                    f" ({rank + 1}); got {got}"
                )
    for n, g in zip(names, grays):
        if g.ndim < 2:
            raise ValueError(f"{n}: a gray image needs shape [..., H, W], got {g.shape}")
    check_same_shape(names, grays)
    return grays


@functools.partial(jax.jit, static_argnames=("channel_axis",))
def to_gray(image: ArrayLike, *, channel_axis: int = -1) -> jax.Array:
    """BT.601 luma of an RGB image, unrounded.

    ``Y = 0.2989 R + 0.5870 G + 0.1140 B`` (MATLAB ``rgb2gray`` weights; they sum
    to 0.9999). The value range is kept (0..255 in, about 0..255 out).

    Args:
        image: RGB image ``[..., H, W, 3]`` (with the 3 bands on ``channel_axis``).
        channel_axis: axis of the three bands.

    Returns:
        Gray image ``[..., H, W]``, float32.

    References:
        ITU-R BT.601; MATLAB ``rgb2gray``.

    Example:
        >>> import jax.numpy as jnp
        >>> to_gray(jnp.full((2, 2, 3), 100.0)).shape
        (2, 2)
    """
    x = channels_last(as_levels(image), channel_axis, "image")
    if x.shape[-1] != 3:
        raise ValueError(f"to_gray needs 3 bands on channel_axis, got shape {x.shape}")
    wr, wg, wb = LUMA_WEIGHTS
    return wr * x[..., 0] + wg * x[..., 1] + wb * x[..., 2]
