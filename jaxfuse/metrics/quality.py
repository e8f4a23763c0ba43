"""Fusion-quality metrics comparing the fused image with its sources: Qabf, SCD and VIF.

All work on gray images (RGB inputs are converted to unrounded BT.601 luma by the rank rule of
:mod:`jaxfuse.metrics._inputs`), values on the 0..255 level scale (:mod:`jaxfuse.metrics._levels`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxfuse.metrics._inputs import gray_inputs
from jaxfuse.metrics._numerics import gaussian_1d, local_moments, safe_div, safe_sqrt, valid_filter

__all__ = ["QABF_CONSTANTS", "fusion_vif", "qabf", "scd", "vif"]

#: Xydeas & Petrovic (2000) constants used by :func:`qabf`.
QABF_CONSTANTS: dict[str, float] = {
    "gamma_g": 0.9994,
    "kappa_g": -15.0,
    "sigma_g": 0.5,
    "gamma_a": 0.9879,
    "kappa_a": -22.0,
    "sigma_a": 0.8,
    "L": 1.0,
}

_VIF_SIGMA_NSQ = 2.0
_VIF_EPS = 1e-10  # the thresholds of Sheikh & Bovik's published code


def _gray_sources(fused, source_a, source_b, channel_axis):
    """``(F, A, B)`` as gray ``[..., H, W]`` images, by the rank rule of :func:`gray_inputs`."""
    return gray_inputs(("fused", "source_a", "source_b"), (fused, source_a, source_b), channel_axis)


def _sobel(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Sobel responses of ``[..., H, W]``, zero padding, same size.

    ``gx`` correlates with [[-1,0,1],[-2,0,2],[-1,0,1]] (left to right),
    ``gy`` with its transpose (top to bottom).
    """
    h, w = x.shape[-2:]
    xp = jnp.pad(x, [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)])

    def s(di, dj):
        return xp[..., di : di + h, dj : dj + w]

    gx = (s(0, 2) + 2 * s(1, 2) + s(2, 2)) - (s(0, 0) + 2 * s(1, 0) + s(2, 0))
    gy = (s(2, 0) + 2 * s(2, 1) + s(2, 2)) - (s(0, 0) + 2 * s(0, 1) + s(0, 2))
    return gx, gy


