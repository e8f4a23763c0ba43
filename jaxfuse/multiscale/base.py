"""What every multiscale transform shares: the protocol the fusion rule sees, and the input checks.

Image contract (all transforms of :mod:`jaxfuse.multiscale`):
    * One single-channel float image ``[H, W]`` per call (float32 typical; float64 works under
      ``jax.enable_x64``); values typically in [0, 1]. Integer images are converted at the edge of
      the library (image I/O), not here: a non-float input raises ``TypeError``.
    * Every function is written for ONE image and is batched by the caller with ``jax.vmap``.
    * Every function works under ``jax.jit`` (options are Python values: mark them static) and
      ``jax.vmap``, and is differentiable. Options are keyword-only.
    * Coefficients are pytrees of arrays of the input's dtype (complex for the curvelet wedges).
      Outputs are never clipped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "MultiscaleTransform",
    "as_image",
    "check_levels",
    "lowpass_field",
    "merge_first",
    "merge_last",
    "split_first",
    "split_last",
]


class MultiscaleTransform(NamedTuple):
    """A multiscale transform as seen by the fusion rule.

    Attributes:
        forward: ``forward(image, *, levels, **options) -> coeffs``, ``image`` ``[H, W]``,
            ``coeffs`` any pytree of arrays.
        inverse: ``inverse(coeffs, **options) -> image``.
        split: ``coeffs -> (lowpass, highpass)``, two pytrees.
        merge: ``(lowpass, highpass) -> coeffs``, the inverse of ``split``.
        options: names of the keyword options of :func:`jaxfuse.multiscale.fuse_multiscale`
            (besides ``levels``) that ``forward`` and ``inverse`` take, e.g. ``("wavelet",)``.
    """

    forward: Callable[..., Any]
    inverse: Callable[..., jax.Array]
    split: Callable[[Any], tuple[Any, Any]]
    merge: Callable[[Any, Any], Any]
    options: tuple[str, ...] = ()


def as_image(x: Any, name: str = "image") -> jax.Array:
    """Returns ``x`` as a float ``[H, W]`` array, or raises with the shape/dtype received.

    Args:
        x: array-like, expected ``[H, W]`` of a float dtype.
        name: what ``x`` is, for the error message.

    Returns:
        ``jnp.asarray(x)`` (the same array when ``x`` already is one).

    Raises:
        ValueError: ``x`` is not 2-D (the shape is printed).
        TypeError: ``x`` does not have a float dtype.
    """
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(
            f"{name} must be one single-channel image [H, W] (batch with jax.vmap); "
            f"got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{name} must have a float dtype; got {x.dtype} (convert at the edge)")
    return x


def check_levels(levels: Any) -> int:
    """Returns ``levels`` if it is a positive Python int (not a bool), else raises ValueError.

    Args:
        levels: the number of decomposition levels asked for.

    Returns:
        ``levels`` unchanged.

    Raises:
        ValueError: ``levels`` is not a Python int >= 1.
    """
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
        raise ValueError(f"levels must be a positive Python int; got {levels!r}")
    return levels


# Split/merge pairs for the coefficient layouts the transforms use.


def split_first(coeffs: Sequence[Any]) -> tuple[Any, list[Any]]:
    """``[low, *high] -> (low, high)``: the low-pass band first (DWT, NSCT)."""
    return coeffs[0], list(coeffs[1:])


def merge_first(low: Any, high: Sequence[Any]) -> list[Any]:
    """Inverse of :func:`split_first`."""
    return [low, *high]


def split_last(coeffs: Sequence[Any]) -> tuple[Any, list[Any]]:
    """``[*high, low] -> (low, high)``: the low-pass residual last (Laplacian pyramid)."""
    return coeffs[-1], list(coeffs[:-1])


def merge_last(low: Any, high: Sequence[Any]) -> list[Any]:
    """Inverse of :func:`split_last`."""
    return [*high, low]


def lowpass_field(field: str) -> tuple[Callable[[Any], tuple[Any, Any]], Callable[[Any, Any], Any]]:
    """Split and merge for a frozen dataclass pytree whose low-pass band is the attribute ``field``.

    The high-pass half is the same dataclass with ``field`` set to ``None`` (so it keeps its
    static metadata); merging puts the low-pass band back.

    Args:
        field: name of the low-pass attribute.

    Returns:
        ``(split, merge)`` for :class:`MultiscaleTransform`.
    """

    def split(coeffs: Any) -> tuple[Any, Any]:
        return getattr(coeffs, field), dataclasses.replace(coeffs, **{field: None})

    def merge(low: Any, high: Any) -> Any:
        return dataclasses.replace(high, **{field: low})

    return split, merge
