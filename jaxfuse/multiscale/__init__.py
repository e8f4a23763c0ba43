"""Multiscale transforms and the classic multiscale fusion rule, in pure JAX.

One module per concern:

* :mod:`~jaxfuse.multiscale.base`: the :class:`MultiscaleTransform` protocol the rule sees, the
  image contract, and the input checks every transform shares;
* transforms: :mod:`~jaxfuse.multiscale.laplacian` (Burt & Adelson pyramid),
  :mod:`~jaxfuse.multiscale.dwt` (periodized orthogonal DWT, db2), :mod:`~jaxfuse.multiscale.curvelet`
  (wrapping; tiling in :mod:`~jaxfuse.multiscale.curvelet_plan`), :mod:`~jaxfuse.multiscale.contourlet`
  (pyramid + :mod:`~jaxfuse.multiscale.dfb`, whose filters and tree are in
  :mod:`~jaxfuse.multiscale.dfb_plan`), :mod:`~jaxfuse.multiscale.nsct` (filters designed in
  :mod:`~jaxfuse.multiscale.nsfb`);
* :mod:`~jaxfuse.multiscale.registry`: :data:`TRANSFORMS`, the transforms by name;
* :mod:`~jaxfuse.multiscale.rule`: :func:`fuse_coefficients`, :func:`fuse_multiscale`,
  :func:`fuse_laplacian`, :func:`fuse_dwt` (average the low-pass band, keep the larger-magnitude
  high-pass coefficient).

The public names of every module are re-exported here. The package is also ``jaxfuse.transforms``.
One name is both a module and a function: ``jaxfuse.multiscale.nsct`` is the module, the transform
itself is ``jaxfuse.multiscale.nsct.nsct`` (its inverse, ``insct``, is re-exported here).
"""

from __future__ import annotations

from jaxfuse.multiscale import (
    base,
    contourlet,
    curvelet,
    curvelet_plan,
    dfb,
    dfb_plan,
    dwt,
    laplacian,
    nsct,
    nsfb,
    registry,
    rule,
)
from jaxfuse.multiscale.base import MultiscaleTransform
from jaxfuse.multiscale.contourlet import (
    CONTOURLET,
    ContourletCoefficients,
    contourlet_transform,
    default_directions,
    inverse_contourlet_transform,
)
from jaxfuse.multiscale.curvelet import (
    CURVELET,
    CurveletCoefficients,
    CurveletLayout,
    curvelet_transform,
    inverse_curvelet_transform,
)
from jaxfuse.multiscale.dfb import (
    DFB_FILTERS,
    dfb_orientations,
    directional_filter_bank,
    inverse_directional_filter_bank,
)
from jaxfuse.multiscale.dwt import DWT, WAVELETS, dwt2, idwt2
from jaxfuse.multiscale.laplacian import LAPLACIAN, laplacian_pyramid, reconstruct_laplacian_pyramid
from jaxfuse.multiscale.nsct import DEFAULT_DIRECTIONS, NSCT, insct, nsct_filters, nsct_orientations
from jaxfuse.multiscale.nsfb import dmaxflat, filter_pair
from jaxfuse.multiscale.registry import TRANSFORMS
from jaxfuse.multiscale.rule import fuse_coefficients, fuse_dwt, fuse_laplacian, fuse_multiscale

__all__ = [
    # submodules
    "base",
    "contourlet",
    "curvelet",
    "curvelet_plan",
    "dfb",
    "dfb_plan",
    "dwt",
    "laplacian",
    "nsct",
    "nsfb",
    "registry",
    "rule",
    # protocol, registry and rule
    "MultiscaleTransform",
    "TRANSFORMS",
    "fuse_coefficients",
    "fuse_dwt",
    "fuse_laplacian",
    "fuse_multiscale",
    # Laplacian pyramid and DWT
    "LAPLACIAN",
    "laplacian_pyramid",
    "reconstruct_laplacian_pyramid",
    "DWT",
    "WAVELETS",
    "dwt2",
    "idwt2",
    # curvelet
    "CURVELET",
    "CurveletCoefficients",
    "CurveletLayout",
    "curvelet_transform",
    "inverse_curvelet_transform",
    # contourlet and its directional filter bank
    "CONTOURLET",
    "ContourletCoefficients",
    "contourlet_transform",
    "default_directions",
    "inverse_contourlet_transform",
    "DFB_FILTERS",
    "dfb_orientations",
    "directional_filter_bank",
    "inverse_directional_filter_bank",
    # NSCT (the forward transform is nsct.nsct: the name nsct is the module)
    "DEFAULT_DIRECTIONS",
    "NSCT",
    "dmaxflat",
    "filter_pair",
    "insct",
    "nsct_filters",
    "nsct_orientations",
]
