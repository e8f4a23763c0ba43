"""The classic multiscale fusion rule: average the low-pass band, keep the larger high-pass coefficient.

Works on any transform of :data:`jaxfuse.multiscale.registry.TRANSFORMS` (or any
:class:`~jaxfuse.multiscale.base.MultiscaleTransform` value): both images are decomposed, the
low-pass leaves are averaged, the high-pass leaves keep the coefficient of larger magnitude
element by element (ties take the first image), and the result is reconstructed. This is the
transform-domain baseline of SPEC section 5. Image contract: :mod:`jaxfuse.multiscale.base`.

References:
    H. Li, B. S. Manjunath and S. K. Mitra, "Multisensor image fusion using the wavelet
    transform", Graphical Models and Image Processing 57(3):235-245, 1995.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxfuse.multiscale.base import MultiscaleTransform, as_image
from jaxfuse.multiscale.registry import TRANSFORMS

__all__ = ["fuse_coefficients", "fuse_dwt", "fuse_laplacian", "fuse_multiscale"]


def _get_transform(transform: str | MultiscaleTransform) -> MultiscaleTransform:
    if isinstance(transform, MultiscaleTransform):
        return transform
    try:
        return TRANSFORMS[transform]
    except (KeyError, TypeError):
        raise ValueError(f"unknown transform {transform!r}; known: {sorted(TRANSFORMS)}") from None


def _average(x: jax.Array, y: jax.Array) -> jax.Array:
    return (x + y) / 2


def _max_abs(x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.where(jnp.abs(x) >= jnp.abs(y), x, y)  # ties -> x


def fuse_coefficients(coeffs_a: Any, coeffs_b: Any, *,
                      transform: str | MultiscaleTransform) -> Any:
    """The classic rule on two coefficient pytrees of the same structure.

    Low-pass leaves are averaged; for high-pass leaves the coefficient of larger magnitude is
    kept, element by element (ties take ``coeffs_a``).

    Args:
        coeffs_a: coefficients of image A (pytree from ``transform.forward``).
        coeffs_b: coefficients of image B, same structure and shapes.
        transform: a key of :data:`~jaxfuse.multiscale.registry.TRANSFORMS` or a
            :class:`~jaxfuse.multiscale.base.MultiscaleTransform` (for its ``split`` and
            ``merge``).

    Returns:
        The fused coefficients, same structure.

    Example:
        >>> import jax.numpy as jnp
        >>> from jaxfuse.multiscale import dwt2
        >>> ca, cb = dwt2(jnp.zeros((32, 32)), levels=2), dwt2(jnp.ones((32, 32)), levels=2)
        >>> round(float(fuse_coefficients(ca, cb, transform="dwt")[0][0, 0]), 4)  # (0 + 4) / 2
        2.0

    References:
        Li, Manjunath & Mitra, Graphical Models and Image Processing 57(3):235-245, 1995.
    """
    spec = _get_transform(transform)
    low_a, high_a = spec.split(coeffs_a)
    low_b, high_b = spec.split(coeffs_b)
    low = jax.tree.map(_average, low_a, low_b)
    high = jax.tree.map(_max_abs, high_a, high_b)
    return spec.merge(low, high)


def fuse_multiscale(a: jax.typing.ArrayLike, b: jax.typing.ArrayLike, *,
                    transform: str | MultiscaleTransform = "laplacian", levels: int = 4,
                    wavelet: str = "db2") -> jax.Array:
    """Fuses two registered images with the classic multiscale rule (SPEC section 5).

    Decomposes both images, averages the low-pass band, keeps the larger-magnitude high-pass
    coefficient (ties take ``a``) and reconstructs. The output is NOT clipped.

    Args:
        a: ``[H, W]`` float image (e.g. the MRI).
        b: ``[H, W]`` float image (e.g. the PET intensity), same shape.
        transform: "laplacian", "dwt", another key of
            :data:`~jaxfuse.multiscale.registry.TRANSFORMS`, or a
            :class:`~jaxfuse.multiscale.base.MultiscaleTransform`. Static under ``jax.jit``.
        levels: decomposition levels (static).
        wavelet: wavelet for transforms that take one ("dwt"); other transforms ignore it.

    Returns:
        ``[H, W]`` fused image of the promoted float dtype of ``a`` and ``b``.

    Raises:
        ValueError: shapes differ or are invalid for the transform; unknown transform.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> a, b = jnp.zeros((64, 64)), jnp.ones((64, 64))
        >>> fuse = jax.jit(fuse_multiscale, static_argnames=("transform", "levels", "wavelet"))
        >>> fuse(a, b, transform="dwt").shape
        (64, 64)

    References:
        Li, Manjunath & Mitra, Graphical Models and Image Processing 57(3):235-245, 1995.
    """
    a, b = as_image(a, "a"), as_image(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got {a.shape} and {b.shape}")
    dtype = jnp.result_type(a, b)
    a, b = a.astype(dtype), b.astype(dtype)
    spec = _get_transform(transform)
    options = {name: value for name, value in {"wavelet": wavelet}.items() if name in spec.options}
    fused = fuse_coefficients(spec.forward(a, levels=levels, **options),
                              spec.forward(b, levels=levels, **options), transform=spec)
    return spec.inverse(fused, **options)


def fuse_laplacian(a: jax.typing.ArrayLike, b: jax.typing.ArrayLike, *,
                   levels: int = 4) -> jax.Array:
    """Laplacian-pyramid fusion: ``fuse_multiscale(a, b, transform="laplacian", levels=levels)``.

    Args:
        a: ``[H, W]`` float image.
        b: ``[H, W]`` float image, same shape.
        levels: pyramid levels (static).

    Returns:
        ``[H, W]`` fused image, not clipped.

    Example:
        >>> import jax.numpy as jnp
        >>> fuse_laplacian(jnp.zeros((50, 50)), jnp.ones((50, 50)), levels=3).shape
        (50, 50)
    """
    return fuse_multiscale(a, b, transform="laplacian", levels=levels)


def fuse_dwt(a: jax.typing.ArrayLike, b: jax.typing.ArrayLike, *, levels: int = 4,
             wavelet: str = "db2") -> jax.Array:
    """DWT fusion: ``fuse_multiscale(a, b, transform="dwt", levels=levels, wavelet=wavelet)``.

    Args:
        a: ``[H, W]`` float image, ``H`` and ``W`` divisible by ``2**levels``.
        b: ``[H, W]`` float image, same shape.
        levels: decomposition levels (static).
        wavelet: a key of :data:`~jaxfuse.multiscale.dwt.WAVELETS` (static).

    Returns:
        ``[H, W]`` fused image, not clipped.

    Example:
        >>> import jax.numpy as jnp
        >>> fuse_dwt(jnp.zeros((64, 64)), jnp.ones((64, 64))).shape
        (64, 64)
    """
    return fuse_multiscale(a, b, transform="dwt", levels=levels, wavelet=wavelet)
