"""Nonsubsampled contourlet transform (NSCT, da Cunha, Zhou & Do 2006), in pure JAX.

The NSCT is a shift-invariant, redundant multiscale and multidirectional frame: a nonsubsampled
pyramid (NSP) splits the image into a low-pass band and ``levels`` band-pass bands, and a
nonsubsampled directional filter bank (NSDFB) splits each band-pass band into ``2**l`` directional
subbands. No band is decimated: every subband has the image's size. The filters (the defaults of
the authors' toolbox, "maxflat" pyramid and "dmaxflat7" directional pair) and the NSDFB tree are
designed in :mod:`jaxfuse.multiscale.nsfb`; this module applies them.

Conventions:
    * Boundary: periodic. Every filter is applied as its exact frequency response (DTFT sampled on
      the FFT grid): forward ``c_k = ifft2(fft2(x) H_k)``, inverse ``x = ifft2(sum_k fft2(c_k) G_k)``
      with ``sum_k H_k G_k = 1`` at every frequency. All responses are real and even, so outputs
      are real. (The toolbox filters in space with symmetric extension; this implementation is
      shift-invariant under circular shifts and exact for any image size.)
    * Orientation: the nominal orientation of a subband is the direction of its passband's
      frequency vector, ``theta = atan2(omega_row, omega_col)`` in degrees in ``[0, 180)``, measured
      from the column (x, rightwards) axis towards the row (y, downwards) axis; a grating
      ``cos(2 pi f (x cos(theta) + y sin(theta)))`` peaks there; edges in the subband run at
      ``theta + 90``. See :func:`nsct_orientations`.
    * Directions: ``directions[i]`` is the number of NSDFB stages ``l`` (``2**l`` subbands) of the
      ``i``-th band-pass level, coarse to fine, as in the toolbox. Default for ``levels=4``:
      ``(2, 3, 3, 4)``, i.e. 4, 8, 8, 16 subbands (the paper's experiments).

Image contract: :mod:`jaxfuse.multiscale.base`; jit-able (options static), differentiable; outputs
have the input's dtype and are not clipped.

References:
    A. L. da Cunha, J. Zhou and M. N. Do, "The nonsubsampled contourlet transform: theory, design,
    and applications", IEEE Trans. Image Process. 15(10):3089-3101, 2006.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxfuse.multiscale.base import MultiscaleTransform, as_image, check_levels, merge_first, split_first
from jaxfuse.multiscale.nsfb import dmaxflat, filter_pair, subband_responses

# dmaxflat and filter_pair stay importable from here (jaxfuse.nsct.filter_pair).
__all__ = [
    "DEFAULT_DIRECTIONS",
    "NSCT",
    "dmaxflat",
    "filter_pair",
    "insct",
    "nsct",
    "nsct_filters",
    "nsct_orientations",
]

#: NSDFB stages per band-pass level, coarse to fine, for ``levels=4`` (4, 8, 8, 16 subbands).
DEFAULT_DIRECTIONS: tuple[int, ...] = (2, 3, 3, 4)

_MAX_STAGES = 6  # 64 directions per level; more is never useful at image sizes here


@functools.lru_cache(maxsize=8)
def _rfft_bank(h: int, w: int, directions: tuple[int, ...], dtype: str):
    """``[K, h, w//2+1]`` analysis and synthesis responses on the rfft2 grid, in ``dtype``."""
    w1 = 2 * np.pi * np.fft.fftfreq(h)[:, None]
    w2 = 2 * np.pi * np.fft.rfftfreq(w)[None, :]
    analysis, synthesis = subband_responses(w1, w2, directions)
    return np.stack(analysis).astype(dtype), np.stack(synthesis).astype(dtype)


# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------


def _default_directions(levels: int) -> tuple[int, ...]:
    if levels <= len(DEFAULT_DIRECTIONS):
        return DEFAULT_DIRECTIONS[-levels:]
    return (DEFAULT_DIRECTIONS[0],) * (levels - len(DEFAULT_DIRECTIONS)) + DEFAULT_DIRECTIONS


def _check_directions(directions: Any, levels: int) -> tuple[int, ...]:
    if directions is None:
        return _default_directions(levels)
    try:
        dirs = tuple(directions)
    except TypeError:
        raise ValueError(f"directions must be a sequence of ints; got {directions!r}") from None
    if len(dirs) != levels or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= _MAX_STAGES for d in dirs):
        raise ValueError(
            f"directions must hold levels={levels} ints in [0, {_MAX_STAGES}] (NSDFB stages per "
            f"band-pass level, coarse to fine); got {directions!r}")
    return dirs


