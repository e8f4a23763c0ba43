"""Colour spaces for fusing a functional image through its intensity.

Image contract: RGB arrays are ``[..., 3]`` floating point with values in [0, 1], channels last;
HSI arrays are ``[..., 3]`` holding hue in turns [0, 1), saturation in [0, 1] and intensity in
[0, 1]. Every function is elementwise over the leading dims, keeps the input's float dtype, works
under ``jax.jit``/``jax.vmap`` and has finite gradients everywhere, including black, white and
gray pixels (divisions and angles use the "double where" pattern: the denominator is made safe
before dividing).

Two intensity models are provided:

* The Gonzalez & Woods geometric HSI (:func:`rgb_to_hsi`, :func:`hsi_to_rgb`), the paper's.
  Because its H and S depend only on the ratios R:G:B, replacing I by F keeps the colour and
  scales the pixel: :func:`replace_intensity` is that exact, trig-free shortcut.
* The linear IHS of Tu et al. (2001) (:func:`rgb_to_ihs_linear`, :func:`ihs_linear_to_rgb`), where
  substituting the intensity adds ``F - I`` to each band (:func:`replace_intensity_linear`).

References:
    R. C. Gonzalez, R. E. Woods, *Digital Image Processing*, 3rd ed., section 6.2.3.
    T.-M. Tu, S.-C. Su, H.-C. Shyu, P. S. Huang, "A new look at IHS-like image fusion methods",
    Information Fusion 2(3), 2001.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxfuse.core.units import as_float

__all__ = [
    "rgb_to_intensity",
    "rgb_to_hsi",
    "hsi_to_rgb",
    "replace_intensity",
    "replace_intensity_planar",
    "rgb_to_ihs_linear",
    "ihs_linear_to_rgb",
    "replace_intensity_linear",
]

_TWO_PI = 2.0 * math.pi


def _check_rgb(x: jax.Array, name: str) -> None:
    if x.ndim < 1 or x.shape[-1] != 3:
        raise ValueError(f"{name} must have shape [..., 3], got {x.shape}")


def _as_rgb(rgb: ArrayLike) -> jax.Array:
    """``rgb`` as a float array, checked to be ``[..., 3]``."""
    rgb = as_float(rgb)
    _check_rgb(rgb, "rgb")
    return rgb


def _band_sum(rgb: jax.Array) -> jax.Array:
    """``R + G + B`` in a fixed order (a reduce may be reassociated differently per batch size)."""
    return rgb[..., 0] + rgb[..., 1] + rgb[..., 2]


def rgb_to_intensity(rgb: ArrayLike) -> jax.Array:
    """Intensity ``I = (R + G + B) / 3``.

    Args:
        rgb: ``[..., 3]`` float in [0, 1].

    Returns:
        ``[...]`` same float dtype, in [0, 1].
    """
    rgb = _as_rgb(rgb)
    return _band_sum(rgb) / 3.0


def rgb_to_hsi(rgb: ArrayLike) -> jax.Array:
    """RGB to Gonzalez-Woods HSI, hue in turns.

    ``H = theta / 2pi`` if ``B <= G`` else ``1 - theta / 2pi`` with
    ``theta = arccos(((R-G) + (R-B)) / 2 / sqrt((R-G)^2 + (R-B)(G-B)))``. The same angle is computed
    here as ``atan2(sqrt(3)/2 (G-B), R - (G+B)/2)``, which is algebraically identical (its squared
    radius equals the arccos denominator squared) and has bounded gradients at the pure-hue poles
    where arccos does not. Gray pixels (``R = G = B``) get ``H = 0``; black pixels get ``S = 0``.

    Args:
        rgb: ``[..., 3]`` float in [0, 1].

    Returns:
        ``[..., 3]`` same float dtype: hue in [0, 1), saturation in [0, 1], intensity in [0, 1].

    Example:
        >>> rgb_to_hsi(jnp.array([1.0, 0.0, 0.0]))  # pure red
        Array([0., 1., 0.33333334], dtype=float32)
    """
    rgb = _as_rgb(rgb)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    total = r + g + b
    intensity = total / 3.0

    nonzero = total > 0
    safe_total = jnp.where(nonzero, total, 1.0)
    saturation = jnp.where(nonzero, 1.0 - 3.0 * jnp.minimum(jnp.minimum(r, g), b) / safe_total, 0.0)

    x = r - 0.5 * (g + b)
    y = (math.sqrt(3.0) / 2.0) * (g - b)
    chromatic = (x != 0) | (y != 0)
    safe_x = jnp.where(chromatic, x, 1.0)
    safe_y = jnp.where(chromatic, y, 0.0)
    theta = jnp.arctan2(safe_y, safe_x)  # (-pi, pi]; negative exactly when B > G
    hue = jnp.where(theta < 0, theta + _TWO_PI, theta) / _TWO_PI
    hue = jnp.where(chromatic & (hue < 1.0), hue, 0.0)  # rounding may give exactly 1.0
    return jnp.stack([hue, saturation, intensity], axis=-1)


def hsi_to_rgb(hsi: ArrayLike) -> jax.Array:
    """Gonzalez-Woods HSI (hue in turns) to RGB.

    With ``h = 2 pi H`` reduced into its 120-degree sector ``h'``, ``x = I (1 - S)``,
    ``y = I (1 + S cos h' / cos(pi/3 - h'))`` and ``z = 3I - (x + y)``, the sectors [0, 1/3),
    [1/3, 2/3), [2/3, 1) give ``(R, G, B) = (y, z, x)``, ``(x, y, z)``, ``(z, x, y)``.
    No clipping: an HSI triple outside the RGB gamut maps outside [0, 1]; clip if needed.

    Args:
        hsi: ``[..., 3]`` float: hue in turns (taken modulo 1), saturation and intensity in [0, 1].

    Returns:
        ``[..., 3]`` same float dtype; in [0, 1] for in-gamut inputs.
    """
    hsi = as_float(hsi)
    _check_rgb(hsi, "hsi")
    hue, saturation, intensity = hsi[..., 0], hsi[..., 1], hsi[..., 2]
    hue = hue - jnp.floor(hue)
    sector = jnp.clip(jnp.floor(3.0 * hue), 0, 2)
    h = _TWO_PI * hue - sector * (_TWO_PI / 3.0)  # in [0, 2pi/3)
    # cos(pi/3 - h) >= 1/2 on that range, so this division is always safe.
    x = intensity * (1.0 - saturation)
    y = intensity * (1.0 + saturation * jnp.cos(h) / jnp.cos(math.pi / 3.0 - h))
    z = 3.0 * intensity - (x + y)
    in_rg = sector == 0
    in_gb = sector == 1
    r = jnp.where(in_rg, y, jnp.where(in_gb, x, z))
    g = jnp.where(in_rg, z, jnp.where(in_gb, y, x))
    b = jnp.where(in_rg, x, jnp.where(in_gb, z, y))
    return jnp.stack([r, g, b], axis=-1)


def replace_intensity(rgb: ArrayLike, intensity: ArrayLike) -> jax.Array:
    """Sets the Gonzalez-Woods intensity of ``rgb`` to ``intensity``, keeping hue and saturation.

    Exactly ``clip(hsi_to_rgb(H, S, F))`` with ``H, S`` from ``rgb``, without trigonometry: H and S
    depend only on the ratios R:G:B, so the result is ``rgb * F / I``; where ``I = 0`` (no hue,
    saturation taken as 0) it is the gray ``(F, F, F)``. The result is clipped to [0, 1].

    Args:
        rgb: ``[..., 3]`` float in [0, 1].
        intensity: ``[...]`` (broadcastable to ``rgb.shape[:-1]``) float, the new intensity F.

    Returns:
        ``[..., 3]`` float in [0, 1].
    """
    rgb = _as_rgb(rgb)
    new = jnp.asarray(intensity, dtype=rgb.dtype)[..., None]
    total = _band_sum(rgb)[..., None]
    lit = total > 0
    safe_total = jnp.where(lit, total, 1.0)
    # One division per pixel, then a multiply per band: a division by a broadcast value may be
    # rewritten as a reciprocal multiply in some compiled programs and not others, which would
    # break batch invariance. 3F / (R+G+B) <= 3 / 1.2e-38 stays finite for any normal total.
    gain = (3.0 * new) / safe_total
    out = jnp.where(lit, rgb * gain, new)
    return jnp.clip(out, 0.0, 1.0)


def replace_intensity_planar(planes: ArrayLike, intensity: ArrayLike) -> jax.Array:
    """:func:`replace_intensity` for channel-first images (the form the fusion kernel uses).

    Same values up to float rounding, written so that a compiler needs ONE materialised value per
    pixel: ``P = 3F / (R+G+B)``, or ``F`` for a black pixel, then ``out_c = P * R_c``, or
    ``P * 1`` for a black pixel, selected arithmetically (``R_c * lit + black``, exact in floats).
    XLA's fusion never duplicates a division into its consumers, so ``F`` is computed once per
    pixel rather than once per band; a ``where`` in place of the arithmetic select lets XLA
    re-split ``P`` and recompute ``F`` per band (1.5x slower on CPU).

    Args:
        planes: ``[..., 3, H, W]`` float in [0, 1] (R, G, B planes).
        intensity: ``[..., H, W]`` (broadcastable) float, the new intensity F.

    Returns:
        ``[..., 3, H, W]`` float in [0, 1].
    """
    planes = as_float(planes)
    if planes.ndim < 3 or planes.shape[-3] != 3:
        raise ValueError(f"planes must have shape [..., 3, H, W], got {planes.shape}")
    new = jnp.asarray(intensity, dtype=planes.dtype)
    total = planes[..., 0, :, :] + planes[..., 1, :, :] + planes[..., 2, :, :]
    lit = total > 0
    per_band = jnp.where(lit, 3.0 * new, new) / jnp.where(lit, total, 1.0)
    # lit: R_c * 1 + 0 = R_c exactly; black: 0 * 1 + 1 = 1 (and no gradient to the planes there,
    # as in replace_intensity, where a black pixel's output is F whatever its bands).
    bands = planes * lit.astype(planes.dtype)[..., None, :, :] + (~lit).astype(planes.dtype)[..., None, :, :]
    return jnp.clip(bands * per_band[..., None, :, :], 0.0, 1.0)


_SQRT2 = math.sqrt(2.0)
_SQRT6 = math.sqrt(6.0)


def rgb_to_ihs_linear(rgb: ArrayLike) -> jax.Array:
    """RGB to the linear IHS of Tu et al. (2001).

    ``I = (R + G + B) / 3``, ``v1 = (-R - G + 2B) / sqrt(6)``, ``v2 = (R - G) / sqrt(2)``.

    Args:
        rgb: ``[..., 3]`` float in [0, 1].

    Returns:
        ``[..., 3]`` same dtype: ``(I, v1, v2)``; I in [0, 1], v1, v2 signed.
    """
    rgb = _as_rgb(rgb)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return jnp.stack([(r + g + b) / 3.0, (2.0 * b - r - g) / _SQRT6, (r - g) / _SQRT2], axis=-1)


def ihs_linear_to_rgb(ihs: ArrayLike) -> jax.Array:
    """Inverse of :func:`rgb_to_ihs_linear` (the exact matrix inverse); no clipping.

    Args:
        ihs: ``[..., 3]`` float ``(I, v1, v2)``.

    Returns:
        ``[..., 3]`` same dtype RGB.
    """
    ihs = as_float(ihs)
    _check_rgb(ihs, "ihs")
    i, v1, v2 = ihs[..., 0], ihs[..., 1], ihs[..., 2]
    r = i - v1 / _SQRT6 + v2 / _SQRT2
    g = i - v1 / _SQRT6 - v2 / _SQRT2
    b = i + 2.0 * v1 / _SQRT6
    return jnp.stack([r, g, b], axis=-1)


def replace_intensity_linear(rgb: ArrayLike, intensity: ArrayLike) -> jax.Array:
    """Substitutes the linear-IHS intensity: ``clip(rgb + (F - I))``.

    Args:
        rgb: ``[..., 3]`` float in [0, 1].
        intensity: ``[...]`` (broadcastable to ``rgb.shape[:-1]``) float, the new intensity F.

    Returns:
        ``[..., 3]`` float in [0, 1].
    """
    rgb = _as_rgb(rgb)
    new = jnp.asarray(intensity, dtype=rgb.dtype)
    old = _band_sum(rgb) / 3.0
    return jnp.clip(rgb + (new - old)[..., None], 0.0, 1.0)
