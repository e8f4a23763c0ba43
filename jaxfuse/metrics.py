"""Image-fusion evaluation criteria, in pure JAX.

Conventions shared by every function here:

* **Value range.** Images are given in the uint8 value range 0..255 (paper
  Table 1 and SPEC section 4). Any integer or float dtype is accepted; values
  are computed in float32 (a float64 input under ``jax.enable_x64`` stays
  float64). Nothing is rescaled: a [0, 1] image must be multiplied by 255
  first.
* **Layout.** Channels-last. ``F`` is the fused RGB image ``[..., H, W, 3]``,
  ``P`` the PET/functional image, RGB ``[..., H, W, 3]`` or gray
  ``[..., H, W]``, ``M`` the MRI, gray ``[..., H, W]``.
* **Single-image and same-shape metrics** (EN, AG, SD, SF, D, OP, PSNR, SSIM)
  take ``channel_axis: int | None = -1``: the axis holding the bands, moved
  last before computing; ``None`` declares a gray image ``[..., H, W]`` without
  a channel axis. The two images of D, OP, PSNR and SSIM must have equal
  shapes.
* **Gray-domain metrics** (MI, Qabf, SCD, VIF) compare gray images. Each input
  may be RGB or gray, told apart by rank: the gray rank is the smallest
  ``ndim`` among the inputs, and an input with one more dimension is RGB,
  converted by :func:`to_gray` along ``channel_axis``. If all inputs share one
  rank they are gray; should their ``channel_axis`` then have size 3 the call
  is ambiguous and raises (pass ``channel_axis=None`` to declare gray images).
* **Gray conversion** is BT.601 luma ``0.2989 R + 0.5870 G + 0.1140 B`` (the
  MATLAB ``rgb2gray`` weights), unrounded unless a metric says otherwise.
* **Batching.** Every metric reduces the image dimensions and keeps the leading
  ones: the result is a ``jax.Array`` of shape ``[...]`` (``[..., C]`` for the
  ``per_band`` variants). Leading dims must be equal between inputs (no
  broadcasting). All functions are pure and take options keyword-only; each
  public function is already a ``jax.jit`` (options that change shapes or
  control flow are static), composes under an outer ``jit`` or ``vmap``, and
  none changes global JAX configuration.
* **Histograms** (EN, MI) first round values (half to even, like
  ``jnp.round``) and clip them to the integers 0..255; they have no useful
  gradient. Divisions elsewhere use the "double where" (the denominator is made
  safe before dividing) so that gradients stay finite.

:func:`evaluate_all` computes the whole table at once and
:data:`HIGHER_IS_BETTER` tells the direction of each column.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = [
    "HIGHER_IS_BETTER",
    "LUMA_WEIGHTS",
    "QABF_CONSTANTS",
    "average_gradient",
    "entropy",
    "evaluate_all",
    "fusion_vif",
    "mutual_information",
    "mutual_information_pair",
    "overall_performance",
    "psnr",
    "qabf",
    "scd",
    "spatial_frequency",
    "spectral_discrepancy",
    "ssim",
    "standard_deviation",
    "to_gray",
    "vif",
]

#: BT.601 luma weights for (R, G, B), as in MATLAB ``rgb2gray``.
LUMA_WEIGHTS: tuple[float, float, float] = (0.2989, 0.5870, 0.1140)

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

#: Direction of every column returned by :func:`evaluate_all`.
HIGHER_IS_BETTER: dict[str, bool] = {
    "EN": True,
    "MI": True,
    "D": False,
    "AG": True,
    "OP": False,
    "SD": True,
    "SF": True,
    "PSNR": True,
    "SSIM": True,
    "Qabf": True,
    "SCD": True,
    "VIF": True,
}

_LEVELS = 256
_VIF_SIGMA_NSQ = 2.0
_VIF_EPS = 1e-10  # the thresholds of Sheikh & Bovik's published code


# --------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------


def _as_float(x: ArrayLike) -> jax.Array:
    """Converts to float32, or keeps a wider float dtype (float64 under x64)."""
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.floating):
        return x.astype(jnp.promote_types(x.dtype, jnp.float32))
    return x.astype(jnp.float32)


def _channels_last(x: jax.Array, channel_axis: int | None, name: str) -> jax.Array:
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


def _check_same_shape(names: Sequence[str], arrays: Sequence[jax.Array]) -> None:
    shapes = [a.shape for a in arrays]
    if any(s != shapes[0] for s in shapes):
        got = ", ".join(f"{n} {s}" for n, s in zip(names, shapes))
        raise ValueError(f"shapes must be equal, got {got}")


def _pair(
    x: ArrayLike, y: ArrayLike, channel_axis: int | None, names: tuple[str, str]
) -> tuple[jax.Array, jax.Array]:
    xa, ya = _as_float(x), _as_float(y)
    _check_same_shape(names, [xa, ya])
    return (
        _channels_last(xa, channel_axis, names[0]),
        _channels_last(ya, channel_axis, names[1]),
    )


def _gray_inputs(
    names: Sequence[str], images: Sequence[ArrayLike], channel_axis: int | None
) -> list[jax.Array]:
    """Applies the rank rule of the module docstring; returns gray [..., H, W]."""
    arrays = [_as_float(im) for im in images]
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
    _check_same_shape(names, grays)
    return grays


# --------------------------------------------------------------------------
# Numerical helpers
# --------------------------------------------------------------------------


def _safe_div(num: jax.Array, den: jax.Array, fallback: float) -> jax.Array:
    """``num / den`` where ``den > eps``, else ``fallback`` ("double where")."""
    ok = den > jnp.finfo(den.dtype).eps
    safe_den = jnp.where(ok, den, jnp.ones_like(den))
    return jnp.where(ok, num / safe_den, jnp.asarray(fallback, num.dtype))


def _safe_sqrt(x: jax.Array) -> jax.Array:
    """sqrt with a zero (not infinite) gradient at 0."""
    ok = x > 0
    return jnp.where(ok, jnp.sqrt(jnp.where(ok, x, jnp.ones_like(x))), 0.0)


def _quantize(x: jax.Array) -> jax.Array:
    """Rounds (half to even) and clips to the integers 0..255, as int32."""
    return jnp.clip(jnp.round(x), 0, _LEVELS - 1).astype(jnp.int32)


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


def _gaussian_1d(size: int, sigma, dtype) -> jax.Array:
    """Normalised 1-D Gaussian of ``size`` taps centred on the middle tap."""
    t = jnp.arange(size, dtype=dtype) - (size - 1) / 2
    k = jnp.exp(-0.5 * (t / jnp.asarray(sigma, dtype)) ** 2)
    return k / jnp.sum(k)


def _band_matrix(kernel: jax.Array, size: int) -> jax.Array:
    """``T`` of shape ``[size - n + 1, size]`` with ``(T @ v)[i] = sum_t k[t] v[i + t]``."""
    n = kernel.shape[0]
    offset = jnp.arange(size)[None, :] - jnp.arange(size - n + 1)[:, None]
    inside = (offset >= 0) & (offset < n)
    return jnp.where(inside, kernel[jnp.clip(offset, 0, n - 1)], 0.0)


def _valid_filter(kernel: jax.Array, shape: tuple[int, ...]):
    """'valid' correlation of ``[..., H, W]`` images with ``outer(kernel, kernel)``.

    The window is separable, so filtering is ``T_H @ x @ T_W^T`` with banded
    matrices built once here: two matmuls per image, quick to compile on every
    backend, at full float precision (no TF32 on GPUs). Returns the filter.
    """
    hi = jax.lax.Precision.HIGHEST
    t_h = _band_matrix(kernel, shape[-2])
    t_w_t = _band_matrix(kernel, shape[-1]).T

    def apply(x: jax.Array) -> jax.Array:
        y = jnp.matmul(x, t_w_t.astype(x.dtype), precision=hi)
        return jnp.matmul(t_h.astype(x.dtype), y, precision=hi)

    return apply


# --------------------------------------------------------------------------
# Gray conversion
# --------------------------------------------------------------------------


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
    x = _channels_last(_as_float(image), channel_axis, "image")
    if x.shape[-1] != 3:
        raise ValueError(f"to_gray needs 3 bands on channel_axis, got shape {x.shape}")
    wr, wg, wb = LUMA_WEIGHTS
    return wr * x[..., 0] + wg * x[..., 1] + wb * x[..., 2]


# --------------------------------------------------------------------------
# The paper's criteria (SPEC section 4)
# --------------------------------------------------------------------------


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
    x = _channels_last(_as_float(image), channel_axis, "image")
    size = math.prod(x.shape[-3:])

    def one(v):
        return _entropy_bits(jnp.bincount(v, length=_LEVELS), size, x.dtype)

    return _per_image(one, [_quantize(x)], 3)


def _mi_flat(a: jax.Array, b: jax.Array, dtype) -> jax.Array:
    """MI in bits of two flat int vectors in 0..255 (256x256 joint histogram)."""
    size = a.shape[0]
    joint = jnp.bincount(a * _LEVELS + b, length=_LEVELS * _LEVELS)
    joint2 = joint.reshape(_LEVELS, _LEVELS)
    h_a = _entropy_bits(joint2.sum(axis=1), size, dtype)
    h_b = _entropy_bits(joint2.sum(axis=0), size, dtype)
    return h_a + h_b - _entropy_bits(joint, size, dtype)


@functools.partial(jax.jit, static_argnames=("channel_axis",))
def mutual_information_pair(
    x: ArrayLike, y: ArrayLike, *, channel_axis: int | None = -1
) -> jax.Array:
    """Mutual information in bits of two gray images.

    Both images are rounded and clipped to the integers 0..255 (RGB inputs are
    first converted with :func:`to_gray`, see the rank rule in the module
    docstring); ``MI = H(X) + H(Y) - H(X, Y)`` from the 256x256 joint histogram
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
    xg, yg = _gray_inputs(("x", "y"), (x, y), channel_axis)
    dtype = xg.dtype
    return _per_image(
        lambda a, b: _mi_flat(a, b, dtype), [_quantize(xg), _quantize(yg)], 2
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
    f, m, p = _gray_inputs(("fused", "mri", "pet"), (fused, mri, pet), channel_axis)
    dtype = f.dtype

    def one(fv, mv, pv):
        return _mi_flat(fv, mv, dtype) + _mi_flat(fv, pv, dtype)

    return _per_image(one, [_quantize(f), _quantize(m), _quantize(p)], 2)


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
    if per_band and channel_axis is None:
        raise ValueError("per_band=True needs a channel axis (channel_axis is None)")
    f, p = _pair(fused, pet, channel_axis, ("fused", "pet"))
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
    if per_band and channel_axis is None:
        raise ValueError("per_band=True needs a channel axis (channel_axis is None)")
    x = _channels_last(_as_float(image), channel_axis, "image")
    if x.shape[-3] < 2 or x.shape[-2] < 2:
        raise ValueError(f"average_gradient needs H, W >= 2, got shape {x.shape}")
    base = x[..., :-1, :-1, :]
    d_row = x[..., 1:, :-1, :] - base
    d_col = x[..., :-1, 1:, :] - base
    band = jnp.mean(_safe_sqrt((d_row**2 + d_col**2) / 2), axis=(-3, -2))
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
    return _safe_div(d, ag, jnp.inf)


# --------------------------------------------------------------------------
# The field's standard suite
# --------------------------------------------------------------------------


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
    x = _channels_last(_as_float(image), channel_axis, "image")
    axes = (-3, -2, -1)
    mu = jnp.mean(x, axis=axes, keepdims=True)
    return _safe_sqrt(jnp.mean((x - mu) ** 2, axis=axes))


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
    x = _channels_last(_as_float(image), channel_axis, "image")
    if x.shape[-3] < 2 or x.shape[-2] < 2:
        raise ValueError(f"spatial_frequency needs H, W >= 2, got shape {x.shape}")
    axes = (-3, -2, -1)
    rf2 = jnp.mean((x[..., :, 1:, :] - x[..., :, :-1, :]) ** 2, axis=axes)
    cf2 = jnp.mean((x[..., 1:, :, :] - x[..., :-1, :, :]) ** 2, axis=axes)
    return _safe_sqrt(rf2 + cf2)


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
    xa, ya = _pair(x, y, channel_axis, ("x", "y"))
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
    xa, ya = _pair(x, y, channel_axis, ("x", "y"))
    if win_size < 1 or win_size % 2 == 0:
        raise ValueError(f"win_size must be a positive odd int, got {win_size}")
    if xa.shape[-3] < win_size or xa.shape[-2] < win_size:
        raise ValueError(
            f"ssim needs H, W >= win_size={win_size}, got shape {xa.shape}"
        )
    dtype = xa.dtype
    k = _gaussian_1d(win_size, sigma, dtype)

    xa, ya = jnp.moveaxis(xa, -1, -3), jnp.moveaxis(ya, -1, -3)  # [..., C, H, W]

    moments = _valid_filter(k, xa.shape)(jnp.stack([xa, ya, xa * xa, ya * ya, xa * ya]))
    mu_x, mu_y = moments[0], moments[1]
    var_x = moments[2] - mu_x * mu_x
    var_y = moments[3] - mu_y * mu_y
    cov = moments[4] - mu_x * mu_y
    dr = jnp.asarray(data_range, dtype)
    c1 = (0.01 * dr) ** 2
    c2 = (0.03 * dr) ** 2
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    smap = num / den
    return jnp.mean(smap, axis=(-3, -2, -1))


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
    g = _safe_sqrt(gx * gx + gy * gy)
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
    f, a, b = _gray_inputs(("fused", "source_a", "source_b"),
                           (fused, source_a, source_b), channel_axis)
    g_f, a_f = _edge_strength_orientation(f)
    g_a, a_a = _edge_strength_orientation(a)
    g_b, a_b = _edge_strength_orientation(b)
    w_a = g_a ** QABF_CONSTANTS["L"]
    w_b = g_b ** QABF_CONSTANTS["L"]
    q_af = _edge_preservation(g_a, a_a, g_f, a_f)
    q_bf = _edge_preservation(g_b, a_b, g_f, a_f)
    num = jnp.sum(q_af * w_a + q_bf * w_b, axis=(-2, -1))
    den = jnp.sum(w_a + w_b, axis=(-2, -1))
    return _safe_div(num, den, 0.0)


def _correlation(x: jax.Array, y: jax.Array) -> jax.Array:
    """Pearson correlation over the last two axes (0 if either is constant)."""
    xc = x - jnp.mean(x, axis=(-2, -1), keepdims=True)
    yc = y - jnp.mean(y, axis=(-2, -1), keepdims=True)
    num = jnp.sum(xc * yc, axis=(-2, -1))
    den = _safe_sqrt(jnp.sum(xc * xc, axis=(-2, -1)) * jnp.sum(yc * yc, axis=(-2, -1)))
    return _safe_div(num, den, 0.0)


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
    f, a, b = _gray_inputs(("fused", "source_a", "source_b"),
                           (fused, source_a, source_b), channel_axis)
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
    dist, ref = _gray_inputs(("fused", "source"), (fused, source), channel_axis)
    dtype = ref.dtype
    num = jnp.zeros(ref.shape[:-2], dtype)
    den = jnp.zeros(ref.shape[:-2], dtype)
    axes = (-2, -1)
    for scale in range(1, 5):
        n = 2 ** (5 - scale) + 1
        k = _gaussian_1d(n, n / 5.0, dtype)
        if scale > 1:
            both = _valid_filter(k, ref.shape)(jnp.stack([ref, dist]))[..., ::2, ::2]
            ref, dist = both[0], both[1]
        if ref.shape[-2] < n or ref.shape[-1] < n:
            raise ValueError(
                f"vif needs gray images of at least 41x41; at scale {scale} the"
                f" image is {ref.shape[-2:]} (input shape {jnp.shape(source)})"
            )
        moments = _valid_filter(k, ref.shape)(
            jnp.stack([ref, dist, ref * ref, dist * dist, ref * dist])
        )
        mu1, mu2 = moments[0], moments[1]
        s1 = jnp.maximum(moments[2] - mu1 * mu1, 0.0)
        s2 = jnp.maximum(moments[3] - mu2 * mu2, 0.0)
        s12 = moments[4] - mu1 * mu2

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
    return _safe_div(num, den, 0.0)


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
    f, a, b = _gray_inputs(("fused", "source_a", "source_b"),
                           (fused, source_a, source_b), channel_axis)
    # one VIF over the stacked pair: half the program of two separate calls
    both = vif(jnp.stack([f, f]), jnp.stack([a, b]), channel_axis=None)
    return both[0] + both[1]


# --------------------------------------------------------------------------
# The whole table
# --------------------------------------------------------------------------


def _evaluate_all(fused: jax.Array, mri: jax.Array, pet: jax.Array) -> dict[str, jax.Array]:
    f_axis = -1 if fused.ndim == mri.ndim + 1 else None
    p_axis = -1 if pet.ndim == mri.ndim + 1 else None
    f_gray = fused if f_axis is None else to_gray(fused)
    p_gray = pet if p_axis is None else to_gray(pet)
    # the two full-reference comparisons, stacked on a new leading axis
    f_pair, refs = jnp.stack([f_gray, f_gray]), jnp.stack([mri, p_gray])
    d = spectral_discrepancy(fused, pet, channel_axis=f_axis)
    ag = average_gradient(fused, channel_axis=f_axis)
    return {
        "EN": entropy(fused, channel_axis=f_axis),
        "MI": mutual_information(f_gray, mri, p_gray, channel_axis=None),
        "D": d,
        "AG": ag,
        "OP": _safe_div(d, ag, jnp.inf),
        "SD": standard_deviation(fused, channel_axis=f_axis),
        "SF": spatial_frequency(fused, channel_axis=f_axis),
        "PSNR": jnp.mean(psnr(f_pair, refs, channel_axis=None), axis=0),
        "SSIM": jnp.mean(ssim(f_pair, refs, channel_axis=None), axis=0),
        "Qabf": qabf(f_gray, mri, p_gray, channel_axis=None),
        "SCD": scd(f_gray, mri, p_gray, channel_axis=None),
        "VIF": fusion_vif(f_gray, mri, p_gray, channel_axis=None),
    }


_evaluate_all_jit = jax.jit(_evaluate_all)


def evaluate_all(fused: ArrayLike, mri: ArrayLike, pet: ArrayLike) -> dict[str, jax.Array]:
    """Every criterion at once, as one compiled function (one compile per shape).

    Keys are the CSV column names. On the paper's side (SPEC section 4):
    ``"EN"`` :func:`entropy` of F (bands pooled), ``"MI"``
    :func:`mutual_information`, ``"D"`` :func:`spectral_discrepancy` (F vs P),
    ``"AG"`` :func:`average_gradient` of F, ``"OP"`` :func:`overall_performance`
    (the D/AG assumption). The standard suite: ``"SD"``, ``"SF"`` of F (bands
    pooled); with ``Fg``, ``Pg`` the unrounded BT.601 luma of F and P:
    ``"PSNR"`` = mean of PSNR(Fg, M) and PSNR(Fg, Pg) (peak 255), ``"SSIM"`` =
    mean of SSIM(Fg, M) and SSIM(Fg, Pg), ``"Qabf"`` = Q^{AB/F}(Fg; M, Pg),
    ``"SCD"`` = SCD(Fg; M, Pg), ``"VIF"`` = VIF(M -> Fg) + VIF(Pg -> Fg).
    :data:`HIGHER_IS_BETTER` gives the direction of each key.

    Args:
      fused: F, RGB ``[..., H, W, 3]`` or gray ``[..., H, W]``, values 0..255.
      mri: M, gray ``[..., H, W]``.
      pet: P, same shape as ``fused`` (RGB, or gray for a gray fusion).

    Returns:
      dict of float32 ``[...]`` arrays, keys as in :data:`HIGHER_IS_BETTER`.

    Example:
      >>> import jax.numpy as jnp
      >>> m = jnp.arange(64.0 * 64).reshape(64, 64) % 256
      >>> p = jnp.stack([m, m.T, 255 - m], axis=-1)
      >>> sorted(evaluate_all(p, m, p)) == sorted(HIGHER_IS_BETTER)
      True
    """
    f, m, p = _as_float(fused), _as_float(mri), _as_float(pet)
    if m.ndim < 2:
        raise ValueError(f"mri must be gray [..., H, W], got shape {m.shape}")
    for name, a in (("fused", f), ("pet", p)):
        if a.ndim == m.ndim + 1:
            if a.shape[:-1] != m.shape or a.shape[-1] != 3:
                raise ValueError(
                    f"{name} {a.shape} must be RGB {m.shape + (3,)} or gray {m.shape}"
                    f" to match mri {m.shape}"
                )
        elif a.shape != m.shape:
            raise ValueError(
                f"{name} {a.shape} must be RGB {m.shape + (3,)} or gray {m.shape}"
                f" to match mri {m.shape}"
            )
    if f.shape != p.shape:
        raise ValueError(f"fused {f.shape} and pet {p.shape} must have the same shape")
    return _evaluate_all_jit(f, m, p)