def _compute_dtype(dtype) -> np.dtype:
    """float32 or float64: the FFT's real dtype for ``dtype`` (half precisions go to float32)."""
    return np.dtype(jnp.promote_types(dtype, jnp.float32))


# --------------------------------------------------------------------------------------------
# Public transform
# --------------------------------------------------------------------------------------------


def nsct(image: jax.typing.ArrayLike, *, levels: int = 4,
         directions: Sequence[int] | None = None) -> list[Any]:
    """Nonsubsampled contourlet transform of one image (periodic boundary).

    Args:
        image: ``[H, W]`` float image, ``H, W >= 2**levels``.
        levels: number of pyramid (band-pass) levels, static Python int >= 1.
        directions: NSDFB stages per band-pass level, coarse to fine (level ``i`` gets
            ``2**directions[i]`` subbands; 0 keeps the band undivided), length ``levels``, static.
            Default: ``(2, 3, 3, 4)`` for 4 levels (the last ``levels`` entries of it for fewer; extra
            coarse levels get 2).

    Returns:
        ``[lowpass, level_1, ..., level_levels]``, coarsest band-pass level first; ``lowpass`` is an
        ``[H, W]`` array and each level a list of ``2**directions[i]`` ``[H, W]`` arrays ordered by
        nominal orientation (:func:`nsct_orientations`). All of ``image``'s dtype.

    Raises:
        ValueError: ``image`` is not 2-D or too small, bad ``levels`` or ``directions``.
        TypeError: ``image`` is not a float array.

    Example:
        >>> import jax.numpy as jnp
        >>> c = nsct(jnp.ones((64, 64)), levels=2)
        >>> len(c), [len(level) for level in c[1:]], c[0].shape
        (3, [8, 16], (64, 64))
        >>> bool(jnp.allclose(insct(c), 1.0, atol=1e-5))
        True

    References:
        da Cunha, Zhou & Do, IEEE Trans. Image Process. 15(10):3089-3101, 2006.
    """
    x = as_image(image)
    levels = check_levels(levels)
    dirs = _check_directions(directions, levels)
    h, w = x.shape
    if min(h, w) < 2 ** levels:
        raise ValueError(f"nsct: image shape {x.shape} is too small for levels={levels}; "
                         f"H and W must be >= 2**levels = {2 ** levels}")
    cdtype = _compute_dtype(x.dtype)
    analysis, _ = _rfft_bank(h, w, dirs, cdtype.name)
    spectrum = jnp.fft.rfft2(x.astype(cdtype))
    bands = jnp.fft.irfft2(spectrum[None] * analysis, s=(h, w)).astype(x.dtype)
    coeffs, start = [bands[0]], 1
    for d in dirs:
        coeffs.append([bands[k] for k in range(start, start + 2 ** d)])
        start += 2 ** d
    return coeffs


def insct(coeffs: Sequence[Any]) -> jax.Array:
    """Inverse of :func:`nsct`: ``x = ifft2(sum_k fft2(c_k) G_k)``, exact up to rounding.

    The number of levels and of directions per level are read from the structure of ``coeffs``.

    Args:
        coeffs: ``[lowpass, level_1, ..., level_J]`` as returned by :func:`nsct`: ``[H, W]`` arrays,
            each level a list of ``2**l`` of them.

    Returns:
        ``[H, W]`` image of the coefficients' (promoted float) dtype.

    Raises:
        ValueError: malformed ``coeffs`` (a level not a list of a power-of-two count of arrays,
            shapes that differ).

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.linspace(0, 1, 48 * 40).reshape(48, 40)
        >>> bool(jnp.allclose(insct(nsct(x, levels=3)), x, atol=1e-5))
        True
    """
    if not isinstance(coeffs, (list, tuple)) or len(coeffs) < 2:
        length = len(coeffs) if hasattr(coeffs, "__len__") else "?"
        raise ValueError("coeffs must be [lowpass, level_1, ..., level_J] with J >= 1; got "
                         f"{type(coeffs).__name__} of length {length}")
    low = as_image(coeffs[0], "lowpass")
    arrays, dirs = [low], []
    for i, level in enumerate(coeffs[1:], start=1):
        n = len(level) if isinstance(level, (list, tuple)) else 0
        if n == 0 or n & (n - 1) or n > 2 ** _MAX_STAGES:
            raise ValueError(f"coeffs[{i}] must be a list of 2**l arrays, l in [0, {_MAX_STAGES}]; "
                             f"got {type(level).__name__} of length {n}")
        dirs.append(n.bit_length() - 1)
        arrays += [as_image(band, f"coeffs[{i}]") for band in level]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"all NSCT subbands must have the same shape; got {sorted(shapes)}")
    h, w = low.shape
    dtype = jnp.result_type(*arrays)
    cdtype = _compute_dtype(dtype)
    _, synthesis = _rfft_bank(h, w, tuple(dirs), cdtype.name)
    spectra = jnp.fft.rfft2(jnp.stack(arrays).astype(cdtype))
    return jnp.fft.irfft2(jnp.sum(spectra * synthesis, axis=0), s=(h, w)).astype(dtype)


