"""The frequency tiling of the curvelet transform: windows, wedges and wrapping plan (NumPy).

Everything here is host-side NumPy in float64, computed once per ``(shape, levels, angles)`` and
cached; :mod:`jaxfuse.multiscale.curvelet` applies the result in JAX as one gather and one
scatter-add of constant indices.

Radial windows (the paper's Cartesian coronae):
    With the profile ``phi`` equal to 1 on ``|t| <= 1/2``, 0 on ``|t| >= 1`` and Meyer's
    polynomial in between, ``P_c(w) = phi(w0 / c) phi(w1 / c)`` on normalised frequencies
    ``w_i = 2 k_i / N_i`` in [-1, 1); scale ``s`` uses ``c_s = 2 ** (s - levels)``: coarse
    ``P_{c_1}``, curvelet scale ``s`` is ``sqrt(P_{c_{s+1}}**2 - P_{c_s}**2)``, finest
    ``sqrt(1 - P_1**2)``. The squared windows sum to one at every frequency (tight frame).

Angles:
    Curvelet scale ``s`` (1-based) has ``angles * 2 ** ceil((s - 1) / 2)`` wedges: ``angles`` at
    the second-coarsest scale, doubled at the next and every second scale after (16, 32, 32, 64,
    ... for ``angles=16``). Wedges are equispaced in slope along each side of the square (a
    quarter of them per side, so ``angles`` must be a multiple of 4); each angular window is flat
    over the middle half of its wedge and rolls off into its neighbours over a quarter wedge on
    each side. Within a scale the wedges are ordered by their frequency-direction angle
    (``CurveletLayout.wedge_angles``), measured in radians in [0, 2 pi) from the +x (column) axis
    towards +y (increasing row index): a grating ``cos(2 pi f (x cos(t) + y sin(t)))`` lives in
    the wedges at ``t`` and ``t + pi``.

Wrapping:
    The wedges of a scale whose centre lies on the east/west sides share one rectangle
    ``[L0, L1]`` (``L1`` spans the wedge's radial extent along axis 1, ``L0`` its widest extent
    along axis 0 within one column), the north/south wedges the transposed construction; both are
    computed from the sampled window supports, so every image size works and the periodisation is
    one-to-one on each wedge's support.

References:
    E. J. Candes, L. Demanet, D. L. Donoho and L. Ying, "Fast discrete curvelet transforms",
    Multiscale Model. Simul. 5(3):861-899, 2006.
    Y. Meyer, "Ondelettes et operateurs I", Hermann, 1990 (the auxiliary polynomial ``nu``).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

__all__ = ["CurveletLayout", "CurveletPlan", "curvelet_plan"]


class CurveletLayout(NamedTuple):
    """Static description of a curvelet decomposition (hashable; pytree metadata).

    Attributes:
        shape: image shape ``(H, W)``.
        levels: decomposition levels (``levels + 1`` scales).
        angles: wedges at the second-coarsest scale.
        coarse_shape: shape of the coarse band.
        wedge_counts: number of wedges of each curvelet scale, coarsest first.
        wedge_angles: per curvelet scale, the frequency-direction angle of each wedge's centre,
            radians in [0, 2 pi), ascending (see the module docstring for the axes).
        wedge_shapes: per curvelet scale, the shape of each wedge's coefficient array.
    """

    shape: tuple[int, int]
    levels: int
    angles: int
    coarse_shape: tuple[int, int]
    wedge_counts: tuple[int, ...]
    wedge_angles: tuple[tuple[float, ...], ...]
    wedge_shapes: tuple[tuple[tuple[int, int], ...], ...]


# --------------------------------------------------------------------------------------------
# Windows (float64)
# --------------------------------------------------------------------------------------------


def _nu(t: np.ndarray) -> np.ndarray:
    """Meyer's auxiliary polynomial: 0 for t <= 0, 1 for t >= 1, nu(t) + nu(1 - t) = 1."""
    t = np.clip(t, 0.0, 1.0)
    return t**4 * (35 - 84 * t + 70 * t**2 - 20 * t**3)


def _phi(t: np.ndarray) -> np.ndarray:
    """The paper's 1-D low-pass profile: 1 on |t| <= 1/2, 0 on |t| >= 1, smooth between."""
    a = np.abs(t)
    return np.where(a < 1, np.cos(0.5 * np.pi * _nu(2 * a - 1)), 0.0)


