"""The directional filter bank (DFB; Bamberger & Smith 1992) in pure JAX.

Splits one band into ``2**k`` wedge-shaped directional subbands, critically sampled, periodic
boundary, perfectly reconstructed by :func:`inverse_directional_filter_bank`. The filters and the
tree (quincunx ladder filter banks, resampled from level 3 on) are unrolled into constant index
maps by :mod:`jaxfuse.multiscale.dfb_plan`; here each lifting step is two gathers and one
scatter-add over the whole band. It is the directional half of the contourlet transform.

Orientation convention:
    A subband's orientation is the angle ``theta`` (degrees) of the frequency vector, from the
    column axis ``x`` towards the row axis ``y``: the grating
    ``cos(2 pi f (x cos(theta) + y sin(theta)))`` (``x`` the column index, ``y`` the row index)
    has orientation ``theta`` (mod 180). The wedges of a ``k``-level DFB are bounded by equally
    spaced slopes (not angles): ``tan(theta)`` in ``{-1, ..., 1}`` steps ``2**(2-k)`` for
    ``theta in [-45, 45]`` and ``cot(theta)`` likewise for ``theta in [45, 135]``. Subbands are
    ordered by increasing ``theta``; :func:`dfb_orientations` gives each one's nominal range
    ``(lo, hi)`` in degrees within ``[-45, 135]``.

Image contract: :mod:`jaxfuse.multiscale.base`.

References:
    R. H. Bamberger and M. J. T. Smith, "A filter bank for the directional decomposition of
    images: theory and design", IEEE Trans. Signal Process. 40(4):882-893, 1992.
    M. N. Do and M. Vetterli, "The contourlet transform: an efficient directional multiresolution
    image representation", IEEE Trans. Image Process. 14(12):2091-2106, 2005.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxfuse.multiscale.base import as_image
from jaxfuse.multiscale.dfb_plan import (
    DEFAULT_FILTER,
    DFB_FILTERS,
    LiftingStep,
    dfb_factor,
    dfb_plan,
    ladder_taps,
    subband_shapes,
)

__all__ = [
    "DFB_FILTERS",
    "analysis",
    "band_shape",
    "check_k",
    "dfb_orientations",
    "directional_filter_bank",
    "inverse_directional_filter_bank",
    "synthesis",
]


def check_k(k: Any, what: str = "k") -> int:
    """Returns ``k`` as an int if it is a valid number of DFB levels (0..8), else raises ValueError.

    Args:
        k: DFB levels asked for (a Python or NumPy int, not a bool).
        what: what ``k`` is, for the error message.

    Returns:
        ``int(k)``.

    Raises:
        ValueError: ``k`` is not an int in [0, 8].
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= 8:
        raise ValueError(f"{what} must be a Python int in [0, 8]; got {k!r}")
    return int(k)


def _lift(x: jax.Array, step: LiftingStep, sign: float) -> jax.Array:
    """``x[target] += sign * gain * P x`` (targets and sources are disjoint)."""
    weights = jnp.asarray(step.weights, x.dtype)
    j = (x[step.first] * weights).sum(-1)
    p = (j[step.second] * (weights * (sign * step.gain))).sum(-1)
    return x.at[step.target].add(p, indices_are_sorted=True, unique_indices=True)


def analysis(band: jax.Array, k: int, name: str) -> tuple[jax.Array, ...]:
    """The DFB of a checked ``[H, W]`` band (no validation; see :func:`directional_filter_bank`).

    Args:
        band: ``[H, W]`` float array, ``H`` and ``W`` divisible by ``dfb_factor(k)``.
        k: DFB levels (checked).
        name: ladder filter, a key of :data:`DFB_FILTERS` (checked).

    Returns:
        The ``2**k`` subbands of ``band``'s dtype, in orientation order.
    """
    h, w = band.shape
    plan = dfb_plan(h, w, k, name)
    x = band.reshape(-1)
    for step in plan.steps:
        x = _lift(x, step, 1.0)
    x = x[plan.gather] * jnp.asarray(plan.scale, x.dtype)
    out, start = [], 0
    for shape in plan.shapes:
        out.append(x[start:start + shape[0] * shape[1]].reshape(shape))
        start += shape[0] * shape[1]
    return tuple(out)


