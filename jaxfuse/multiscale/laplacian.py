"""The Laplacian pyramid (Burt & Adelson 1983), in pure JAX.

``G_0 = image``, ``G_{k+1} = reduce(G_k)`` and ``L_k = G_k - expand(G_{k+1})``: a 5-tap binomial
blur [1, 4, 6, 4, 1]/16 with mirror boundary, decimation by 2, and its exact inverse
``G_k = L_k + expand(G_{k+1})``. It is the package's "laplacian" baseline and the multiscale half
of the contourlet transform. Image contract: :mod:`jaxfuse.multiscale.base`.

References:
    P. J. Burt and E. H. Adelson, "The Laplacian pyramid as a compact image code", IEEE Trans.
    Commun. 31(4):532-540, 1983.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxfuse.multiscale._filtering import correlate, upsample
from jaxfuse.multiscale.base import MultiscaleTransform, as_image, check_levels, merge_last, split_last

__all__ = ["LAPLACIAN", "laplacian_pyramid", "reconstruct_laplacian_pyramid"]

# The classic 5-tap binomial generating kernel, [1, 4, 6, 4, 1] / 16 (exact in binary).
_BINOMIAL5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16


def _blur(x: jax.Array, gain: float = 1.0, stride: int = 1) -> jax.Array:
    """Separable binomial blur of ``[H, W]``, mirror boundary ``d c b | a b c d | c b a``.

    (NumPy ``reflect``, SciPy ``mirror``.) ``stride=2`` keeps only even rows and columns.
    """
    taps = gain * _BINOMIAL5
    kernel = np.outer(taps, taps)[None, None]
    return correlate(jnp.pad(x, 2, mode="reflect")[None], kernel, stride)[0]


def _reduce(x: jax.Array) -> jax.Array:
    """Blur, then keep every second row and column: [H, W] -> [ceil(H/2), ceil(W/2)]."""
    return _blur(x, stride=2)


def _expand(x: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """Zero insertion to the exact finer ``shape``, then blur with 4x the kernel (2x per axis)."""
    return _blur(upsample(x, shape), gain=2.0)


def _pyramid_shapes(shape: tuple[int, int], levels: int) -> list[tuple[int, int]]:
    shapes = [tuple(shape)]
    for _ in range(levels):
        h, w = shapes[-1]
        shapes.append(((h + 1) // 2, (w + 1) // 2))
    return shapes


def laplacian_pyramid(image: jax.typing.ArrayLike, *, levels: int = 4) -> list[jax.Array]:
    """Laplacian pyramid of one image (Burt & Adelson 1983).

    ``G_0 = image``, ``G_{k+1} = reduce(G_k)`` (5-tap binomial blur [1, 4, 6, 4, 1]/16, mirror
    boundary, keep even rows/columns) and ``L_k = G_k - expand(G_{k+1})``, where ``expand`` inserts
    zeros up to the exact shape of ``G_k`` and blurs with 4x the kernel. Any size works (odd,
    non-power-of-two) as long as every reduced level is at least 3x3.

    Args:
        image: ``[H, W]`` float image.
        levels: number of band-pass levels (static Python int >= 1).

    Returns:
        A list of ``levels + 1`` arrays of ``image``'s dtype: the band-pass levels finest first,
        ``L_k`` of shape ``[ceil(H/2**k), ceil(W/2**k)]``, then the low-pass residual
        ``G_levels``.

    Raises:
        ValueError: ``image`` is not 2-D, or is too small for ``levels``.

    Example:
        >>> import jax.numpy as jnp
        >>> pyr = laplacian_pyramid(jnp.ones((250, 250)), levels=4)
        >>> [p.shape for p in pyr]
        [(250, 250), (125, 125), (63, 63), (32, 32), (16, 16)]

    References:
        Burt & Adelson, IEEE Trans. Commun. 31(4):532-540, 1983.
    """
    x = as_image(image)
    levels = check_levels(levels)
    shapes = _pyramid_shapes(x.shape, levels)
    if min(min(s) for s in shapes[:-1]) < 3:
        raise ValueError(
            f"laplacian_pyramid: image shape {x.shape} is too small for levels={levels}; "
            f"every reduced level must be at least 3x3, level shapes would be {shapes}")
    bands = []
    for _ in range(levels):
        low = _reduce(x)
        bands.append(x - _expand(low, x.shape))
        x = low
    return [*bands, x]


def reconstruct_laplacian_pyramid(pyramid: Sequence[jax.typing.ArrayLike]) -> jax.Array:
    """Inverts :func:`laplacian_pyramid`: ``G_k = L_k + expand(G_{k+1})``.

    Exact up to float rounding, by construction of the band-pass levels.

    Args:
        pyramid: sequence of ``levels + 1`` arrays, band-pass levels finest first, then the
            low-pass residual; each level has shape ``ceil(previous / 2)``.

    Returns:
        ``[H, W]`` array, ``H, W`` the shape of ``pyramid[0]``.

    Raises:
        ValueError: fewer than two levels, or shapes that do not halve level to level.

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.linspace(0, 1, 64 * 48).reshape(64, 48)
        >>> y = reconstruct_laplacian_pyramid(laplacian_pyramid(x, levels=3))
        >>> bool(jnp.allclose(x, y, atol=1e-6))
        True
    """
    if len(pyramid) < 2:
        raise ValueError(f"pyramid must hold >= 2 arrays (bands + residual); got {len(pyramid)}")
    levels = [as_image(p, "pyramid level") for p in pyramid]
    expected = _pyramid_shapes(levels[0].shape, len(levels) - 1)
    got = [p.shape for p in levels]
    if got != expected:
        raise ValueError(f"pyramid level shapes {got} do not halve level to level; "
                         f"expected {expected}")
    x = levels[-1]
    for band in reversed(levels[:-1]):
        x = band + _expand(x, band.shape)
    return x


#: The Laplacian pyramid for the fusion rule: the low-pass part is the residual (last entry).
LAPLACIAN = MultiscaleTransform(forward=laplacian_pyramid, inverse=reconstruct_laplacian_pyramid,
                                split=split_last, merge=merge_last)
