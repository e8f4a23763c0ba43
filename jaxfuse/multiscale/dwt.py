"""The multilevel 2-D orthogonal discrete wavelet transform, periodization boundary, in pure JAX.

Matches ``pywt.wavedec2(image, wavelet, mode="periodization")`` coefficient for coefficient
(Daubechies db2 by default; "haar"/"db1" too). Adding an orthogonal wavelet is one entry of
:data:`WAVELETS`. Image contract: :mod:`jaxfuse.multiscale.base`.

References:
    I. Daubechies, "Orthonormal bases of compactly supported wavelets", Comm. Pure Appl. Math.
    41(7):909-996, 1988.
    S. G. Mallat, "A theory for multiresolution signal decomposition: the wavelet
    representation", IEEE Trans. PAMI 11(7):674-693, 1989.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxfuse.multiscale._filtering import correlate, upsample
from jaxfuse.multiscale.base import MultiscaleTransform, as_image, check_levels, merge_first, split_first

__all__ = ["DWT", "WAVELETS", "dwt2", "idwt2"]

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
    return correlate(xp[None], kernels[:, None, ::-1, ::-1], stride=2)


def _synthesis2(bands: jax.Array, kernels: np.ndarray) -> jax.Array:
    """Inverse of :func:`_analysis2`: ``[4, h, w]`` -> ``[2h, 2w]``."""
    f = kernels.shape[-1]
    s = f // 2
    h, w = bands.shape[-2:]
    u = jnp.pad(upsample(bands, (2 * h, 2 * w)), ((0, 0), (s, f - 1 - s), (s, f - 1 - s)),
                mode="wrap")
    return correlate(u, kernels[None], stride=1)[0]


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
    x = as_image(image)
    levels = check_levels(levels)
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
    x = as_image(coeffs[0], "cA")
    for k, detail in enumerate(coeffs[1:], start=1):
        if len(detail) != 3:
            raise ValueError(f"coeffs[{k}] must be a (cH, cV, cD) triple; got {len(detail)} items")
        ch, cv, cd = (as_image(c, f"coeffs[{k}]") for c in detail)
        if not ch.shape == cv.shape == cd.shape == x.shape:
            raise ValueError(f"coeffs[{k}] detail shapes {ch.shape}, {cv.shape}, {cd.shape} must "
                             f"equal the approximation shape {x.shape}")
        x = _synthesis2(jnp.stack([x, ch, cv, cd]), kernels)
    return x


#: The DWT for the fusion rule: the low-pass part is ``cA_n`` (first entry); takes ``wavelet``.
DWT = MultiscaleTransform(forward=dwt2, inverse=idwt2, split=split_first, merge=merge_first,
                          options=("wavelet",))
