"""The paper's criteria (Amini & Mostaar 2022, Table 1; SPEC section 4): EN, MI, D, AG and OP.

OP = D / AG is the project's labelled working assumption, not the paper's formula (the paper does
not define it). Values on the 0..255 level scale (:mod:`jaxfuse.metrics._levels`); layout and the
gray/RGB rank rule as in :mod:`jaxfuse.metrics._inputs`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxfuse.metrics._inputs import channels_last, gray_inputs, pair
from jaxfuse.metrics._levels import LEVELS, as_levels, quantize
from jaxfuse.metrics._numerics import safe_div, safe_sqrt

__all__ = [
    "average_gradient",
    "entropy",
    "mutual_information",
    "mutual_information_pair",
    "overall_performance",
    "spectral_discrepancy",
]


def _entropy_bits(counts: jax.Array, total: int, dtype) -> jax.Array:
    p = counts.astype(dtype) / total
    nz = p > 0
    return jnp.sum(jnp.where(nz, -p * jnp.log2(jnp.where(nz, p, 1.0)), 0.0))


def _per_image(fn, arrays: Sequence[jax.Array], image_ndim: int) -> jax.Array:
    """vmaps ``fn`` (flat 1-D arrays -> scalar) over the flattened leading dims."""
    batch = arrays[0].shape[: arrays[0].ndim - image_ndim]
    size = math.prod(arrays[0].shape[arrays[0].ndim - image_ndim :])
    flat = [a.reshape((math.prod(batch), size)) for a in arrays]
    return jax.vmap(fn)(*flat).reshape(batch)


@functools.partial(jax.jit, static_argnames=("channel_axis",))
def entropy(image: ArrayLike, *, channel_axis: int | None = -1) -> jax.Array:
    """Shannon entropy (EN) in bits of the 256-bin histogram of all values.

    Values are rounded and clipped to the integers 0..255, then all bands are
    pooled into one histogram (as MATLAB ``entropy`` does on an RGB array):
    ``EN = -sum_i p_i log2 p_i`` over the non-empty bins. Range [0, 8]; higher
    is better.

    Args:
        image: ``[..., H, W, C]`` (or ``[..., H, W]`` with ``channel_axis=None``),
            values 0..255.
        channel_axis: band axis, or None for a gray image.

    Returns:
        float32 ``[...]``.

    References:
        C. E. Shannon, "A mathematical theory of communication", Bell Syst. Tech.
        J. 27 (1948); MATLAB ``entropy``.

    Example:
        >>> import jax.numpy as jnp
        >>> float(entropy(jnp.zeros((4, 4, 3))))
        0.0
    """
    x = channels_last(as_levels(image), channel_axis, "image")
    size = math.prod(x.shape[-3:])

    def one(v):
        return _entropy_bits(jnp.bincount(v, length=LEVELS), size, x.dtype)

    return _per_image(one, [quantize(x)], 3)


def _mi_flat(a: jax.Array, b: jax.Array, dtype) -> jax.Array:
    """MI in bits of two flat int vectors in 0..255 (256x256 joint histogram)."""
    size = a.shape[0]
    joint = jnp.bincount(a * LEVELS + b, length=LEVELS * LEVELS)
    joint2 = joint.reshape(LEVELS, LEVELS)
    h_a = _entropy_bits(joint2.sum(axis=1), size, dtype)
    h_b = _entropy_bits(joint2.sum(axis=0), size, dtype)
    return h_a + h_b - _entropy_bits(joint, size, dtype)


@functools.partial(jax.jit, static_argnames=("channel_axis",))
def mutual_information_pair(
    x: ArrayLike, y: ArrayLike, *, channel_axis: int | None = -1
) -> jax.Array:
    """Mutual information in bits of two gray images.

    Both images are rounded and clipped to the integers 0..255 (RGB inputs are
    first converted with :func:`to_gray`, see the rank rule in
    :mod:`jaxfuse.metrics._inputs`); ``MI = H(X) + H(Y) - H(X, Y)`` from the 256x256 joint histogram
    of co-located pixels. Symmetric; ``MI(x, x) = entropy(x)``. Higher means
    more shared information.

    Args:
        x: gray ``[..., H, W]`` (or RGB ``[..., H, W, 3]``), values 0..255.
        y: same shape as ``x`` after gray conversion.
        channel_axis: band axis of RGB inputs; None declares both gray.

    Returns:
        float32 ``[...]``.

    References:
        T. M. Cover & J. A. Thomas, "Elements of Information Theory" (2006), ch. 2.

    Example:
        >>> import jax.numpy as jnp
        >>> float(mutual_information_pair(jnp.zeros((4, 4)), jnp.ones((4, 4))))
        0.0
    """
    xg, yg = gray_inputs(("x", "y"), (x, y), channel_axis)
    dtype = xg.dtype
    return _per_image(
        lambda a, b: _mi_flat(a, b, dtype), [quantize(xg), quantize(yg)], 2
    )


@functools.partial(jax.jit, static_argnames=("channel_axis",))
def mutual_information(
    fused: ArrayLike,
    mri: ArrayLike,
    pet: ArrayLike,
    *,
    channel_axis: int | None = -1,
) -> jax.Array:
    """Fusion mutual information MI = MI(F_gray, M) + MI(F_gray, P_gray), in bits.

    Each pair uses a 256x256 joint histogram of rounded values (see
    :func:`mutual_information_pair`); F and P, when RGB, are converted to
    BT.601 luma and then rounded. A gray input (one dimension fewer than an RGB
    one) is used as is. Higher is better.

    Args:
        fused: F, RGB ``[..., H, W, 3]`` or gray ``[..., H, W]``, values 0..255.
        mri: M, gray ``[..., H, W]``.
        pet: P, RGB ``[..., H, W, 3]`` or gray ``[..., H, W]``.
        channel_axis: band axis of the RGB inputs; None declares all gray.

    Returns:
        float32 ``[...]``.

    References:
        G. Qu, D. Zhang, P. Yan, "Information measure for performance of image
        fusion", Electronics Letters 38(7):313-315 (2002); SPEC section 4.

    Example:
        >>> import jax.numpy as jnp
        >>> mutual_information(jnp.zeros((8, 8, 3)), jnp.zeros((8, 8)),
        ...                    jnp.zeros((8, 8, 3))).shape
        ()
    """
    f, m, p = gray_inputs(("fused", "mri", "pet"), (fused, mri, pet), channel_axis)
    dtype = f.dtype

    def one(fv, mv, pv):
        return _mi_flat(fv, mv, dtype) + _mi_flat(fv, pv, dtype)

    return _per_image(one, [quantize(f), quantize(m), quantize(p)], 2)


def _check_per_band(per_band: bool, channel_axis: int | None) -> None:
    if per_band and channel_axis is None:
        raise ValueError("per_band=True needs a channel axis (channel_axis is None)")


@functools.partial(jax.jit, static_argnames=("per_band", "channel_axis",))
def spectral_discrepancy(
    fused: ArrayLike,
    pet: ArrayLike,
    *,
    per_band: bool = False,
    channel_axis: int | None = -1,
) -> jax.Array:
    """Spectral discrepancy D = mean over bands k of mean_{i,j} |F_k - P_k|.

    Mean absolute difference in the 0..255 range, per band, then averaged over
    the bands. Lower is better (0 for identical images).

    Args:
        fused: F ``[..., H, W, C]``, values 0..255.
        pet: P, same shape as ``fused``.
        per_band: return the per-band values ``[..., C]`` instead of their mean.
        channel_axis: band axis, or None for gray images (then ``per_band`` is
            not allowed).

    Returns:
        float32 ``[...]``, or ``[..., C]`` when ``per_band``.

    References:
        Amini & Mostaar, J Med Signals Sens 12:25-31 (2022), Table 1; SPEC
        section 4.

    Example:
        >>> import jax.numpy as jnp
        >>> float(spectral_discrepancy(jnp.ones((4, 4, 3)), jnp.zeros((4, 4, 3))))
        1.0
    """
    _check_per_band(per_band, channel_axis)
    f, p = pair(fused, pet, channel_axis, ("fused", "pet"))
    band = jnp.mean(jnp.abs(f - p), axis=(-3, -2))
    return band if per_band else jnp.mean(band, axis=-1)


@functools.partial(jax.jit, static_argnames=("per_band", "channel_axis",))
def average_gradient(
    image: ArrayLike, *, per_band: bool = False, channel_axis: int | None = -1
) -> jax.Array:
    """Average gradient AG of an image.

    ``AG_k = mean_{i<H-1, j<W-1} sqrt(((F(i+1,j)-F(i,j))^2 + (F(i,j+1)-F(i,j))^2) / 2)``
    over the ``(H-1)(W-1)`` interior, then the mean over bands. Forward
    differences, 0..255 range. Higher is better (more detail). The square root
    has a zero gradient where both differences vanish.

    Args:
        image: ``[..., H, W, C]`` (or ``[..., H, W]`` with ``channel_axis=None``),
            H, W >= 2.
        per_band: return ``[..., C]`` instead of the mean over bands.
        channel_axis: band axis, or None for a gray image.

    Returns:
        float32 ``[...]``, or ``[..., C]`` when ``per_band``.

    References:
        Amini & Mostaar (2022); SPEC section 4.

    Example:
        >>> import jax.numpy as jnp
        >>> float(average_gradient(jnp.zeros((4, 4, 3))))
        0.0
    """
    _check_per_band(per_band, channel_axis)
    x = channels_last(as_levels(image), channel_axis, "image")
    if x.shape[-3] < 2 or x.shape[-2] < 2:
        raise ValueError(f"average_gradient needs H, W >= 2, got shape {x.shape}")
    base = x[..., :-1, :-1, :]
    d_row = x[..., 1:, :-1, :] - base
    d_col = x[..., :-1, 1:, :] - base
    band = jnp.mean(safe_sqrt((d_row**2 + d_col**2) / 2), axis=(-3, -2))
    return band if per_band else jnp.mean(band, axis=-1)


@functools.partial(jax.jit, static_argnames=("channel_axis",))
def overall_performance(
    fused: ArrayLike, pet: ArrayLike, *, channel_axis: int | None = -1
) -> jax.Array:
    """Overall performance OP = D / AG -- a working ASSUMPTION, not the paper's formula.

    The paper (Amini & Mostaar 2022, Table 1) reports an "overall performance"
    column without defining it, and its sources could not be checked. This
    function implements the project's working assumption (SPEC section 4):
    ``OP = spectral_discrepancy(F, P) / average_gradient(F)`` -- spectral
    distortion per unit of spatial detail. Lower is better. Returns +inf where
    AG <= float eps (a flat fused image); the division is gradient-safe.

    Args:
        fused: F ``[..., H, W, C]``, values 0..255.
        pet: P, same shape.
        channel_axis: band axis, or None for gray images.

    Returns:
        float32 ``[...]``.

    References:
        SPEC section 4 (assumption to be tested against the paper's rows).

    Example:
        >>> import jax.numpy as jnp
        >>> float(overall_performance(jnp.zeros((4, 4, 3)), jnp.ones((4, 4, 3))))
        inf
    """
    d = spectral_discrepancy(fused, pet, channel_axis=channel_axis)
    ag = average_gradient(fused, channel_axis=channel_axis)
    return _op_from(d, ag)


def _op_from(d: jax.Array, ag: jax.Array) -> jax.Array:
    """OP from D and AG, the D / AG assumption, stated once: +inf where AG <= eps, gradient-safe."""
    return safe_div(d, ag, jnp.inf)