def _edge_strength_orientation(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    gx, gy = _sobel(x)
    g = safe_sqrt(gx * gx + gy * gy)
    zero = gx == 0
    alpha = jnp.where(
        zero,
        jnp.sign(gy) * (jnp.pi / 2),
        jnp.arctan(gy / jnp.where(zero, jnp.ones_like(gx), gx)),
    )
    return g, alpha


def _edge_preservation(g_s, a_s, g_f, a_f) -> jax.Array:
    c = QABF_CONSTANTS
    lo = jnp.minimum(g_s, g_f)
    hi = jnp.maximum(g_s, g_f)
    ok = hi > 0
    rel_g = jnp.where(ok, lo / jnp.where(ok, hi, jnp.ones_like(hi)), 1.0)
    rel_a = jnp.abs(jnp.abs(a_s - a_f) - jnp.pi / 2) / (jnp.pi / 2)
    q_g = c["gamma_g"] / (1 + jnp.exp(c["kappa_g"] * (rel_g - c["sigma_g"])))
    q_a = c["gamma_a"] / (1 + jnp.exp(c["kappa_a"] * (rel_a - c["sigma_a"])))
    return q_g * q_a


@functools.partial(jax.jit, static_argnames=("channel_axis",))
def qabf(
    fused: ArrayLike,
    source_a: ArrayLike,
    source_b: ArrayLike,
    *,
    channel_axis: int | None = -1,
) -> jax.Array:
    """Edge-preservation metric Q^{AB/F} of Xydeas & Petrovic (2000).

    On gray images (RGB inputs are converted to unrounded luma): Sobel
    gradients (3x3, zero padding, same size) give the edge strength
    ``g = sqrt(gx^2 + gy^2)`` and orientation ``alpha = arctan(gy / gx)``
    (``+-pi/2`` where ``gx = 0``). For a source S and the fused F:
    relative strength ``G = min(g_S, g_F) / max(g_S, g_F)`` (1 where both are 0),
    relative orientation ``A = | |alpha_S - alpha_F| - pi/2 | / (pi/2)``
    (orientations compared modulo pi, the form of the widely used code),
    ``Q^{SF} = Gamma_g / (1 + exp(kappa_g (G - sigma_g))) * Gamma_a / (1 +
    exp(kappa_a (A - sigma_a)))`` with ``Gamma_g = 0.9994, kappa_g = -15,
    sigma_g = 0.5, Gamma_a = 0.9879, kappa_a = -22, sigma_a = 0.8``, and
    ``Q^{AB/F} = sum(Q^{AF} w_A + Q^{BF} w_B) / sum(w_A + w_B)`` with weights
    ``w = g^L``, ``L = 1``. Scale-invariant; range [0, ~0.975]; higher is
    better. Returns 0 where neither source has any edge.

    Args:
        fused: F, gray ``[..., H, W]`` or RGB ``[..., H, W, 3]``.
        source_a: A (e.g. the MRI), gray or RGB.
        source_b: B (e.g. the PET), gray or RGB.
        channel_axis: band axis of RGB inputs; None declares all gray.

    Returns:
        float32 ``[...]``.

    References:
        C. S. Xydeas, V. Petrovic, "Objective image fusion performance measure",
        Electronics Letters 36(4):308-309 (2000).

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.arange(64.0).reshape(8, 8)
        >>> qabf(x, x, x).shape
        ()
    """
    f, a, b = _gray_sources(fused, source_a, source_b, channel_axis)
    g_f, a_f = _edge_strength_orientation(f)
    g_a, a_a = _edge_strength_orientation(a)
    g_b, a_b = _edge_strength_orientation(b)
    w_a = g_a ** QABF_CONSTANTS["L"]
    w_b = g_b ** QABF_CONSTANTS["L"]
    q_af = _edge_preservation(g_a, a_a, g_f, a_f)
    q_bf = _edge_preservation(g_b, a_b, g_f, a_f)
    num = jnp.sum(q_af * w_a + q_bf * w_b, axis=(-2, -1))
    den = jnp.sum(w_a + w_b, axis=(-2, -1))
    return safe_div(num, den, 0.0)


def _correlation(x: jax.Array, y: jax.Array) -> jax.Array:
    """Pearson correlation over the last two axes (0 if either is constant)."""
    xc = x - jnp.mean(x, axis=(-2, -1), keepdims=True)
    yc = y - jnp.mean(y, axis=(-2, -1), keepdims=True)
    num = jnp.sum(xc * yc, axis=(-2, -1))
    den = safe_sqrt(jnp.sum(xc * xc, axis=(-2, -1)) * jnp.sum(yc * yc, axis=(-2, -1)))
    return safe_div(num, den, 0.0)


@functools.partial(jax.jit, static_argnames=("channel_axis",))
def scd(
    fused: ArrayLike,
    source_a: ArrayLike,
    source_b: ArrayLike,
    *,
    channel_axis: int | None = -1,
) -> jax.Array:
    """Sum of the correlations of differences, SCD = corr(F - B, A) + corr(F - A, B).

    Pearson correlations over the whole gray image (RGB inputs are converted to
    unrounded luma); a constant argument contributes 0. Range [-2, 2]; higher
    is better.

    Args:
        fused: F, gray ``[..., H, W]`` or RGB ``[..., H, W, 3]``.
        source_a: A, gray or RGB.
        source_b: B, gray or RGB.
        channel_axis: band axis of RGB inputs; None declares all gray.

    Returns:
        float32 ``[...]``.

    References:
        V. Aslantas, E. Bendes, "A new image quality metric for image fusion: the
        sum of the correlations of differences", AEU Int. J. Electron. Commun.
        69(12):1890-1896 (2015).

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.arange(16.0).reshape(4, 4)
        >>> scd(x, x, x.T).shape
        ()
    """
    f, a, b = _gray_sources(fused, source_a, source_b, channel_axis)
    return _correlation(f - b, a) + _correlation(f - a, b)


@functools.partial(jax.jit, static_argnames=("channel_axis",))
def vif(fused: ArrayLike, source: ArrayLike, *, channel_axis: int | None = -1) -> jax.Array:
    """Pixel-domain visual information fidelity VIF(source -> fused).

    The multi-scale pixel-domain variant ("VIFp") of Sheikh & Bovik's published
    code: 4 scales; at scale s = 1..4 a Gaussian window of size
    ``N = 2^(5-s) + 1`` (17, 9, 5, 3) and sigma ``N/5``; from scale 2 on both
    images are first filtered ('valid') with that window and downsampled by 2.
    Local ('valid') moments give ``g = s_12 / s_1^2`` and
    ``s_v^2 = s_2^2 - g s_12`` (with the code's 1e-10 thresholds and clamps), and
    ``VIF = sum log10(1 + g^2 s_1^2 / (s_v^2 + sigma_n^2)) /
    sum log10(1 + s_1^2 / sigma_n^2)``, ``sigma_n^2 = 2``, summed over pixels
    and scales. The source is the reference and the fused image the distorted
    one (not symmetric). On gray images (RGB converted to unrounded luma), 0..255
    range, H, W >= 41. ``VIF(x, x) = 1``; higher is better. Returns 0 for a flat
    source.

    Args:
        fused: F, gray ``[..., H, W]`` or RGB ``[..., H, W, 3]``.
        source: the reference image, gray or RGB.
        channel_axis: band axis of RGB inputs; None declares both gray.

    Returns:
        float32 ``[...]``.

    References:
        H. R. Sheikh, A. C. Bovik, "Image information and visual quality", IEEE
        Trans. Image Process. 15(2):430-444 (2006).

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.arange(48.0 * 48).reshape(48, 48) % 251
        >>> round(float(vif(x, x)), 4)
        1.0
    """
    dist, ref = gray_inputs(("fused", "source"), (fused, source), channel_axis)
    dtype = ref.dtype
    num = jnp.zeros(ref.shape[:-2], dtype)
    den = jnp.zeros(ref.shape[:-2], dtype)
    axes = (-2, -1)
    for scale in range(1, 5):
        n = 2 ** (5 - scale) + 1
        k = gaussian_1d(n, n / 5.0, dtype)
        if scale > 1:
            both = valid_filter(k, ref.shape)(jnp.stack([ref, dist]))[..., ::2, ::2]
            ref, dist = both[0], both[1]
        if ref.shape[-2] < n or ref.shape[-1] < n:
            raise ValueError(
                f"vif needs gray images of at least 41x41; at scale {scale} the"
                f" image is {ref.shape[-2:]} (input shape {jnp.shape(source)})"
            )
        _, _, s1, s2, s12 = local_moments(k, ref, dist)
        s1 = jnp.maximum(s1, 0.0)
        s2 = jnp.maximum(s2, 0.0)

        g = s12 / (s1 + _VIF_EPS)
        sv = s2 - g * s12
        flat1 = s1 < _VIF_EPS
        g = jnp.where(flat1, 0.0, g)
        sv = jnp.where(flat1, s2, sv)
        s1 = jnp.where(flat1, 0.0, s1)
        flat2 = s2 < _VIF_EPS
        g = jnp.where(flat2, 0.0, g)
        sv = jnp.where(flat2, 0.0, sv)
        neg = g < 0
        sv = jnp.where(neg, s2, sv)
        g = jnp.where(neg, 0.0, g)
        sv = jnp.maximum(sv, _VIF_EPS)

        num = num + jnp.sum(jnp.log10(1 + g * g * s1 / (sv + _VIF_SIGMA_NSQ)), axis=axes)
        den = den + jnp.sum(jnp.log10(1 + s1 / _VIF_SIGMA_NSQ), axis=axes)
    return safe_div(num, den, 0.0)


@functools.partial(jax.jit, static_argnames=("channel_axis",))
def fusion_vif(
    fused: ArrayLike,
    source_a: ArrayLike,
    source_b: ArrayLike,
    *,
    channel_axis: int | None = -1,
) -> jax.Array:
    """Fusion VIF = VIF(A -> F) + VIF(B -> F), the sum over both sources.

    Each term is :func:`vif` with the source as reference. This is the simple
    sum used by several fusion benchmarks, not the VIFF metric of Han et al.
    (2013). Higher is better.

    Args:
        fused: F, gray ``[..., H, W]`` or RGB ``[..., H, W, 3]``.
        source_a: A, gray or RGB.
        source_b: B, gray or RGB.
        channel_axis: band axis of RGB inputs; None declares all gray.

    Returns:
        float32 ``[...]``.

    References:
        Sheikh & Bovik (2006), see :func:`vif`.

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.arange(48.0 * 48).reshape(48, 48) % 251
        >>> round(float(fusion_vif(x, x, x)), 4)
        2.0
    """
    f, a, b = _gray_sources(fused, source_a, source_b, channel_axis)
    # one VIF over the stacked pair: half the program of two separate calls
    both = vif(jnp.stack([f, f]), jnp.stack([a, b]), channel_axis=None)
    return both[0] + both[1]