def nsct_orientations(*, levels: int = 4,
                      directions: Sequence[int] | None = None) -> list[tuple[float, ...]]:
    """Nominal orientation of every directional subband, in the layout of :func:`nsct`'s levels.

    The orientation is the middle of the subband's ideal angular interval of frequency directions,
    ``theta = atan2(omega_row, omega_col)`` in degrees in ``[0, 180)`` (from the column/x axis
    towards the row/y axis): a grating ``cos(2 pi f (x cos(theta) + y sin(theta)))`` lands in
    the subbands nearest ``theta``. Intervals are uniform in slope (DFB wedges): with ``2**l``
    subbands the boundaries are at ``tan(theta)`` (or ``cot``) ``= -1 + 2k / 2**(l-1)``.
    Undivided levels (``l = 0``) get ``nan``.

    Args:
        levels: number of band-pass levels, as for :func:`nsct`.
        directions: NSDFB stages per band-pass level, coarse to fine, as for :func:`nsct`.

    Returns:
        ``levels`` tuples of degrees in ``[0, 180)`` (``nan`` for an undivided level):
        ``out[i][k]`` is the orientation of ``nsct(...)[i + 1][k]``.

    Example:
        >>> nsct_orientations(levels=1, directions=(2,))
        [(157.5, 22.5, 67.5, 112.5)]
    """
    levels = check_levels(levels)
    out = []
    for stages in _check_directions(directions, levels):
        if stages == 0:
            out.append((math.nan,))
            continue
        n = 2 ** (stages - 1)
        edges = [math.degrees(math.atan(-1 + 2 * k / n)) for k in range(n + 1)]
        mids = [(lo + hi) / 2 for lo, hi in zip(edges[:-1], edges[1:])]
        col = [m % 180.0 for m in mids]                    # tan(theta) = w_row / w_col
        row = [(90.0 - m) % 180.0 for m in reversed(mids)]  # cot(theta) = w_col / w_row
        out.append(tuple(col + row))
    return out


def nsct_filters(shape: tuple[int, int], *, levels: int = 4,
                 directions: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Equivalent frequency responses of every NSCT subband on the full FFT grid.

    Args:
        shape: ``(H, W)``.
        levels: number of band-pass levels, as for :func:`nsct`.
        directions: NSDFB stages per band-pass level, coarse to fine, as for :func:`nsct`.

    Returns:
        ``(analysis, synthesis)``: float64 ``[K, H, W]`` arrays in coefficient order (lowpass, then
        the levels coarse to fine, flattened; ``np.fft.fftfreq`` layout); ``sum(analysis *
        synthesis, 0) == 1`` up to rounding.

    Example:
        >>> a, s = nsct_filters((32, 32), levels=2, directions=(1, 2))
        >>> a.shape, bool(np.allclose((a * s).sum(0), 1))
        ((7, 32, 32), True)
    """
    levels = check_levels(levels)
    dirs = _check_directions(directions, levels)
    h, w = shape
    w1 = 2 * np.pi * np.fft.fftfreq(h)[:, None]
    w2 = 2 * np.pi * np.fft.fftfreq(w)[None, :]
    analysis, synthesis = subband_responses(w1, w2, dirs)
    return np.stack(analysis), np.stack(synthesis)


#: The NSCT as a :class:`~jaxfuse.multiscale.base.MultiscaleTransform` (low-pass = ``coeffs[0]``).
NSCT = MultiscaleTransform(forward=nsct, inverse=insct, split=split_first, merge=merge_first)
