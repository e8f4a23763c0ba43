"""The nonsubsampled filter banks of the NSCT (da Cunha, Zhou & Do 2006): design, in NumPy.

Two-channel nonsubsampled filter banks are built by the mapping (McClellan) approach from one pair
of 1-D prototypes, then combined into the equivalent frequency response of every NSCT subband
(pyramid x directional tree). Everything is host-side float64 NumPy, evaluated on a frequency grid;
:mod:`jaxfuse.multiscale.nsct` applies the responses in JAX.

Filters (the defaults of the authors' toolbox, rebuilt here from their mathematics):
    * 1-D prototypes. Both filter banks are obtained by the mapping (McClellan) approach from one
      pair of 1-D zero-phase prototypes written as polynomials in ``x = cos(omega)``, the ladder
      (lifting) pair with ``k1 = k3 = 1 - sqrt(2)``, ``k2 = 1/sqrt(2)``::

          h(x) = (1 + k2 x + k2 k3 x**2) / sqrt(2)
               = (1 + x) (1/sqrt(2) + (1/2 - 1/sqrt(2)) x)                         (5 taps)
          g(x) = (1 - (k1 + k3) x + k1 k2 x**2 - k1 k2 k3 x**3) / sqrt(2)
               = (1 + x) (1/sqrt(2) + (2 - 3/sqrt(2)) x + (sqrt(2) - 3/2) x**2)   (7 taps)

      with ``h(1) = g(1) = 1``, ``h(-1) = g(-1) = 0`` and the 1-D Bezout identity
      ``h(x) g(x) + h(-x) g(-x) = 1`` for every ``x``. A two-channel bank built from a 2-D mapping
      ``M(omega)`` as ``H0 = h(M), H1 = g(-M), G0 = g(M), G1 = h(-M)`` therefore satisfies the
      perfect-reconstruction (Bezout) identity ``H0 G0 + H1 G1 = 1`` at every frequency, and so does
      any copy upsampled by an integer matrix (``M(N^T omega)``).
    * Pyramid, "maxflat": ``M(omega) = 2 P(omega1) P(omega2) - 1`` with ``P`` the 1-D maximally flat
      half-band filter of order 2, ``P(w) = cos(w/2)**4 (1 + 2 sin(w/2)**2)
      = 1/2 + (9/16) cos w - (1/16) cos 3w`` (taps [-1, 0, 9, 16, 9, 0, -1] / 32). ``H0`` is 13x13,
      ``G0`` and ``H1`` 19x19, ``G1`` 13x13; they equal the toolbox's ``atrousfilters('maxflat')``
      coefficients (checked against published values in ``tests/multiscale/test_nsct.py``). Level ``j``
      (``j = 1`` finest) uses the a trous copies ``H_i(2**(j-1) omega)``.
    * Directional, "dmaxflat7": ``M`` is the diamond maxflat mapping of order 7 (:func:`dmaxflat`),
      the unique 15x15 filter with taps only at ``n1 + n2`` odd, symmetric in both axes and under
      transposition, with ``M(0) = 1`` and ``1 - M`` vanishing to order 14 at ``omega = 0``. It is
      solved here in exact rational arithmetic; it equals the published tables (checked for orders
      2, 3, 4 and 7). The fan pair used at every NSDFB node is this diamond pair shifted by ``pi``
      along its first argument:
      ``U0(u) = h(Mf(u))`` passes the fan ``|u2| < |u1|``, ``U1(u) = g(-Mf(u))`` the complementary
      fan, with ``Mf(u) = M(u1 + pi, u2)`` (synthesis: ``g(Mf)``, ``h(-Mf)``).

NSDFB tree (Bamberger & Smith 1992; Do & Vetterli 2005; as nonsubsampled in da Cunha et al. 2006):
    Stage 1 splits the plane into the two fans with ``U(omega)``. At stage ``l >= 2`` each
    wedge of the previous stage is split in two by the fan pair upsampled by an integer matrix,
    ``U(N^T omega)``, with ``|det N| = 2**(l-1)`` (the DFB's sampling density at that stage; stage 2
    is the quincunx matrix ``[[1, -1], [1, 1]]``). For a wedge between slopes ``t0`` and
    ``t0 + 2/e`` (``e = 2**(l-2)``, slope ``t = omega_b / omega_a`` inside the family
    ``|omega_b| <= |omega_a|``; parent index ``j``, ``t0 = -1 + 2j/e``), the matrix is::

        u1 = (2j + 2 - e) omega_a - e omega_b,    u2 = (e - 2j) omega_a + e omega_b

    whose ideal fan boundaries inside the parent wedge are exactly the bisecting ray
    ``t = t0 + 1/e`` (plus the parent's own edges), so the tree partitions the spectrum into the
    DFB's wedges, uniform in slope. Following the paper (Sec. II-C), at pyramid level ``j`` the
    whole NSDFB is upsampled by ``2**(j-1) I`` so that the band-pass band falls in the well-behaved
    part of the directional responses.

Deviation, stated honestly:
    * The NSDFB upsampling matrices above are derived from the DFB geometry; the toolbox realises
      stages ``>= 3`` with "parallelogram" filters (resampled diamond filters) whose matrices may
      differ by unimodular factors, which changes the non-ideal transition shapes, not the ideal
      partition.

References:
    A. L. da Cunha, J. Zhou and M. N. Do, "The nonsubsampled contourlet transform: theory, design,
    and applications", IEEE Trans. Image Process. 15(10):3089-3101, 2006.
    M. N. Do and M. Vetterli, "The contourlet transform: an efficient directional multiresolution
    image representation", IEEE Trans. Image Process. 14(12):2091-2106, 2005.
    R. H. Bamberger and M. J. T. Smith, "A filter bank for the directional decomposition of
    images: theory and design", IEEE Trans. Signal Process. 40(4):882-893, 1992.
    S.-M. Phoong, C. W. Kim, P. P. Vaidyanathan and R. Ansari, "A new class of two-channel
    biorthogonal filter banks and wavelet bases", IEEE Trans. Signal Process. 43(3):649-665, 1995.
    J. H. McClellan, "The design of two-dimensional digital filters by transformations", Proc. 7th
    Annual Princeton Conf. Information Sciences and Systems, 1973.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = ["dmaxflat", "filter_pair", "subband_responses"]

_DIAMOND_ORDER = 7  # "dmaxflat7"

# --------------------------------------------------------------------------------------------
# 1-D prototypes and 2-D mappings
# --------------------------------------------------------------------------------------------

_R2 = math.sqrt(2.0)


def _proto_h(x):
    """Low-pass analysis prototype ``h(x)``, ``x = cos(omega)`` (degree 2, 5 taps)."""
    return (1 + x) * (1 / _R2 + (0.5 - 1 / _R2) * x)


def _proto_g(x):
    """Low-pass synthesis prototype ``g(x)`` (degree 3, 7 taps); ``h g + h(-.) g(-.) = 1``."""
    return (1 + x) * (1 / _R2 + (2 - 3 / _R2) * x + (_R2 - 1.5) * x * x)


def _cos_in_y(n: int) -> list[Fraction]:
    """Coefficients of ``cos(n w)`` as a polynomial in ``y = sin(w/2)**2`` (``cos w = 1 - 2y``)."""
    # cos(n w) = T_n(1 - 2y), from the Chebyshev recurrence T_{k+1} = 2 x T_k - T_{k-1}, exact.
    prev, cur = [Fraction(1)], [Fraction(1), Fraction(-2)]  # T_0, T_1 in y
    if n == 0:
        return prev
    for _ in range(n - 1):
        nxt = [Fraction(0)] * (len(cur) + 1)
        for i, c in enumerate(cur):  # 2 (1 - 2y) T_k
            nxt[i] += 2 * c
            nxt[i + 1] -= 4 * c
        for i, c in enumerate(prev):
            nxt[i] -= c
        prev, cur = cur, nxt
    return cur


@functools.cache
def _dmaxflat_orbits(order: int) -> tuple[tuple[int, int, Fraction], ...]:
    """``(a, b, c)``, ``a < b``: ``M(omega) = sum c (cos a w1 cos b w2 + cos b w1 cos a w2)``."""
    orbits = [(a, b) for a in range(order + 1) for b in range(a + 1, order + 1) if (a + b) % 2]
    monomials = [(p, q) for p in range(order) for q in range(p, order) if p + q < order]
    if len(orbits) != len(monomials):  # pragma: no cover - holds for every order
        raise AssertionError("dmaxflat system is not square")
    cos_y = [_cos_in_y(n) for n in range(order + 1)]

    def coef(a, b, p, q):
        ca, cb = cos_y[a], cos_y[b]
        return (ca[p] if p < len(ca) else 0) * (cb[q] if q < len(cb) else 0)

    # Row (p, q): the coefficient of y1**p y2**q of M must be 1 for (0, 0) and 0 otherwise.
    rows = [[coef(a, b, p, q) + coef(b, a, p, q) for a, b in orbits]
            + [Fraction(int(p == q == 0))] for p, q in monomials]
    n = len(orbits)
    for col in range(n):  # Gauss-Jordan elimination, exact
        pivot = next(r for r in range(col, n) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        rows[col] = [v / rows[col][col] for v in rows[col]]
        for r in range(n):
            if r != col and rows[r][col] != 0:
                f = rows[r][col]
                rows[r] = [v - f * w for v, w in zip(rows[r], rows[col])]
    return tuple((a, b, rows[k][n]) for k, (a, b) in enumerate(orbits))


def dmaxflat(order: int = _DIAMOND_ORDER) -> np.ndarray:
    """Diamond maximally flat mapping filter of the given order (da Cunha & Do), centre tap 0.

    The unique zero-phase filter supported on ``[-order, order]**2`` with taps only where
    ``n1 + n2`` is odd, symmetric in each axis and under transposition, such that its response
    ``M`` has ``M(0) = 1`` and ``1 - M`` vanishes to order ``2 * order`` at ``omega = 0`` (hence
    ``M(omega + (pi, pi)) = -M(omega)``, ``M = 0`` on the diamond ``|w1| + |w2| = pi`` and
    ``M(pi, pi) = -1``). Solved in exact rational arithmetic.

    Args:
        order: ``N >= 1`` (the toolbox tabulates 1..7; "dmaxflat7" uses 7).

    Returns:
        ``[2N+1, 2N+1]`` float64 taps, ``taps[N + n1, N + n2]``.

    Example:
        >>> (dmaxflat(2)[:3, :3] * 32).astype(int).tolist()
        [[0, -1, 0], [-1, 0, 10], [0, 10, 0]]
    """
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= 12:
        raise ValueError(f"dmaxflat order must be an int in [1, 12]; got {order!r}")
    taps = np.zeros((2 * order + 1, 2 * order + 1))
    for a, b, c in _dmaxflat_orbits(order):
        for p, q in ((a, b), (b, a)):
            w = float(c) / ((2 if p else 1) * (2 if q else 1))
            for n1 in {p, -p}:
                for n2 in {q, -q}:
                    taps[order + n1, order + n2] = w
    return taps


def _fan_map(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """``Mf(u) = M(u1 + pi, u2)``, M the dmaxflat7 mapping: +1 on the fan ``|u2| < |u1|``."""
    order = _DIAMOND_ORDER
    c1 = [np.cos(k * u1) for k in range(order + 1)]
    c2 = [np.cos(k * u2) for k in range(order + 1)]
    out = np.zeros(np.broadcast_shapes(u1.shape, u2.shape))
    for a, b, c in _dmaxflat_orbits(order):  # cos(a (u1 + pi)) = (-1)**a cos(a u1)
        out += float(c) * ((-1) ** a * c1[a] * c2[b] + (-1) ** b * c1[b] * c2[a])
    return out


def _pyramid_map(w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """``2 P(w1) P(w2) - 1``, P the order-2 maxflat half-band filter [-1, 0, 9, 16, 9, 0, -1]/32."""
    def p(w):
        return 0.5 + (9 / 16) * np.cos(w) - (1 / 16) * np.cos(3 * w)
    return 2 * p(w1) * p(w2) - 1


def filter_pair(name: str, omega_row: Any, omega_col: Any) -> tuple[np.ndarray, ...]:
    """Frequency responses ``(H0, H1, G0, G1)`` of one two-channel nonsubsampled filter bank.

    All four are real and even; ``H0 G0 + H1 G1 = 1`` at every frequency (Bezout identity).

    Args:
        name: "maxflat" (the pyramid pair: ``H0`` low-pass, ``H1`` high-pass) or "dmaxflat7" (the
            NSDFB fan pair: ``H0`` passes the fan ``|omega_col| < |omega_row|``, ``H1`` the other).
        omega_row: frequencies along axis 0 in radians (array, broadcastable with ``omega_col``).
        omega_col: frequencies along axis 1 in radians.

    Returns:
        ``(H0, H1, G0, G1)``: float64 NumPy arrays of the broadcast shape (analysis, synthesis).

    Example:
        >>> h0, h1, g0, g1 = filter_pair("maxflat", np.array([0.0, np.pi]), np.array([0.0, 0.0]))
        >>> np.round(h0, 12).tolist(), np.round(h0 * g0 + h1 * g1, 12).tolist()
        ([1.0, 0.0], [1.0, 1.0])
    """
    w1, w2 = np.asarray(omega_row, np.float64), np.asarray(omega_col, np.float64)
    if name == "maxflat":
        m = _pyramid_map(w1, w2)
    elif name == "dmaxflat7":
        m = _fan_map(w1, w2)
    else:
        raise ValueError(f"unknown filter pair {name!r}; known: 'maxflat', 'dmaxflat7'")
    return _proto_h(m), _proto_g(-m), _proto_g(m), _proto_h(-m)


# --------------------------------------------------------------------------------------------
# The filter bank: equivalent responses of every subband
# --------------------------------------------------------------------------------------------


def _directional_bank(w1, w2, stages: int, scale: int):
    """Analysis and synthesis responses of the ``2**stages`` NSDFB channels, ordered by angle.

    ``w1``/``w2``: row/column frequencies; the whole tree is upsampled by ``scale * I``.
    """
    if stages == 0:
        return [1.0], [1.0]
    x = _fan_map(scale * w1, scale * w2)
    # Families by dominant frequency: "row" (|w_col| <= |w_row|, theta in [45, 135]) and "col".
    row = [(_proto_h(x), _proto_g(x))]
    col = [(_proto_g(-x), _proto_h(-x))]
    for stage in range(2, stages + 1):
        e = 2 ** (stage - 2)
        new_row, new_col = [], []
        for family, new, (wa, wb) in ((row, new_row, (w1, w2)), (col, new_col, (w2, w1))):
            for j, (par_a, par_s) in enumerate(family):
                u1 = scale * ((2 * j + 2 - e) * wa - e * wb)
                u2 = scale * ((e - 2 * j) * wa + e * wb)
                x = _fan_map(u1, u2)
                new.append((par_a * _proto_h(x), par_s * _proto_g(x)))      # lower slope half
                new.append((par_a * _proto_g(-x), par_s * _proto_h(-x)))    # upper slope half
        row, col = new_row, new_col
    # col family: slope tan(theta) increasing, theta from -45 to 45; row family: slope cot(theta)
    # increasing means theta decreasing, so it is reversed to run from 45 to 135.
    ordered = col + row[::-1]
    return [a for a, _ in ordered], [s for _, s in ordered]


def subband_responses(w1: np.ndarray, w2: np.ndarray, directions: tuple[int, ...]):
    """Analysis and synthesis responses of every NSCT subband, in coefficient order.

    Args:
        w1: row frequencies in radians (broadcastable with ``w2``).
        w2: column frequencies in radians.
        directions: NSDFB stages per band-pass level, coarse to fine (checked).

    Returns:
        ``(analysis, synthesis)``: two lists of float64 arrays of the broadcast shape, lowpass
        first, then the levels coarse to fine, each level's subbands in orientation order.
    """
    shape = np.broadcast_shapes(w1.shape, w2.shape)
    low_a = low_s = np.ones(shape)
    per_level = []
    for j in range(1, len(directions) + 1):  # finest first
        scale = 2 ** (j - 1)
        m = _pyramid_map(scale * w1, scale * w2)
        band_a, band_s = low_a * _proto_g(-m), low_s * _proto_h(-m)
        dir_a, dir_s = _directional_bank(w1, w2, directions[-j], scale)
        per_level.append(([band_a * d for d in dir_a], [band_s * d for d in dir_s]))
        low_a, low_s = low_a * _proto_h(m), low_s * _proto_g(m)
    analysis = [low_a] + [r for lvl in reversed(per_level) for r in lvl[0]]
    synthesis = [low_s] + [r for lvl in reversed(per_level) for r in lvl[1]]
    return ([np.broadcast_to(r, shape) for r in analysis],
            [np.broadcast_to(r, shape) for r in synthesis])