def _lowpass(x0: np.ndarray, x1: np.ndarray, c: float) -> np.ndarray:
    return _phi(x0 / c) * _phi(x1 / c)


def _pseudo_angle(x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    """Position along the unit square's boundary, [0, 8), counter-clockwise from the +x axis.

    East side (|x0| <= x1): the slope x0 / x1 in [-1, 1]; north: 2 - x1 / x0; west:
    4 + x0 / x1; south: 6 - x1 / x0 (taken mod 8). Continuous across the diagonals.
    """
    horizontal = np.abs(x1) >= np.abs(x0)
    s1 = np.where(x1 == 0, 1.0, x1)
    s0 = np.where(x0 == 0, 1.0, x0)
    tau = np.where(horizontal, np.where(x1 > 0, x0 / s1, 4 + x0 / s1),
                   np.where(x0 > 0, 2 - x1 / s0, 6 - x1 / s0))
    return np.mod(tau, 8.0)


def _angle_of(tau: float) -> float:
    """Frequency-direction angle in [0, 2 pi) of the square-boundary position ``tau``."""
    t = (tau + 1) % 8 - 1
    if t < 1:
        x1, x0 = 1.0, t
    elif t < 3:
        x1, x0 = 2 - t, 1.0
    elif t < 5:
        x1, x0 = -1.0, 4 - t
    else:
        x1, x0 = t - 6, -1.0
    return math.atan2(x0, x1) % (2 * math.pi)


def _angular_window(tau: np.ndarray, start: float, width: float) -> np.ndarray:
    """Wedge ``[start, start + width]`` of the pseudo-angle; flat over its middle half.

    Neighbouring windows overlap over ``2 * delta`` (``delta = width / 4``) and the squares of
    a rising and the matching falling edge sum to 1 (sin**2 + cos**2).
    """
    delta = width / 4
    d = np.mod(tau - start + delta, 8.0)
    rise = np.sin(0.5 * np.pi * _nu(d / (2 * delta)))
    fall = np.cos(0.5 * np.pi * _nu((d - width) / (2 * delta)))
    return np.where(d < 2 * delta, rise,
                    np.where(d <= width, 1.0, np.where(d < width + 2 * delta, fall, 0.0)))


def _wedge_counts(levels: int, angles: int) -> tuple[int, ...]:
    return tuple(angles * 2 ** math.ceil((s - 1) / 2) for s in range(1, levels))


# --------------------------------------------------------------------------------------------
# The plan: gather indices and weights of every wrapped rectangle
# --------------------------------------------------------------------------------------------


class CurveletPlan(NamedTuple):
    """Gather indices and window weights of every wrapped rectangle (NumPy, built once per shape)."""

    layout: CurveletLayout
    src: np.ndarray  # int32 [M]: flat DFT-grid index read into each wrapped slot
    weight: np.ndarray  # float64 [M]: window value of that slot (0 for an empty slot)
    blocks: tuple[tuple[int, int, int, int], ...]  # (offset, count, L0, L1); block 0 = coarse
    members: tuple[tuple[tuple[int, int], ...], ...]  # per block >= 1: (scale, wedge) per slot
    fine: np.ndarray  # float64 [H, W]: finest-scale window


def _wrap(k0: np.ndarray, k1: np.ndarray, l0: int, l1: int) -> np.ndarray:
    """Flat index in the ``[l0, l1]`` rectangle of frequencies ``(k0, k1)`` taken mod (l0, l1)."""
    dest = np.mod(k0, l0) * l1 + np.mod(k1, l1)
    if np.unique(dest).size != dest.size:  # internal invariant of the extents below
        raise AssertionError("curvelet wrapping is not one-to-one")
    return dest


def _column_extent(along: np.ndarray, across: np.ndarray) -> int:
    """Largest extent of ``along`` among points sharing one value of ``across``."""
    _, inv = np.unique(across, return_inverse=True)
    lo = np.full(inv.max() + 1, np.iinfo(np.int64).max)
    hi = np.full(inv.max() + 1, np.iinfo(np.int64).min)
    np.minimum.at(lo, inv, along)
    np.maximum.at(hi, inv, along)
    return int((hi - lo).max()) + 1


@functools.lru_cache(maxsize=32)
def curvelet_plan(shape: tuple[int, int], levels: int, angles: int) -> CurveletPlan:
    """The windows and wrapping index maps of a curvelet decomposition (cached).

    Args:
        shape: image shape ``(H, W)``.
        levels: decomposition levels (``levels + 1`` scales), a checked positive int.
        angles: wedges at the second-coarsest scale, a checked positive multiple of 4.

    Returns:
        The :class:`CurveletPlan`; its ``layout`` describes the coefficients.

    Raises:
        ValueError: a wedge has no frequency support (the image is too small).
    """
    n0, n1 = shape
    k0 = np.rint(np.fft.fftfreq(n0) * n0).astype(np.int64)
    k1 = np.rint(np.fft.fftfreq(n1) * n1).astype(np.int64)
    g0, g1 = np.meshgrid(k0, k1, indexing="ij")
    x0, x1 = 2.0 * g0 / n0, 2.0 * g1 / n1
    flat = np.mod(g0, n0) * n1 + np.mod(g1, n1)
    tau = _pseudo_angle(x0, x1)
    low = {s: _lowpass(x0, x1, 2.0 ** (s - levels)) for s in range(1, levels + 1)}

    srcs, weights, blocks, members = [], [], [], []
    offset = 0

    def add_block(items, l0, l1):  # items: list of (mask, window, member)
        nonlocal offset
        src = np.zeros((len(items), l0 * l1), np.int64)
        wt = np.zeros((len(items), l0 * l1))
        for i, (mask, win, _) in enumerate(items):
            dest = _wrap(g0[mask], g1[mask], l0, l1)
            src[i, dest] = flat[mask]
            wt[i, dest] = win[mask]
        srcs.append(src.ravel())
        weights.append(wt.ravel())
        blocks.append((offset, len(items), l0, l1))
        members.append(tuple(item[2] for item in items))
        offset += src.size

    # Coarse band: wrapped into the bounding box of its support.
    coarse = low[1]
    mask = coarse > 0
    coarse_shape = (int(np.ptp(g0[mask])) + 1, int(np.ptp(g1[mask])) + 1)
    add_block([(mask, coarse, None)], *coarse_shape)

    counts = _wedge_counts(levels, angles)
    all_angles, all_shapes = [], []
    for s, n in enumerate(counts, start=1):
        radial = np.sqrt(np.clip(low[s + 1] ** 2 - low[s] ** 2, 0.0, None))
        width = 8.0 / n
        wedges = []
        for m in range(n):
            start = -1 + m * width
            centre = start + width / 2
            win = radial * _angular_window(tau, start, width)
            mask = win > 0
            if not mask.any():
                raise ValueError(
                    f"curvelet_transform: image shape {shape} is too small for levels={levels}, "
                    f"angles={angles}: wedge {m} of curvelet scale {s} has no frequency support; "
                    "use a larger image, fewer levels or fewer angles")
            horizontal = -1 < centre < 1 or 3 < centre < 5
            wedges.append((_angle_of(centre), horizontal, mask, win))
        order = sorted(range(n), key=lambda m: wedges[m][0])
        rank = {m: r for r, m in enumerate(order)}
        shapes = [None] * n
        for family in (True, False):
            ids = [m for m in range(n) if wedges[m][1] == family]
            # Radial axis 1 for east/west wedges, axis 0 for north/south ones.
            radial_axis, angular_axis = (g1, g0) if family else (g0, g1)
            l_rad = max(int(np.ptp(radial_axis[wedges[m][2]])) + 1 for m in ids)
            l_ang = max(_column_extent(angular_axis[wedges[m][2]], radial_axis[wedges[m][2]])
                        for m in ids)
            l0, l1 = (l_ang, l_rad) if family else (l_rad, l_ang)
            add_block([(wedges[m][2], wedges[m][3], (s - 1, rank[m])) for m in ids], l0, l1)
            for m in ids:
                shapes[rank[m]] = (l0, l1)
        all_angles.append(tuple(wedges[m][0] for m in order))
        all_shapes.append(tuple(shapes))

    layout = CurveletLayout(shape=tuple(shape), levels=levels, angles=angles,
                            coarse_shape=coarse_shape, wedge_counts=counts,
                            wedge_angles=tuple(all_angles), wedge_shapes=tuple(all_shapes))
    fine = np.sqrt(np.clip(1.0 - low[levels] ** 2, 0.0, None))
    return CurveletPlan(layout, np.concatenate(srcs).astype(np.int32), np.concatenate(weights),
                        tuple(blocks), tuple(members), fine)

