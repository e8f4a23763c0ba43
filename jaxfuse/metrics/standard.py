"""The field's standard single-image and full-reference metrics: SD, SF, PSNR and SSIM.

Values on the 0..255 level scale (:mod:`jaxfuse.metrics._levels`); layout and ``channel_axis`` as
in :mod:`jaxfuse.metrics._inputs`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxfuse.metrics._inputs import channels_last, pair
from jaxfuse.metrics._levels import as_levels
from jaxfuse.metrics._numerics import gaussian_1d, local_moments, safe_sqrt

__all__ = ["psnr", "spatial_frequency", "ssim", "standard_deviation"]


@functools.partial(jax.jit, static_argnames=("channel_axis",))
def standard_deviation(image: ArrayLike, *, channel_axis: int | None = -1) -> jax.Array:
    """Standard deviation SD: population std (divide by N) of all values pooled.

    All bands and pixels of one image form one sample, 0..255 range. Higher is
    better (more contrast). Zero gradient for a constant image.

    Args:
        image: ``[..., H, W, C]`` (or ``[..., H, W]`` with ``channel_axis=None``).
        channel_axis: band axis, or None for a gray image.

    Returns:
        float32 ``[...]``.

    References:
        e.g. J. Ma, Y. Ma, C. Li, "Infrared and visible image fusion methods and
        applications: a survey", Information Fusion 45:153-178 (2019).

    Example:
        >>> import jax.numpy as jnp
        >>> float(standard_deviation(jnp.array([[0.0, 2.0], [0.0, 2.0]]), channel_axis=None))
        1.0
    """
    x = channels_last(as_levels(image), channel_axis, "image")
    axes = (-3, -2, -1)
    mu = jnp.mean(x, axis=axes, keepdims=True)
    return safe_sqrt(jnp.mean((x - mu) ** 2, axis=axes))


@functools.partial(jax.jit, static_argnames=("channel_axis",))
def spatial_frequency(image: ArrayLike, *, channel_axis: int | None = -1) -> jax.Array:
    """Spatial frequency SF = sqrt(RF^2 + CF^2).

    ``RF^2`` is the mean of the squared horizontal first differences
    ``F(i,j) - F(i,j-1)`` (normalised by their number, ``H (W-1)`` per band),
    ``CF^2`` the mean of the squared vertical ones ``F(i,j) - F(i-1,j)``
    (``(H-1) W`` per band); bands are pooled in both means. This normalises by
    the number of differences, not by ``H W`` as in Eskicioglu & Fisher.
    0..255 range; higher is better.

    Args:
        image: ``[..., H, W, C]`` (or ``[..., H, W]`` with ``channel_axis=None``),
            H, W >= 2.
        channel_axis: band axis, or None for a gray image.

    Returns:
        float32 ``[...]``.

    References:
        A. M. Eskicioglu, P. S. Fisher, "Image quality measures and their
        performance", IEEE Trans. Commun. 43(12):2959-2965 (1995); S. Li, J. T.
        Kwok, Y. Wang, Information Fusion 2(3):169-176 (2001).

    Example:
        >>> import jax.numpy as jnp
        >>> float(spatial_frequency(jnp.zeros((4, 4)), channel_axis=None))
        0.0
    """
    x = channels_last(as_levels(image), channel_axis, "image")
    if x.shape[-3] < 2 or x.shape[-2] < 2:
        raise ValueError(f"spatial_frequency needs H, W >= 2, got shape {x.shape}")
    axes = (-3, -2, -1)
    rf2 = jnp.mean((x[..., :, 1:, :] - x[..., :, :-1, :]) ** 2, axis=axes)
    cf2 = jnp.mean((x[..., 1:, :, :] - x[..., :-1, :, :]) ** 2, axis=axes)
    return safe_sqrt(rf2 + cf2)


@functools.partial(jax.jit, static_argnames=("channel_axis",))
def psnr(
    x: ArrayLike,
    y: ArrayLike,
    *,
    peak: float = 255.0,
    channel_axis: int | None = -1,
) -> jax.Array:
    """Peak signal-to-noise ratio in dB, ``10 log10(peak^2 / MSE)``.

    MSE is the mean squared difference over all values (all bands pooled), as
    ``skimage.metrics.peak_signal_noise_ratio(x, y, data_range=peak)``. Returns
    +inf where MSE = 0 (identical images); the gradient is finite elsewhere.
    Symmetric; higher is better.

    Args:
        x: ``[..., H, W, C]`` (or ``[..., H, W]`` with ``channel_axis=None``).
        y: same shape.
        peak: the maximum possible value (255 for the uint8 range).
        channel_axis: band axis, or None for gray images.

    Returns:
        float32 ``[...]``.

    References:
        Standard definition; e.g. A. Hore, D. Ziou, "Image quality metrics:
        PSNR vs. SSIM", ICPR 2010.

    Example:
        >>> import jax.numpy as jnp
        >>> float(psnr(jnp.zeros((4, 4)), jnp.zeros((4, 4)), channel_axis=None))
        inf
    """
    xa, ya = pair(x, y, channel_axis, ("x", "y"))
    mse = jnp.mean((xa - ya) ** 2, axis=(-3, -2, -1))
    ok = mse > 0
    safe = jnp.where(ok, mse, jnp.ones_like(mse))
    peak = jnp.asarray(peak, mse.dtype)
    return jnp.where(ok, 20.0 * jnp.log10(peak) - 10.0 * jnp.log10(safe), jnp.inf)


@functools.partial(jax.jit, static_argnames=("win_size", "channel_axis",))
def ssim(
    x: ArrayLike,
    y: ArrayLike,
    *,
    data_range: float = 255.0,
    sigma: float = 1.5,
    win_size: int = 11,
    channel_axis: int | None = -1,
) -> jax.Array:
    """Structural similarity (mean SSIM), Wang et al. (2004).

    Gaussian ``win_size x win_size`` window (default 11x11, ``sigma`` 1.5,
    normalised), population (not sample) covariances, ``K1 = 0.01``,
    ``K2 = 0.03``, ``C1 = (K1 data_range)^2``, ``C2 = (K2 data_range)^2``. The
    SSIM map is averaged over the valid region (the window fully inside the
    image, ``(H - win_size + 1) x (W - win_size + 1)``). For several bands the
    per-band means are averaged. Matches ``skimage.metrics.structural_similarity(
    x, y, data_range=255, gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)``. Symmetric; range [-1, 1]; higher is better.

    Args:
        x: ``[..., H, W, C]`` (or ``[..., H, W]`` with ``channel_axis=None``),
            H, W >= ``win_size``.
        y: same shape.
        data_range: value range of the images (255 for uint8).
        sigma: standard deviation of the Gaussian window, in pixels.
        win_size: odd window size (static).
        channel_axis: band axis, or None for gray images.

    Returns:
        float32 ``[...]``.

    References:
        Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality
        assessment: from error visibility to structural similarity", IEEE Trans.
        Image Process. 13(4):600-612 (2004).

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.arange(256.0).reshape(16, 16)
        >>> round(float(ssim(x, x, channel_axis=None)), 6)
        1.0
    """
    xa, ya = pair(x, y, channel_axis, ("x", "y"))
    if win_size < 1 or win_size % 2 == 0:
        raise ValueError(f"win_size must be a positive odd int, got {win_size}")
    if xa.shape[-3] < win_size or xa.shape[-2] < win_size:
        raise ValueError(
            f"ssim needs H, W >= win_size={win_size}, got shape {xa.shape}"
        )
    dtype = xa.dtype
    k = gaussian_1d(win_size, sigma, dtype)

    xa, ya = jnp.moveaxis(xa, -1, -3), jnp.moveaxis(ya, -1, -3)  # [..., C, H, W]

    mu_x, mu_y, var_x, var_y, cov = local_moments(k, xa, ya)
    dr = jnp.asarray(data_range, dtype)
    c1 = (0.01 * dr) ** 2
    c2 = (0.03 * dr) ** 2
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    smap = num / den
    return jnp.mean(smap, axis=(-3, -2, -1))
