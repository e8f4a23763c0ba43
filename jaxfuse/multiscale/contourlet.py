"""The contourlet transform (Do & Vetterli 2005) in pure JAX.

A contourlet transform is a Laplacian pyramid (multiscale) followed, on every band-pass level,
by a directional filter bank (DFB; Bamberger & Smith 1992) that splits the level into ``2**k``
wedge-shaped directional subbands. Everything here is built from the papers' mathematics.

**Pyramid.** The Burt & Adelson pyramid of :func:`jaxfuse.multiscale.transforms.laplacian_pyramid` (5-tap
binomial kernel [1, 4, 6, 4, 1]/16, mirror boundary) and its exact reconstruction
``G_k = L_k + expand(G_{k+1})``; it is the package's "laplacian" baseline, so the two
transforms differ only by the DFB. (Do & Vetterli use biorthogonal 9-7 filters and a dual-frame
reconstruction; any perfectly reconstructing pyramid fits the construction.)

**Directional filter bank.** A ``k``-level binary tree of two-channel quincunx filter banks
(QFBs), periodic boundary, critically sampled (a level of ``H x W`` samples gives ``H * W``
coefficients):

* Every QFB is a two-step ladder (lifting) structure of Phoong, Kim, Vaidyanathan & Ansari
  (1995) on the quincunx lattice: ``d = x_odd - P x_even``, ``s = x_even + P' d / 2``, then
  ``s * sqrt(2)``, ``d / sqrt(2)``. It is perfectly reconstructing by construction, whatever the
  ladder filter. ``P`` is the tensor product, along the two diagonal axes of the quincunx
  lattice, of a 1-D half-sample interpolator ``beta`` (the odd cell centre is predicted from
  the ``(2N)**2`` surrounding even samples), modulated by ``(-1)**n1`` so that the two channels
  are the two fans ``|nu2| < |nu1|`` (even samples) and ``|nu1| < |nu2|`` (odd samples).
* ``beta`` is a symmetric half-sample interpolator with ``2N`` taps, ``beta(0) = 1``; the
  prediction is computed as two 1-D passes of ``2N`` taps. :data:`DFB_FILTERS` names them:
  ``"lsN"`` (N = 8, 12, 16), least squares ``int_0^{0.8 pi} (beta(w) - 1)**2 dw`` (similar in
  design and values to the 'pkva' filters of Phoong et al.; default ``"ls12"``: ``0.6293, -0.1899,
  0.0935, -0.0477, 0.0232, -0.0084`` from the centre out), and ``"ddN"`` (N = 2, 4, 6, 8), the
  maximally flat (Lagrange) ones, i.e. the odd taps of the Deslauriers-Dubuc masks:
  ``(1, 1)/2``, ``(-1, 9, 9, -1)/16``, ... (softer fans, shorter filters).
* The tree: levels 1 and 2 apply the fan QFB as is (quincunx sampling ``Q = [[1, -1], [1, 1]]``
  twice: two fans, then four wedges). From level 3 on, each wedge subband, which lives on the
  rectangular lattice ``diag(2, 2**(l-2))`` (or its transpose), is resampled by a unimodular
  matrix ``R = [[1 + j, -j], [-1, 1]]`` (a shear that maps the wedge's slope interval
  ``(j, j + 1)``, in the subband's own coordinates, onto ``(0, 1)``, and the bisecting slope
  onto a fan boundary) before the QFB, so each wedge is split at its middle slope. A subband
  at level ``k >= 2`` therefore has the rectangular sampling lattice ``diag(2, 2**(k-1))``
  (``theta`` in [45, 135], below) or ``diag(2**(k-1), 2)`` (``theta`` in [-45, 45]), as in
  Do & Vetterli (2005). The tree is unrolled at trace time into index maps (NumPy): each
  lifting step of a tree level is two gathers (the two 1-D passes) and one scatter-add, in
  place over the whole band.

**Orientation convention.** A subband's orientation is the angle ``theta`` (degrees) of the
frequency vector, from the column axis ``x`` towards the row axis ``y``: the grating
``cos(2 pi f (x cos(theta) + y sin(theta)))`` (``x`` the column index, ``y`` the row index) has
orientation ``theta`` (mod 180). The wedges of a ``k``-level DFB are bounded by equally spaced
slopes (not angles): ``tan(theta)`` in ``{-1, ..., 1}`` steps ``2**(2-k)`` for
``theta in [-45, 45]`` and ``cot(theta)`` likewise for ``theta in [45, 135]``. Subbands are
ordered by increasing ``theta``; :attr:`ContourletCoefficients.orientations` records each
one's nominal range ``(lo, hi)`` in degrees within ``[-45, 135]``.

**Directions.** ``directions[i] = k`` gives ``2**k`` subbands at pyramid level ``i``, counted
COARSE TO FINE (``directions[-1]`` is the finest level); ``k = 0`` keeps the band-pass level
undivided. The default doubles the number of directions at every other finer level (the
parabolic scaling rule of Do & Vetterli), finest two levels with 8: ``(2, 2, 3, 3)`` for 4
levels (4, 4, 8, 8 subbands); see :func:`default_directions`.

Image contract: one single-channel float image ``[H, W]`` (float32 typical, float64 under
``jax.enable_x64``), batched by the caller with ``jax.vmap``; jit-able (options static) and
differentiable; coefficients keep the input dtype.

References:
  M. N. Do and M. Vetterli, "The contourlet transform: an efficient directional multiresolution
  image representation", IEEE Trans. Image Process. 14(12):2091-2106, 2005.
  R. H. Bamberger and M. J. T. Smith, "A filter bank for the directional decomposition of
  images: theory and design", IEEE Trans. Signal Process. 40(4):882-893, 1992.
  S.-M. Phoong, C. W. Kim, P. P. Vaidyanathan and R. Ansari, "A new class of two-channel
  biorthogonal filter banks and wavelet bases", IEEE Trans. Signal Process. 43(3):649-665, 1995.
  S.-I. Park, M. J. T. Smith and R. M. Mersereau, "Improved structures of maximally decimated
  directional filter banks for spatial image analysis", IEEE Trans. Image Process.
  13(11):1424-1431, 2004.
  G. Deslauriers and S. Dubuc, "Symmetric iterative interpolation processes", Constructive
  Approximation 5:49-68, 1989.
  P. J. Burt and E. H. Adelson, "The Laplacian pyramid as a compact image code", IEEE Trans.
  Commun. 31(4):532-540, 1983.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxfuse.multiscale.transforms import MultiscaleTransform, laplacian_pyramid, reconstruct_laplacian_pyramid

__all__ = [
    "CONTOURLET",
    "DFB_FILTERS",
    "ContourletCoefficients",
    "contourlet_transform",
    "default_directions",
    "dfb_orientations",
    "directional_filter_bank",
    "inverse_contourlet_transform",
    "inverse_directional_filter_bank",
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

_DEFAULT_FILTER = "ls12"

# --------------------------------------------------------------------------------------------
# The DFB tree, unrolled into index maps at trace time (NumPy)
# --------------------------------------------------------------------------------------------

_Q = np.array([[1, -1], [1, 1]])  # quincunx sampling matrix of every QFB
_SWAP = np.array([[0, 1], [1, 0]])


class _Step(NamedTuple):
    """One lifting step, ``x[target] += gain * P x``, ``P`` separable along the two diagonals.

    ``J[i] = x[first[i]] @ weights`` (first diagonal), then ``P x[i] = J[second[i]] @ weights``
    (second diagonal, ``J`` indexed like ``target``). Targets and sources are disjoint cosets.
    """

    target: np.ndarray  # [n] sorted flat positions updated in place
    first: np.ndarray  # [n, 2N] flat positions of x
    second: np.ndarray  # [n, 2N] indices into target
    weights: np.ndarray  # [2N] modulated ladder filter
    gain: float


class _Plan(NamedTuple):
    steps: tuple[_Step, ...]
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


def _ladder_taps(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    """Nominal range of ``theta`` in degrees (see the module docstring) for a slope wedge.

    "h" wedges hold ``|w_col| < |w_row|``, slope ``w_col / w_row = cot(theta)``;
    "v" wedges hold ``|w_row| < |w_col|``, slope ``w_row / w_col = tan(theta)``.
    """
    if wedge is None:
        return (-45.0, 135.0)
    kind, lo, hi = wedge
    if kind == "v":
        return (math.degrees(math.atan(lo)), math.degrees(math.atan(hi)))
    return (90.0 - math.degrees(math.atan(hi)), 90.0 - math.degrees(math.atan(lo)))


def _dfb_factor(k: int) -> int:
    """H and W of a band must be divisible by this for a ``k``-level DFB."""
    return 1 if k == 0 else 2 ** max(k - 1, 1)


def _subband_shapes(shape: tuple[int, int], k: int) -> list[tuple[int, int]]:
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
def _dfb_plan(h: int, w: int, k: int, name: str) -> _Plan:
    """Unrolls the ``k``-level DFB of an ``[h, w]`` band into index maps."""
    taps = _ladder_taps(name)
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
            steps.append(_Step(target[order].astype(np.int32), first[order].astype(np.int32),
                               rank[second[order]].astype(np.int32), taps[2], gain))
            log_gain[target] += 0.5 if coset else -0.5

    # Lay every subband out as a rectangular array on its sampling lattice.
    nodes.sort(key=lambda nd: _orientation(nd.wedge)[0])
    gathers = []
    for node, shape in zip(nodes, _subband_shapes((h, w), k)):
        layout = _layout(node.wedge, k)
        assert _same_lattice(layout, node.basis)
        i0, i1 = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
        gathers.append(_flat(node.offset + np.stack([i0, i1], -1) @ layout.T, (h, w)).ravel())
        assert np.array_equal(np.sort(gathers[-1]), np.sort(_flat(node.positions, (h, w))))
    gather = np.concatenate(gathers).astype(np.int32)
    assert np.array_equal(np.sort(gather), np.arange(h * w))
    return _Plan(tuple(steps), gather, np.argsort(gather).astype(np.int32),
                 2.0 ** log_gain[gather], tuple(_subband_shapes((h, w), k)),
                 tuple(_orientation(nd.wedge) for nd in nodes))


# --------------------------------------------------------------------------------------------
# The DFB in JAX
# --------------------------------------------------------------------------------------------


def _as_image(x: Any, name: str = "image") -> jax.Array:
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be one single-channel image [H, W] (batch with jax.vmap); "
                         f"got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{name} must have a float dtype; got {x.dtype} (convert at the edge)")
    return x


def _check_k(k: Any, what: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= 8:
        raise ValueError(f"{what} must be a Python int in [0, 8]; got {k!r}")
    return int(k)


def _lift(x: jax.Array, step: _Step, sign: float) -> jax.Array:
    """``x[target] += sign * gain * P x`` (targets and sources are disjoint)."""
    weights = jnp.asarray(step.weights, x.dtype)
    j = (x[step.first] * weights).sum(-1)
    p = (j[step.second] * (weights * (sign * step.gain))).sum(-1)
    return x.at[step.target].add(p, indices_are_sorted=True, unique_indices=True)


def _dfb(band: jax.Array, k: int, name: str) -> tuple[jax.Array, ...]:
    h, w = band.shape
    plan = _dfb_plan(h, w, k, name)
    x = band.reshape(-1)
    for step in plan.steps:
        x = _lift(x, step, 1.0)
    x = x[plan.gather] * jnp.asarray(plan.scale, x.dtype)
    out, start = [], 0
    for shape in plan.shapes:
        out.append(x[start:start + shape[0] * shape[1]].reshape(shape))
        start += shape[0] * shape[1]
    return tuple(out)


def _idfb(subbands: Sequence[jax.Array], shape: tuple[int, int], k: int,
          name: str) -> jax.Array:
    plan = _dfb_plan(shape[0], shape[1], k, name)
    x = jnp.concatenate([s.reshape(-1) for s in subbands])
    x = (x / jnp.asarray(plan.scale, x.dtype))[plan.scatter]
    for step in reversed(plan.steps):
        x = _lift(x, step, -1.0)
    return x.reshape(shape)


def _band_shape(subbands: Sequence[Any], k: int) -> tuple[int, int]:
    """The ``[H, W]`` of the band from its ``2**k`` subbands (raises on malformed input)."""
    shapes = [tuple(np.shape(s)) for s in subbands]
    if len(shapes) != 2**k or any(len(s) != 2 for s in shapes):
        raise ValueError(f"a {k}-level DFB has {2**k} subbands [h, w]; got shapes {shapes}")
    if k == 0:
        shape = shapes[0]
    elif k == 1:
        shape = (shapes[0][0], 2 * shapes[0][1])
    else:
        shape = (2 * shapes[-1][0], 2 * shapes[0][1])
    f = _dfb_factor(k)
    if shapes != _subband_shapes(shape, k) or shape[0] % f or shape[1] % f:
        raise ValueError(f"subband shapes {shapes} are not those of a {k}-level DFB (expected "
                         f"{_subband_shapes(shape, k)} for a band of shape {shape})")
    return shape


def _check_band_shape(shape: tuple[int, int], k: int, what: str) -> None:
    f = _dfb_factor(k)
    if shape[0] % f or shape[1] % f:
        raise ValueError(f"{what} of shape {shape}: a {k}-level DFB needs H and W divisible by "
                         f"{f}")


def dfb_orientations(k: int) -> tuple[tuple[float, float], ...]:
    """Nominal orientation range ``(lo, hi)`` (degrees) of each subband of a ``k``-level DFB.

    Args:
      k: DFB levels (``2**k`` subbands), Python int in [0, 8].

    Returns:
      ``2**k`` ranges in subband order (increasing ``theta``), within ``[-45, 135]``; see the
      module docstring for the angle convention.

    Example:
      >>> [tuple(round(t) for t in r) for r in dfb_orientations(2)]
      [(-45, 0), (0, 45), (45, 90), (90, 135)]
    """
    k = _check_k(k)
    f = _dfb_factor(k)
    return _dfb_plan(f, f, k, _DEFAULT_FILTER).orientations


def directional_filter_bank(band: jax.typing.ArrayLike, *, k: int = 3,
                            dfb_filter: str = _DEFAULT_FILTER) -> tuple[jax.Array, ...]:
    """The ``k``-level directional filter bank (Bamberger & Smith 1992) of one image.

    Critically sampled (``H * W`` coefficients), periodic boundary, perfectly reconstructed by
    :func:`inverse_directional_filter_bank` (ladder structure; see the module docstring).

    Args:
      band: ``[H, W]`` float image, ``H`` and ``W`` divisible by ``2**max(k - 1, 1)``.
      k: DFB levels, ``2**k`` directional subbands (static Python int in [0, 8]).
      dfb_filter: ladder filter, a key of :data:`DFB_FILTERS` (static).

    Returns:
      ``2**k`` arrays of ``band``'s dtype, ordered by increasing orientation
      (:func:`dfb_orientations`): for ``k >= 2`` the first half ``[H / 2**(k-1), W / 2]``
      (``theta`` in ``[-45, 45]``), the second half ``[H / 2, W / 2**(k-1)]``; for ``k = 1``
      two ``[H, W / 2]`` arrays (sheared quincunx layout); for ``k = 0`` the band itself.

    Raises:
      ValueError: bad ``k``, filter, or a shape not divisible as required (shape printed).

    Example:
      >>> import jax.numpy as jnp
      >>> [s.shape for s in directional_filter_bank(jnp.zeros((32, 64)), k=3)]
      [(8, 32), (8, 32), (8, 32), (8, 32), (16, 16), (16, 16), (16, 16), (16, 16)]
    """
    x = _as_image(band, "band")
    k = _check_k(k)
    _ladder_taps(dfb_filter)
    _check_band_shape(x.shape, k, "band")
    return _dfb(x, k, dfb_filter)


def inverse_directional_filter_bank(subbands: Sequence[jax.typing.ArrayLike], *,
                                    dfb_filter: str = _DEFAULT_FILTER) -> jax.Array:
    """Inverts :func:`directional_filter_bank` (``k`` and the band shape follow from the input).

    Args:
      subbands: the ``2**k`` arrays returned by :func:`directional_filter_bank`, in order.
      dfb_filter: the ladder filter used for the decomposition (static).

    Returns:
      ``[H, W]`` array.

    Raises:
      ValueError: the number or shapes of the subbands do not form a DFB.

    Example:
      >>> import jax.numpy as jnp
      >>> x = jnp.linspace(0, 1, 32 * 32).reshape(32, 32)
      >>> y = inverse_directional_filter_bank(directional_filter_bank(x, k=3))
      >>> bool(jnp.allclose(x, y, atol=1e-5))
      True
    """
    n = len(subbands)
    k = n.bit_length() - 1
    if n < 1 or 2**k != n:
        raise ValueError(f"the number of subbands must be a power of two; got {n}")
    _ladder_taps(dfb_filter)
    shape = _band_shape(subbands, k)
    arrays = [_as_image(s, "subband") for s in subbands]
    dtype = jnp.result_type(*arrays)
    return _idfb([a.astype(dtype) for a in arrays], shape, k, dfb_filter)


# --------------------------------------------------------------------------------------------
# The contourlet transform
# --------------------------------------------------------------------------------------------


@functools.partial(jax.tree_util.register_dataclass, data_fields=["lowpass", "bandpass"],
                   meta_fields=["directions", "orientations", "image_shape", "dfb_filter"])
@dataclasses.dataclass(frozen=True, eq=False)
class ContourletCoefficients:
    """Contourlet coefficients of one image: a pytree whose leaves are the arrays.

    Attributes:
      lowpass: ``[H / 2**L, W / 2**L]`` low-pass residual of the pyramid (``L`` levels); set to
        ``None`` in the high-pass half returned by ``CONTOURLET.split``.
      bandpass: ``L`` tuples, COARSEST level first; level ``i`` holds the ``2**directions[i]``
        directional subbands of the pyramid band of shape ``[H / 2**(L-1-i), W / 2**(L-1-i)]``,
        in the order of :func:`directional_filter_bank`.
      directions: static ``k`` per level, coarsest first.
      orientations: static, per level and subband, the nominal ``(lo, hi)`` orientation range
        in degrees (module docstring).
      image_shape: static ``(H, W)``.
      dfb_filter: static name of the DFB ladder filter.
    """

    lowpass: Any
    bandpass: tuple[tuple[Any, ...], ...]
    directions: tuple[int, ...]
    orientations: tuple[tuple[tuple[float, float], ...], ...]
    image_shape: tuple[int, int]
    dfb_filter: str = _DEFAULT_FILTER


def default_directions(levels: int) -> tuple[int, ...]:
    """Default DFB levels, coarsest first: 3 at the two finest levels, one fewer every two levels.

    Example:
      >>> default_directions(4), default_directions(6)
      ((2, 2, 3, 3), (1, 1, 2, 2, 3, 3))
    """
    return tuple(max(3 - j // 2, 1) for j in reversed(range(levels)))


def _check_options(levels: Any, directions: Any) -> tuple[int, tuple[int, ...]]:
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
        raise ValueError(f"levels must be a positive Python int; got {levels!r}")
    if directions is None:
        return levels, default_directions(levels)
    directions = tuple(directions)
    if len(directions) != levels:
        raise ValueError(f"directions must give one k per pyramid level (coarsest first); got "
                         f"{directions} for levels={levels}")
    return levels, tuple(_check_k(k, "each directions entry") for k in directions)


def _required_factor(levels: int, directions: tuple[int, ...]) -> int:
    """H and W must be divisible by this: every band (finest = 0) at ``j`` is ``H / 2**j``."""
    factor = 2**levels
    for j, k in enumerate(reversed(directions)):
        factor = max(factor, 2**j * _dfb_factor(k))
    return factor


def contourlet_transform(image: jax.typing.ArrayLike, *, levels: int = 4,
                         directions: Sequence[int] | None = None,
                         dfb_filter: str = _DEFAULT_FILTER) -> ContourletCoefficients:
    """Contourlet transform of one image (Do & Vetterli 2005): pyramid + directional banks.

    Args:
      image: ``[H, W]`` float image; ``H`` and ``W`` divisible by the largest of ``2**levels``
        and ``2**(j + max(k_j - 1, 1))`` over the levels ``j`` (0 = finest) with ``k_j >= 1``:
        16 for the defaults (256 x 256 is the main case).
      levels: pyramid levels (static Python int >= 1).
      directions: DFB levels ``k`` per pyramid level, COARSEST first (``2**k`` subbands;
        static); default :func:`default_directions` (``(2, 2, 3, 3)`` for 4 levels).
      dfb_filter: DFB ladder filter, a key of :data:`DFB_FILTERS` (static).

    Returns:
      :class:`ContourletCoefficients` of ``image``'s dtype, about ``4/3 H W`` coefficients
      (the pyramid's redundancy; the DFB is critically sampled).

    Raises:
      ValueError: ``image`` is not 2-D or its shape is not divisible as required (shape
        printed); bad ``levels``, ``directions`` or filter.

    Example:
      >>> import jax.numpy as jnp
      >>> c = contourlet_transform(jnp.zeros((256, 256)))
      >>> c.directions, c.lowpass.shape, [len(b) for b in c.bandpass], c.bandpass[-1][0].shape
      ((2, 2, 3, 3), (16, 16), [4, 4, 8, 8], (64, 128))
    """
    x = _as_image(image)
    levels, directions = _check_options(levels, directions)
    _ladder_taps(dfb_filter)
    factor = _required_factor(levels, directions)
    if x.shape[0] % factor or x.shape[1] % factor:
        raise ValueError(f"contourlet_transform: image shape {x.shape} must have H and W "
                         f"divisible by {factor} for levels={levels}, directions={directions}")
    *bands, low = laplacian_pyramid(x, levels=levels)
    bandpass = tuple(_dfb(band, k, dfb_filter) for band, k in zip(reversed(bands), directions))
    orientations = tuple(dfb_orientations(k) for k in directions)
    return ContourletCoefficients(low, bandpass, directions, orientations,
                                  tuple(x.shape), dfb_filter)


def inverse_contourlet_transform(coeffs: ContourletCoefficients) -> jax.Array:
    """Inverts :func:`contourlet_transform` (perfect reconstruction up to float rounding).

    Args:
      coeffs: :class:`ContourletCoefficients` (all static information travels with it).

    Returns:
      ``[H, W]`` image of the coefficients' dtype.

    Raises:
      ValueError: ``coeffs`` is not a :class:`ContourletCoefficients` or its shapes are
        inconsistent (shapes printed).

    Example:
      >>> import jax.numpy as jnp
      >>> x = jnp.linspace(0, 1, 64 * 64).reshape(64, 64)
      >>> y = inverse_contourlet_transform(contourlet_transform(x, levels=2))
      >>> bool(jnp.allclose(x, y, atol=1e-5))
      True
    """
    if not isinstance(coeffs, ContourletCoefficients):
        raise ValueError(f"coeffs must be ContourletCoefficients; got {type(coeffs).__name__}")
    if coeffs.lowpass is None or len(coeffs.bandpass) != len(coeffs.directions):
        raise ValueError("coeffs must hold the low-pass residual and one band-pass tuple per "
                         f"entry of directions={coeffs.directions}")
    bands = []
    for level, (subbands, k) in enumerate(zip(coeffs.bandpass, coeffs.directions)):
        shape = _band_shape(subbands, k)
        bands.append(_idfb([_as_image(s, f"bandpass[{level}]") for s in subbands], shape, k,
                           coeffs.dfb_filter))
    return reconstruct_laplacian_pyramid([*reversed(bands), coeffs.lowpass])


def _split(coeffs: ContourletCoefficients) -> tuple[Any, ContourletCoefficients]:
    return coeffs.lowpass, dataclasses.replace(coeffs, lowpass=None)


def _merge(low: Any, high: ContourletCoefficients) -> ContourletCoefficients:
    return dataclasses.replace(high, lowpass=low)


#: The contourlet transform as a :class:`jaxfuse.multiscale.transforms.MultiscaleTransform`: the low-pass
#: part is the pyramid residual, the high-pass part every directional subband.
CONTOURLET = MultiscaleTransform(forward=contourlet_transform,
                                 inverse=inverse_contourlet_transform,
                                 split=_split, merge=_merge)
