"""The directional filter bank's ladder filters and tree, unrolled into index maps (NumPy).

Host-side half of :mod:`jaxfuse.multiscale.dfb`: everything here runs once per band shape, number
of levels and filter (cached), in NumPy, and yields constant gather/scatter indices that the JAX
half applies.

Quincunx filter banks:
    A ``k``-level DFB (Bamberger & Smith 1992) is a binary tree of two-channel quincunx filter
    banks (QFBs), periodic boundary, critically sampled (a level of ``H x W`` samples gives
    ``H * W`` coefficients). Every QFB is a two-step ladder (lifting) structure of Phoong, Kim,
    Vaidyanathan & Ansari (1995) on the quincunx lattice: ``d = x_odd - P x_even``,
    ``s = x_even + P' d / 2``, then ``s * sqrt(2)``, ``d / sqrt(2)``. It is perfectly
    reconstructing by construction, whatever the ladder filter. ``P`` is the tensor product,
    along the two diagonal axes of the quincunx lattice, of a 1-D half-sample interpolator
    ``beta`` (the odd cell centre is predicted from the ``(2N)**2`` surrounding even samples),
    modulated by ``(-1)**n1`` so that the two channels are the two fans ``|nu2| < |nu1|`` (even
    samples) and ``|nu1| < |nu2|`` (odd samples).

Ladder filters:
    ``beta`` is a symmetric half-sample interpolator with ``2N`` taps, ``beta(0) = 1``; the
    prediction is computed as two 1-D passes of ``2N`` taps. :data:`DFB_FILTERS` names them:
    ``"lsN"`` (N = 8, 12, 16), least squares ``int_0^{0.8 pi} (beta(w) - 1)**2 dw`` (similar in
    design and values to the 'pkva' filters of Phoong et al.; default ``"ls12"``: ``0.6293,
    -0.1899, 0.0935, -0.0477, 0.0232, -0.0084`` from the centre out), and ``"ddN"`` (N = 2, 4, 6,
    8), the maximally flat (Lagrange) ones, i.e. the odd taps of the Deslauriers-Dubuc masks:
    ``(1, 1)/2``, ``(-1, 9, 9, -1)/16``, ... (softer fans, shorter filters).

The tree:
    Levels 1 and 2 apply the fan QFB as is (quincunx sampling ``Q = [[1, -1], [1, 1]]`` twice:
    two fans, then four wedges). From level 3 on, each wedge subband, which lives on the
    rectangular lattice ``diag(2, 2**(l-2))`` (or its transpose), is resampled by a unimodular
    matrix ``R = [[1 + j, -j], [-1, 1]]`` (a shear that maps the wedge's slope interval
    ``(j, j + 1)``, in the subband's own coordinates, onto ``(0, 1)``, and the bisecting slope
    onto a fan boundary) before the QFB, so each wedge is split at its middle slope. A subband at
    level ``k >= 2`` therefore has the rectangular sampling lattice ``diag(2, 2**(k-1))``
    (``theta`` in [45, 135]) or ``diag(2**(k-1), 2)`` (``theta`` in [-45, 45]), as in Do &
    Vetterli (2005). The tree is unrolled at trace time into index maps: each lifting step of a
    tree level is two gathers (the two 1-D passes) and one scatter-add, in place over the whole
    band. Orientations (``theta``) follow the convention of :mod:`jaxfuse.multiscale.dfb`.

References:
    R. H. Bamberger and M. J. T. Smith, "A filter bank for the directional decomposition of
    images: theory and design", IEEE Trans. Signal Process. 40(4):882-893, 1992.
    S.-M. Phoong, C. W. Kim, P. P. Vaidyanathan and R. Ansari, "A new class of two-channel
    biorthogonal filter banks and wavelet bases", IEEE Trans. Signal Process. 43(3):649-665, 1995.
    S.-I. Park, M. J. T. Smith and R. M. Mersereau, "Improved structures of maximally decimated
    directional filter banks for spatial image analysis", IEEE Trans. Image Process.
    13(11):1424-1431, 2004.
    G. Deslauriers and S. Dubuc, "Symmetric iterative interpolation processes", Constructive
    Approximation 5:49-68, 1989.
    M. N. Do and M. Vetterli, "The contourlet transform: an efficient directional multiresolution
    image representation", IEEE Trans. Image Process. 14(12):2091-2106, 2005.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "DEFAULT_FILTER",
    "DFBPlan",
    "DFB_FILTERS",
    "LiftingStep",
    "dfb_factor",
    "dfb_plan",
    "ladder_taps",
    "subband_shapes",
]

# --------------------------------------------------------------------------------------------
# Ladder filters: half-sample interpolators
# --------------------------------------------------------------------------------------------


def _half_sample_interpolator(taps: int) -> tuple[float, ...]:
    """Lagrange weights that interpolate at 0 from the nodes ``m - 1/2``, ``m = 1-N .. N``."""
    n = taps // 2
    nodes = np.arange(1 - n, n + 1) - 0.5
    return tuple(float(np.prod([-b / (a - b) for b in nodes if b != a])) for a in nodes)


def _least_squares_interpolator(taps: int, edge: float = 0.8 * math.pi) -> tuple[float, ...]:
    """The symmetric ``beta`` minimising ``int_0^edge (beta(w) - 1)**2 dw`` with ``beta(0) = 1``.

    ``beta(w) = 2 sum_m v_m cos((m - 1/2) w)``, ``m = 1 .. N``; ``beta(pi) = 0`` by symmetry.
    Solved exactly from the normal equations (integrals in closed form) with one Lagrange
    multiplier for the constraint ``2 sum_m v_m = 1``.
    """
    n = taps // 2
    c = np.arange(1, n + 1) - 0.5
    kkt = np.ones((n + 1, n + 1))
    kkt[:n, :n] = (np.sinc((c[:, None] - c) * edge / math.pi)
                   + np.sinc((c[:, None] + c) * edge / math.pi)) * edge
    kkt[n, n] = 0.0
    rhs = np.append(np.sinc(c * edge / math.pi) * edge, 0.5)
    v = np.linalg.solve(kkt, rhs)[:n]
    return tuple(float(t) for t in np.concatenate([v[::-1], v]))


#: Named 1-D ladder filters ``beta`` (half-sample interpolators, taps at -N+1/2 .. N-1/2):
#: "ddN", maximally flat (Lagrange / Deslauriers-Dubuc), and "lsN", least squares on the
#: passband ``[0, 0.8 pi]`` (close to the 'pkva' filters of Phoong et al. 1995).
DFB_FILTERS: dict[str, tuple[float, ...]] = {
    **{f"dd{t}": _half_sample_interpolator(t) for t in (2, 4, 6, 8)},
    **{f"ls{t}": _least_squares_interpolator(t) for t in (8, 12, 16)},
}

#: The ladder filter used unless ``dfb_filter=`` says otherwise.
DEFAULT_FILTER = "ls12"

# --------------------------------------------------------------------------------------------
# The DFB tree, unrolled into index maps at trace time (NumPy)
# --------------------------------------------------------------------------------------------

_Q = np.array([[1, -1], [1, 1]])  # quincunx sampling matrix of every QFB
_SWAP = np.array([[0, 1], [1, 0]])


class LiftingStep(NamedTuple):
    """One lifting step, ``x[target] += gain * P x``, ``P`` separable along the two diagonals.

    ``J[i] = x[first[i]] @ weights`` (first diagonal), then ``P x[i] = J[second[i]] @ weights``
    (second diagonal, ``J`` indexed like ``target``). Targets and sources are disjoint cosets.
    """

    target: np.ndarray  # [n] sorted flat positions updated in place
    first: np.ndarray  # [n, 2N] flat positions of x
    second: np.ndarray  # [n, 2N] indices into target
    weights: np.ndarray  # [2N] modulated ladder filter
    gain: float


class DFBPlan(NamedTuple):
    """A ``k``-level DFB of one band shape, as constant index maps."""

    steps: tuple[LiftingStep, ...]
    gather: np.ndarray  # [H*W] flat positions of the subbands, concatenated in order
    scatter: np.ndarray  # inverse permutation of ``gather``
    scale: np.ndarray  # [H*W] gain of each coefficient, in ``gather`` order
    shapes: tuple[tuple[int, int], ...]  # subband shapes, in order
    orientations: tuple[tuple[float, float], ...]


@dataclasses.dataclass
class _Node:
    positions: np.ndarray  # [n, 2] (row, column) of the node's samples
    offset: np.ndarray  # [2] one of them
    basis: np.ndarray  # [2, 2] integer basis of the node's sampling lattice
    wedge: tuple[str, float, float] | None  # ("h" | "v", lo, hi) slope interval


def ladder_taps(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fan prediction filter: two 1-D passes along the diagonals of the quincunx lattice.

    The odd sample ``n`` is the centre of a cell of the even lattice, whose axes are
    ``(1, 1)`` and ``(1, -1)``: the even sample at cell coordinates ``(a - 1/2, b - 1/2)``,
    ``a, b = 1-N .. N``, is at ``n + (a + b - 1, a - b) = n + (a - 1, a) + b (1, -1)`` and gets
    ``beta_a * beta_b * (-1)**(a + b - 1)`` (the modulation by ``(pi, 0)`` that turns the
    diamond filters into fan filters). Returns the offsets ``(a - 1, a)`` ``[2N, 2]`` of the
    first pass, ``b (1, -1)`` ``[2N, 2]`` of the second, and the weights
    ``beta_a (-1)**a`` ``[2N]`` of both (the overall sign ``-1`` is left to the caller).
    """
    try:
        beta = np.asarray(DFB_FILTERS[name], np.float64)
    except (KeyError, TypeError):
        raise ValueError(f"unknown DFB filter {name!r}; known: {sorted(DFB_FILTERS)}") from None
    a = np.arange(1 - len(beta) // 2, len(beta) // 2 + 1)
    return np.stack([a - 1, a], -1), np.stack([a, -a], -1), beta * (-1.0) ** a


def _same_lattice(b1: np.ndarray, b2: np.ndarray) -> bool:
    t = np.linalg.solve(b1, b2)
    return bool(np.allclose(t, np.round(t)) and abs(round(np.linalg.det(t))) == 1)


def _node_basis(node: _Node, level: int) -> np.ndarray:
    """The basis (resampling) in which the QFB at ``level`` filters ``node``.

    Levels 1, 2: the node's own basis. Level ``l >= 3``: a "h" wedge of slopes ``(lo, hi)``
    lives on ``diag(2, 2**(l-2))``; in that basis its slopes are ``(j, j + 1)``,
    ``j = lo 2**(l-3)``; the shear ``[[1, -j], [0, 1]]`` maps them onto ``(0, 1)`` and
    ``[[1, 0], [-1, 1]]`` maps the bisector (slope 1/2) onto the fan boundary
    ``|nu1| = |nu2|``, their product being ``[[1 + j, -j], [-1, 1]]``. "v" wedges: the same
    with the axes swapped. Either way the children lie on ``diag(2, 2**(l-1))`` (transposed).
    """
    if level <= 2:
        return node.basis
    kind, lo, _ = node.wedge
    d = 2 ** (level - 2)
    rect = np.diag([2, d]) if kind == "h" else np.diag([d, 2])
    j = int(round(lo * 2 ** (level - 3)))  # the wedge is (j, j + 1) in these coordinates
    shear = np.array([[1 + j, -j], [-1, 1]])
    basis = rect @ (shear if kind == "h" else _SWAP @ shear)
    assert _same_lattice(basis, node.basis), (node.basis, basis)
    return basis


def _child_wedges(node: _Node, level: int) -> tuple[Any, Any]:
    if level == 1:
        return ("h", -1.0, 1.0), ("v", -1.0, 1.0)
    kind, lo, hi = node.wedge
    if level == 2:
        return (kind, 0.0, 1.0), (kind, -1.0, 0.0)
    mid = (lo + hi) / 2
    return (kind, lo, mid), (kind, mid, hi)


def _orientation(wedge: tuple[str, float, float] | None) -> tuple[float, float]:
    """Nominal range of ``theta`` in degrees (:mod:`jaxfuse.multiscale.dfb`) for a slope wedge.

    "h" wedges hold ``|w_col| < |w_row|``, slope ``w_col / w_row = cot(theta)``;
    "v" wedges hold ``|w_row| < |w_col|``, slope ``w_row / w_col = tan(theta)``.
    """
    if wedge is None:
        return (-45.0, 135.0)
    kind, lo, hi = wedge
    if kind == "v":
        return (math.degrees(math.atan(lo)), math.degrees(math.atan(hi)))
    return (90.0 - math.degrees(math.atan(hi)), 90.0 - math.degrees(math.atan(lo)))


def dfb_factor(k: int) -> int:
    """H and W of a band must be divisible by this for a ``k``-level DFB."""
    return 1 if k == 0 else 2 ** max(k - 1, 1)


def subband_shapes(shape: tuple[int, int], k: int) -> list[tuple[int, int]]:
    """Shapes of the ``2**k`` subbands of a band of ``shape``, in subband order."""
    h, w = shape
    if k <= 1:
        return [(h, w // 2**k)] * 2**k
    d = 2 ** (k - 1)
    return [(h // d, w // 2)] * (2 ** (k - 1)) + [(h // 2, w // d)] * (2 ** (k - 1))


def _layout(wedge: tuple[str, float, float] | None, k: int) -> np.ndarray:
    """Basis of a subband's sampling lattice used to lay it out as an array."""
    if k == 0:
        return np.eye(2, dtype=int)
    if k == 1:
        return np.array([[1, 0], [1, 2]])  # the quincunx lattice, sheared layout
    d = 2 ** (k - 1)
    return np.diag([2, d]) if wedge[0] == "h" else np.diag([d, 2])


def _flat(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Flat index of (row, column) ``points [..., 2]``, periodic boundary."""
    return np.mod(points[..., 0], shape[0]) * shape[1] + np.mod(points[..., 1], shape[1])


def _split_node(node: _Node, level: int, shape: tuple[int, int], taps: tuple[Any, ...]):
    """One QFB of the tree: the lifting index maps and the two children of ``node``."""
    first_offsets, second_offsets, _ = taps
    basis = _node_basis(node, level)
    det = round(np.linalg.det(basis))
    adjugate = np.array([[basis[1, 1], -basis[0, 1]], [-basis[1, 0], basis[0, 0]]])
    coords = (node.positions - node.offset) @ adjugate.T  # det * QFB coordinates
    assert not np.any(coords % det)
    odd = ((coords // det).sum(-1) % 2).astype(bool)
    even_p, odd_p = node.positions[~odd], node.positions[odd]
    maps = [(_flat(p, shape), _flat(p[:, None] + first_offsets @ basis.T, shape),
             _flat(p[:, None] + second_offsets @ basis.T, shape)) for p in (odd_p, even_p)]
    wedge0, wedge1 = _child_wedges(node, level)
    children = (_Node(even_p, node.offset, basis @ _Q, wedge0),
                _Node(odd_p, node.offset + basis[:, 0], basis @ _Q, wedge1))
    return maps, children


@functools.lru_cache(maxsize=16)
def dfb_plan(h: int, w: int, k: int, name: str) -> DFBPlan:
    """Unrolls the ``k``-level DFB of an ``[h, w]`` band into index maps (cached).

    Args:
        h: band height, divisible by ``dfb_factor(k)``.
        w: band width, likewise.
        k: DFB levels.
        name: ladder filter, a key of :data:`DFB_FILTERS`.

    Returns:
        The :class:`DFBPlan`: lifting steps, the subband layout and each subband's orientation.
    """
    taps = ladder_taps(name)
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    nodes = [_Node(np.stack([rows, cols], -1).reshape(-1, 2), np.zeros(2, int),
                   np.eye(2, dtype=int), None)]
    steps, log_gain = [], np.zeros(h * w)  # log2 of each position's gain
    for level in range(1, k + 1):
        splits = [_split_node(node, level, (h, w), taps) for node in nodes]
        nodes = [child for _, children in splits for child in children]
        # predict d = x_odd - P x_even, then update s = x_even + P d / 2 (P carries a -1);
        # then s * sqrt(2), d / sqrt(2).
        for coset, gain in ((0, 1.0), (1, -0.5)):  # 0: the odd samples, 1: the even ones
            maps = zip(*(node_maps[coset] for node_maps, _ in splits))
            target, first, second = (np.concatenate(a) for a in maps)
            order = np.argsort(target)
            rank = np.empty(h * w, np.int64)
            rank[target[order]] = np.arange(len(target))
            steps.append(LiftingStep(target[order].astype(np.int32), first[order].astype(np.int32),
                               rank[second[order]].astype(np.int32), taps[2], gain))
            log_gain[target] += 0.5 if coset else -0.5

    # Lay every subband out as a rectangular array on its sampling lattice.
    nodes.sort(key=lambda nd: _orientation(nd.wedge)[0])
    gathers = []
    for node, shape in zip(nodes, subband_shapes((h, w), k)):
        layout = _layout(node.wedge, k)
        assert _same_lattice(layout, node.basis)
        i0, i1 = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
        gathers.append(_flat(node.offset + np.stack([i0, i1], -1) @ layout.T, (h, w)).ravel())
        assert np.array_equal(np.sort(gathers[-1]), np.sort(_flat(node.positions, (h, w))))
    gather = np.concatenate(gathers).astype(np.int32)
    assert np.array_equal(np.sort(gather), np.arange(h * w))
    return DFBPlan(tuple(steps), gather, np.argsort(gather).astype(np.int32),
                 2.0 ** log_gain[gather], tuple(subband_shapes((h, w), k)),
                 tuple(_orientation(nd.wedge) for nd in nodes))

