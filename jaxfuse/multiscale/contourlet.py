"""The contourlet transform (Do & Vetterli 2005) in pure JAX.

A contourlet transform is a Laplacian pyramid (multiscale) followed, on every band-pass level,
by a directional filter bank (DFB; Bamberger & Smith 1992) that splits the level into ``2**k``
wedge-shaped directional subbands. Everything here is built from the papers' mathematics.

Pyramid:
    The Burt & Adelson pyramid of :func:`jaxfuse.multiscale.laplacian.laplacian_pyramid` (5-tap
    binomial kernel [1, 4, 6, 4, 1]/16, mirror boundary) and its exact reconstruction
    ``G_k = L_k + expand(G_{k+1})``; it is the package's "laplacian" baseline, so the two
    transforms differ only by the DFB. (Do & Vetterli use biorthogonal 9-7 filters and a
    dual-frame reconstruction; any perfectly reconstructing pyramid fits the construction.)

Directional filter bank:
    :mod:`jaxfuse.multiscale.dfb` (critically sampled, periodic, ladder quincunx filter banks;
    the filters and the tree are described in :mod:`jaxfuse.multiscale.dfb_plan`), with its
    orientation convention: ``theta`` in degrees of the frequency vector, from the column axis
    towards the row axis, subbands ordered by increasing ``theta`` within ``[-45, 135]``.
    :attr:`ContourletCoefficients.orientations` records each subband's nominal range.

Directions:
    ``directions[i] = k`` gives ``2**k`` subbands at pyramid level ``i``, counted COARSE TO FINE
    (``directions[-1]`` is the finest level); ``k = 0`` keeps the band-pass level undivided. The
    default doubles the number of directions at every other finer level (the parabolic scaling
    rule of Do & Vetterli), finest two levels with 8: ``(2, 2, 3, 3)`` for 4 levels (4, 4, 8, 8
    subbands); see :func:`default_directions`.

Image contract: :mod:`jaxfuse.multiscale.base`; jit-able (options static) and differentiable;
coefficients keep the input dtype.

References:
    M. N. Do and M. Vetterli, "The contourlet transform: an efficient directional multiresolution
    image representation", IEEE Trans. Image Process. 14(12):2091-2106, 2005.
    R. H. Bamberger and M. J. T. Smith, "A filter bank for the directional decomposition of
    images: theory and design", IEEE Trans. Signal Process. 40(4):882-893, 1992.
    P. J. Burt and E. H. Adelson, "The Laplacian pyramid as a compact image code", IEEE Trans.
    Commun. 31(4):532-540, 1983.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import jax

from jaxfuse.multiscale.base import MultiscaleTransform, as_image, check_levels, lowpass_field
from jaxfuse.multiscale.dfb import (
    DFB_FILTERS,
    analysis,
    band_shape,
    check_k,
    dfb_orientations,
    directional_filter_bank,
    inverse_directional_filter_bank,
    synthesis,
)
from jaxfuse.multiscale.dfb_plan import DEFAULT_FILTER, dfb_factor, ladder_taps
from jaxfuse.multiscale.laplacian import laplacian_pyramid, reconstruct_laplacian_pyramid

# The DFB's public names stay importable from here (jaxfuse.contourlet.directional_filter_bank).
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
            in degrees (:mod:`jaxfuse.multiscale.dfb`).
        image_shape: static ``(H, W)``.
        dfb_filter: static name of the DFB ladder filter.
    """

    lowpass: Any
    bandpass: tuple[tuple[Any, ...], ...]
    directions: tuple[int, ...]
    orientations: tuple[tuple[tuple[float, float], ...], ...]
    image_shape: tuple[int, int]
    dfb_filter: str = DEFAULT_FILTER


def default_directions(levels: int) -> tuple[int, ...]:
    """Default DFB levels, coarsest first: 3 at the two finest levels, one fewer every two levels.

    Args:
        levels: pyramid levels (Python int >= 0).

    Returns:
        ``levels`` ints ``k`` (``2**k`` subbands), coarsest level first.

    Example:
        >>> default_directions(4), default_directions(6)
        ((2, 2, 3, 3), (1, 1, 2, 2, 3, 3))
    """
    return tuple(max(3 - j // 2, 1) for j in reversed(range(levels)))


def _check_options(levels: Any, directions: Any) -> tuple[int, tuple[int, ...]]:
    levels = check_levels(levels)
    if directions is None:
        return levels, default_directions(levels)
    directions = tuple(directions)
    if len(directions) != levels:
        raise ValueError(f"directions must give one k per pyramid level (coarsest first); got "
                         f"{directions} for levels={levels}")
    return levels, tuple(check_k(k, "each directions entry") for k in directions)


def _required_factor(levels: int, directions: tuple[int, ...]) -> int:
    """H and W must be divisible by this: every band (finest = 0) at ``j`` is ``H / 2**j``."""
    factor = 2**levels
    for j, k in enumerate(reversed(directions)):
        factor = max(factor, 2**j * dfb_factor(k))
    return factor


def contourlet_transform(image: jax.typing.ArrayLike, *, levels: int = 4,
                         directions: Sequence[int] | None = None,
                         dfb_filter: str = DEFAULT_FILTER) -> ContourletCoefficients:
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
    x = as_image(image)
    levels, directions = _check_options(levels, directions)
    ladder_taps(dfb_filter)
    factor = _required_factor(levels, directions)
    if x.shape[0] % factor or x.shape[1] % factor:
        raise ValueError(f"contourlet_transform: image shape {x.shape} must have H and W "
                         f"divisible by {factor} for levels={levels}, directions={directions}")
    *bands, low = laplacian_pyramid(x, levels=levels)
    bandpass = tuple(analysis(band, k, dfb_filter) for band, k in zip(reversed(bands), directions))
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
        shape = band_shape(subbands, k)
        bands.append(synthesis([as_image(s, f"bandpass[{level}]") for s in subbands], shape, k,
                               coeffs.dfb_filter))
    return reconstruct_laplacian_pyramid([*reversed(bands), coeffs.lowpass])


_split, _merge = lowpass_field("lowpass")

#: The contourlet transform as a :class:`~jaxfuse.multiscale.base.MultiscaleTransform`: the low-pass
#: part is the pyramid residual, the high-pass part every directional subband.
CONTOURLET = MultiscaleTransform(forward=contourlet_transform,
                                 inverse=inverse_contourlet_transform,
                                 split=_split, merge=_merge)