def synthesis(subbands: Sequence[jax.Array], shape: tuple[int, int], k: int,
              name: str) -> jax.Array:
    """Inverse of :func:`analysis` (no validation; see :func:`inverse_directional_filter_bank`).

    Args:
        subbands: the ``2**k`` subbands, one dtype, shapes as :func:`band_shape` checked.
        shape: the band's ``(H, W)``.
        k: DFB levels.
        name: the ladder filter used by :func:`analysis`.

    Returns:
        ``[H, W]`` array of the subbands' dtype.
    """
    plan = dfb_plan(shape[0], shape[1], k, name)
    x = jnp.concatenate([s.reshape(-1) for s in subbands])
    x = (x / jnp.asarray(plan.scale, x.dtype))[plan.scatter]
    for step in reversed(plan.steps):
        x = _lift(x, step, -1.0)
    return x.reshape(shape)


def band_shape(subbands: Sequence[Any], k: int) -> tuple[int, int]:
    """The ``[H, W]`` of the band from its ``2**k`` subbands.

    Args:
        subbands: ``2**k`` arrays (or anything with a shape).
        k: DFB levels.

    Returns:
        ``(H, W)``.

    Raises:
        ValueError: the number or the shapes of the subbands do not form a ``k``-level DFB.
    """
    shapes = [tuple(np.shape(s)) for s in subbands]
    if len(shapes) != 2**k or any(len(s) != 2 for s in shapes):
        raise ValueError(f"a {k}-level DFB has {2**k} subbands [h, w]; got shapes {shapes}")
    if k == 0:
        shape = shapes[0]
    elif k == 1:
        shape = (shapes[0][0], 2 * shapes[0][1])
    else:
        shape = (2 * shapes[-1][0], 2 * shapes[0][1])
    f = dfb_factor(k)
    if shapes != subband_shapes(shape, k) or shape[0] % f or shape[1] % f:
        raise ValueError(f"subband shapes {shapes} are not those of a {k}-level DFB (expected "
                         f"{subband_shapes(shape, k)} for a band of shape {shape})")
    return shape


def _check_band_shape(shape: tuple[int, int], k: int, what: str) -> None:
    f = dfb_factor(k)
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
    k = check_k(k)
    f = dfb_factor(k)
    return dfb_plan(f, f, k, DEFAULT_FILTER).orientations


def directional_filter_bank(band: jax.typing.ArrayLike, *, k: int = 3,
                            dfb_filter: str = DEFAULT_FILTER) -> tuple[jax.Array, ...]:
    """The ``k``-level directional filter bank (Bamberger & Smith 1992) of one image.

    Critically sampled (``H * W`` coefficients), periodic boundary, perfectly reconstructed by
    :func:`inverse_directional_filter_bank` (ladder structure; see :mod:`jaxfuse.multiscale.dfb_plan`).

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
    x = as_image(band, "band")
    k = check_k(k)
    ladder_taps(dfb_filter)
    _check_band_shape(x.shape, k, "band")
    return analysis(x, k, dfb_filter)


def inverse_directional_filter_bank(subbands: Sequence[jax.typing.ArrayLike], *,
                                    dfb_filter: str = DEFAULT_FILTER) -> jax.Array:
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
    ladder_taps(dfb_filter)
    shape = band_shape(subbands, k)
    arrays = [as_image(s, "subband") for s in subbands]
    dtype = jnp.result_type(*arrays)
    return synthesis([a.astype(dtype) for a in arrays], shape, k, dfb_filter)

