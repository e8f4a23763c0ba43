"""Multiscale transforms and the classic multiscale fusion rule, in pure JAX.

This module holds the transform-domain baselines of SPEC section 5: the Laplacian pyramid, the
2-D discrete wavelet transform (Daubechies db2 by default) and the classic fusion rule "average
the low-pass band, keep the larger-magnitude high-pass coefficient".

Image contract:
  * One single-channel float image ``[H, W]`` per call (float32 typical; float64 works under
    ``jax.enable_x64``); values typically in [0, 1]. Integer images are converted at the edge of
    the library (image I/O), not here: a non-float input raises ``TypeError``.
  * Every function is written for ONE image and is batched by the caller with ``jax.vmap``.
  * Every function works under ``jax.jit`` (options are Python values: mark them static) and
    ``jax.vmap``, and is differentiable. Options are keyword-only.
  * Coefficients are pytrees of arrays of the input's dtype. Outputs are never clipped.

Plugging in a new transform (curvelet, contourlet, NSCT, ...): write its ``forward`` and
``inverse`` over a pytree of coefficients, say how the pytree splits into a low-pass part and a
high-pass part, and add one entry to :data:`TRANSFORMS`::

    TRANSFORMS["nsct"] = MultiscaleTransform(
        forward=functools.partial(nsct, n_directions=8),  # forward(image, *, levels)
        inverse=functools.partial(insct, n_directions=8),  # inverse(coeffs)
        split=lambda c: (c[0], c[1:]), merge=lambda low, high: [low, *high])

:func:`fuse_multiscale` and :func:`fuse_coefficients` then work unchanged: the rule is applied
leaf by leaf with ``jax.tree.map``. A :class:`MultiscaleTransform` value can also be passed as
``transform=`` directly, without registering it.

References:
  P. J. Burt and E. H. Adelson, "The Laplacian pyramid as a compact image code", IEEE Trans.
  Commun. 31(4):532-540, 1983.
  I. Daubechies, "Orthonormal bases of compactly supported wavelets", Comm. Pure Appl. Math.
  41(7):909-996, 1988.
  S. G. Mallat, "A theory for multiresolution signal decomposition: the wavelet
  representation", IEEE Trans. PAMI 11(7):674-693, 1989.
  H. Li, B. S. Manjunath and S. K. Mitra, "Multisensor image fusion using the wavelet
  transform", Graphical Models and Image Processing 57(3):235-245, 1995.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = [
    "MultiscaleTransform",
    "TRANSFORMS",
    "WAVELETS",
    "laplacian_pyramid",
    "reconstruct_laplacian_pyramid",
    "dwt2",
    "idwt2",
    "fuse_coefficients",
    "fuse_multiscale",
    "fuse_laplacian",
    "fuse_dwt",
]

# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _as_image(x: Any, name: str = "image") -> jax.Array:
    """Returns ``x`` as a float ``[H, W]`` array, or raises with the shape/dtype received."""
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(
            f"{name} must be one single-channel image [H, W] (batch with jax.vmap); "
            f"got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{name} must have a float dtype; got {x.dtype} (convert at the edge)")
    return x


def _check_levels(levels: Any) -> int:
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
        raise ValueError(f"levels must be a positive Python int; got {levels!r}")
    return levels


# --------------------------------------------------------------------------------------------
# Laplacian pyramid (Burt & Adelson 1983)
# --------------------------------------------------------------------------------------------

# The classic 5-tap binomial generating kernel, [1, 4, 6, 4, 1] / 16 (exact in binary).
_BINOMIAL5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16


def _correlate(x: jax.Array, kernel: np.ndarray, stride: int = 1) -> jax.Array:
    """Valid 2-D cross-correlation of ``x [C, H, W]`` with ``kernel [O, C, kh, kw]`` -> [O, h, w].

    Float32 runs at full precision on every backend (no TF32/bf16 passes).
    """
    out = lax.conv_general_dilated(
        x[None], jnp.asarray(kernel, x.dtype), window_strides=(stride, stride),
        padding="VALID", precision=lax.Precision.HIGHEST)
    return out[0]


def _upsample(x: jax.Array, shape: Sequence[int]) -> jax.Array:
    """Zero insertion on the last two axes: ``x[..., i, j]`` goes to ``[..., 2i, 2j]``."""
    zero = jnp.zeros((), x.dtype)
    config = [(0, 0, 0)] * (x.ndim - 2) + [
        (0, n - (2 * m - 1), 1) for n, m in zip(shape, x.shape[-2:])]
    return lax.pad(x, zero, config)


def _blur(x: jax.Array, gain: float = 1.0, stride: int = 1) -> jax.Array:
    """Separable binomial blur of ``[H, W]``, mirror boundary ``d c b | a b c d | c b a``.

    (NumPy ``reflect``, SciPy ``mirror``.) ``stride=2`` keeps only even rows and columns.
    """
    taps = gain * _BINOMIAL5
    kernel = np.outer(taps, taps)[None, None]
    return _correlate(jnp.pad(x, 2, mode="reflect")[None], kernel, stride)[0]


def _reduce(x: jax.Array) -> jax.Array:
    """Blur, then keep every second row and column: [H, W] -> [ceil(H/2), ceil(W/2)]."""
    return _blur(x, stride=2)


def _expand(x: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """Zero insertion to the exact finer ``shape``, then blur with 4x the kernel (2x per axis)."""
    return _blur(_upsample(x, shape), gain=2.0)


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
    x = _as_image(image)
    levels = _check_levels(levels)
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
    levels = [_as_image(p, "pyramid level") for p in pyramid]
    expected = _pyramid_shapes(levels[0].shape, len(levels) - 1)
    got = [p.shape for p in levels]
    if got != expected:
        raise ValueError(f"pyramid level shapes {got} do not halve level to level; "
                         f"expected {expected}")
    x = levels[-1]
    for band in reversed(levels[:-1]):
        x = band + _expand(x, band.shape)
    return x


# --------------------------------------------------------------------------------------------
# 2-D discrete wavelet transform, periodization boundary (Mallat 1989)
# --------------------------------------------------------------------------------------------

_SQRT2 = math.sqrt(2.0)
_SQRT3 = math.sqrt(3.0)

#: Orthogonal wavelets: name -> decomposition low-pass filter (PyWavelets ``dec_lo`` order).
#: The high-pass filter and the synthesis filters follow from it (quadrature mirror). Adding
#: an orthogonal wavelet is one entry.
WAVELETS: dict[str, tuple[float, ...]] = {
    "haar": (1 / _SQRT2, 1 / _SQRT2),
    "db1": (1 / _SQRT2, 1 / _SQRT2),
    # Daubechies 1988, closed form: (1+s3, 3+s3, 3-s3, 1-s3) / (4 sqrt 2), time-reversed.
    "db2": tuple(c / (4 * _SQRT2) for c in (1 - _SQRT3, 3 - _SQRT3, 3 + _SQRT3, 1 + _SQRT3)),
}


def _filters(wavelet: str) -> tuple[np.ndarray, np.ndarray]:
    """(dec_lo, dec_hi) for ``wavelet``; dec_hi[k] = (-1)**(k+1) dec_lo[F-1-k]."""
    try:
        lo = np.asarray(WAVELETS[wavelet], np.float64)
    except (KeyError, TypeError):
        raise ValueError(f"unknown wavelet {wavelet!r}; known: {sorted(WAVELETS)}") from None
    hi = lo[::-1] * (-1.0) ** np.arange(1, len(lo) + 1)
    return lo, hi


def _band_kernels(wavelet: str) -> np.ndarray:
    """``[4, F, F]`` outer products (axis-0 filter x axis-1 filter) in the order A, H, V, D."""
    lo, hi = _filters(wavelet)
    return np.stack([np.outer(f0, f1) for f0, f1 in ((lo, lo), (hi, lo), (lo, hi), (hi, hi))])


# Periodized analysis along one axis of length N (PyWavelets "periodization"):
#   a[i] = sum_j h[j] x[(2i + F/2 - j) mod N],
# a stride-2 correlation with the reversed filter on x wrapped by (F - 1 - F/2, F/2 - 1).
# Synthesis is its adjoint (the transform is orthogonal):
#   x[n] = sum_j h[j] u[(n - F/2 + j) mod N], u = a with zeros inserted,
# a correlation with the filter itself on u wrapped by (F/2, F - 1 - F/2).


def _analysis2(x: jax.Array, kernels: np.ndarray) -> jax.Array:
    """One level: ``[H, W]`` -> ``[4, H/2, W/2]`` (cA, cH, cV, cD)."""
    f = kernels.shape[-1]
    s = f // 2
    xp = jnp.pad(x, (f - 1 - s, s - 1), mode="wrap")
    return _correlate(xp[None], kernels[:, None, ::-1, ::-1], stride=2)


def _synthesis2(bands: jax.Array, kernels: np.ndarray) -> jax.Array:
    """Inverse of :func:`_analysis2`: ``[4, h, w]`` -> ``[2h, 2w]``."""
    f = kernels.shape[-1]
    s = f // 2
    h, w = bands.shape[-2:]
    u = jnp.pad(_upsample(bands, (2 * h, 2 * w)), ((0, 0), (s, f - 1 - s), (s, f - 1 - s)),
                mode="wrap")
    return _correlate(u, kernels[None], stride=1)[0]


def dwt2(image: jax.typing.ArrayLike, *, wavelet: str = "db2", levels: int = 4) -> list[Any]:
    """Multilevel 2-D orthogonal DWT with periodization boundary.

    Matches ``pywt.wavedec2(image, wavelet, mode="periodization", level=levels)`` coefficient
    for coefficient, in the same layout.

    Args:
      image: ``[H, W]`` float image, ``H`` and ``W`` divisible by ``2**levels``.
      wavelet: a key of :data:`WAVELETS` ("haar", "db1", "db2").
      levels: decomposition levels (static Python int >= 1).

    Returns:
      ``[cA_n, (cH_n, cV_n, cD_n), ..., (cH_1, cV_1, cD_1)]`` (coarsest first), arrays of
      ``image``'s dtype, level ``k`` of shape ``[H/2**k, W/2**k]``. ``cH`` is the detail along
      axis 0 (rows) and approximation along axis 1, ``cV`` the converse, ``cD`` detail in both.

    Raises:
      ValueError: ``image`` is not 2-D, a size is not divisible by ``2**levels``, or the
        wavelet is unknown.

    Example:
      >>> import jax.numpy as jnp
      >>> c = dwt2(jnp.ones((256, 256)), levels=4)
      >>> c[0].shape, len(c), c[1][0].shape, c[-1][0].shape
      ((16, 16), 5, (16, 16), (128, 128))

    References:
      Daubechies, Comm. Pure Appl. Math. 41(7):909-996, 1988; Mallat, IEEE Trans. PAMI
      11(7):674-693, 1989.
    """
    x = _as_image(image)
    levels = _check_levels(levels)
    kernels = _band_kernels(wavelet)
    h, w = x.shape
    if h % 2**levels or w % 2**levels:
        raise ValueError(f"dwt2: image shape {x.shape} must have H and W divisible by "
                         f"2**levels = {2**levels} (levels={levels})")
    details = []
    for _ in range(levels):
        x, ch, cv, cd = _analysis2(x, kernels)
        details.append((ch, cv, cd))
    return [x, *reversed(details)]


def idwt2(coeffs: Sequence[Any], *, wavelet: str = "db2") -> jax.Array:
    """Inverse of :func:`dwt2` (perfect reconstruction up to float rounding).

    Args:
      coeffs: ``[cA_n, (cH_n, cV_n, cD_n), ..., (cH_1, cV_1, cD_1)]`` as returned by
        :func:`dwt2` or ``pywt.wavedec2(..., mode="periodization")``; the three details of a
        level have the shape of the current approximation.
      wavelet: a key of :data:`WAVELETS`; must be the one used for the decomposition.

    Returns:
      ``[H, W]`` image, ``H, W`` twice the shape of the finest details.

    Raises:
      ValueError: malformed ``coeffs`` (shapes printed) or unknown wavelet.

    Example:
      >>> import jax.numpy as jnp
      >>> x = jnp.linspace(0, 1, 64 * 32).reshape(64, 32)
      >>> bool(jnp.allclose(idwt2(dwt2(x, levels=3)), x, atol=1e-6))
      True
    """
    kernels = _band_kernels(wavelet)
    if len(coeffs) < 2:
        raise ValueError(f"coeffs must hold cA_n and >= 1 detail level; got {len(coeffs)} items")
    x = _as_image(coeffs[0], "cA")
    for k, detail in enumerate(coeffs[1:], start=1):
        if len(detail) != 3:
            raise ValueError(f"coeffs[{k}] must be a (cH, cV, cD) triple; got {len(detail)} items")
        ch, cv, cd = (_as_image(c, f"coeffs[{k}]") for c in detail)
        if not ch.shape == cv.shape == cd.shape == x.shape:
            raise ValueError(f"coeffs[{k}] detail shapes {ch.shape}, {cv.shape}, {cd.shape} must "
                             f"equal the approximation shape {x.shape}")
        x = _synthesis2(jnp.stack([x, ch, cv, cd]), kernels)
    return x


# --------------------------------------------------------------------------------------------
# Registry and the classic fusion rule
# --------------------------------------------------------------------------------------------


class MultiscaleTransform(NamedTuple):
    """A multiscale transform as seen by the fusion rule.

    Attributes:
      forward: ``forward(image, *, levels, **options) -> coeffs``, ``image`` ``[H, W]``,
        ``coeffs`` any pytree of arrays.
      inverse: ``inverse(coeffs, **options) -> image``.
      split: ``coeffs -> (lowpass, highpass)``, two pytrees.
      merge: ``(lowpass, highpass) -> coeffs``, the inverse of ``split``.
      options: names of the keyword options of :func:`fuse_multiscale` (besides ``levels``)
        that ``forward`` and ``inverse`` take, e.g. ``("wavelet",)``.
    """

    forward: Callable[..., Any]
    inverse: Callable[..., jax.Array]
    split: Callable[[Any], tuple[Any, Any]]
    merge: Callable[[Any, Any], Any]
    options: tuple[str, ...] = ()


#: Registered transforms, by the name :func:`fuse_multiscale` takes.
TRANSFORMS: dict[str, MultiscaleTransform] = {
    "laplacian": MultiscaleTransform(
        forward=laplacian_pyramid,
        inverse=reconstruct_laplacian_pyramid,
        split=lambda c: (c[-1], list(c[:-1])),
        merge=lambda low, high: [*high, low],
    ),
    "dwt": MultiscaleTransform(
        forward=dwt2,
        inverse=idwt2,
        split=lambda c: (c[0], list(c[1:])),
        merge=lambda low, high: [low, *high],
        options=("wavelet",),
    ),
}


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
      transform: a key of :data:`TRANSFORMS` or a :class:`MultiscaleTransform` (for its
        ``split`` and ``merge``).

    Returns:
      The fused coefficients, same structure.

    Example:
      >>> import jax.numpy as jnp
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
      transform: "laplacian", "dwt", another key of :data:`TRANSFORMS`, or a
        :class:`MultiscaleTransform`. Static under ``jax.jit``.
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
    a, b = _as_image(a, "a"), _as_image(b, "b")
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
      wavelet: a key of :data:`WAVELETS` (static).

    Returns:
      ``[H, W]`` fused image, not clipped.

    Example:
      >>> import jax.numpy as jnp
      >>> fuse_dwt(jnp.zeros((64, 64)), jnp.ones((64, 64))).shape
      (64, 64)
    """
    return fuse_multiscale(a, b, transform="dwt", levels=levels, wavelet=wavelet)
