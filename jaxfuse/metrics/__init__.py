"""Image-fusion evaluation criteria, in pure JAX, one module per family.

* :mod:`~jaxfuse.metrics.paper`: the paper's criteria EN, MI, D, AG and OP (OP = D / AG, a labelled
  working assumption).
* :mod:`~jaxfuse.metrics.standard`: the field's standard image metrics SD, SF, PSNR and SSIM.
* :mod:`~jaxfuse.metrics.quality`: fusion-quality metrics against the sources, Qabf, SCD and VIF.
* :mod:`~jaxfuse.metrics.table`: :func:`evaluate_all`, the whole table compiled once, and
  :data:`HIGHER_IS_BETTER`, the direction of each column.

Conventions shared by every function:

* **Value range.** The uint8 level scale 0..255, stated once in :mod:`jaxfuse.metrics._levels`.
* **Layout.** Channels-last, ``channel_axis`` and the gray/RGB rank rule of the gray-domain metrics,
  stated in :mod:`jaxfuse.metrics._inputs` (:func:`to_gray` is BT.601 luma).
* **Batching.** Every metric reduces the image dimensions and keeps the leading ones: the result is a
  ``jax.Array`` of shape ``[...]`` (``[..., C]`` for the ``per_band`` variants). Leading dims must be
  equal between inputs (no broadcasting). All functions are pure and take options keyword-only;
  each public function is already a ``jax.jit`` (options that change shapes or control flow are
  static), composes under an outer ``jit`` or ``vmap``, and none changes global JAX configuration.
* **Gradients.** Divisions use the "double where" (the denominator is made safe before dividing)
  so that gradients stay finite; the histogram metrics (EN, MI) have no useful gradient.
"""

from jaxfuse.metrics._inputs import LUMA_WEIGHTS, to_gray
from jaxfuse.metrics.paper import (
    average_gradient,
    entropy,
    mutual_information,
    mutual_information_pair,
    overall_performance,
    spectral_discrepancy,
)
from jaxfuse.metrics.quality import QABF_CONSTANTS, fusion_vif, qabf, scd, vif
from jaxfuse.metrics.standard import psnr, spatial_frequency, ssim, standard_deviation
from jaxfuse.metrics.table import HIGHER_IS_BETTER, evaluate_all

__all__ = [
    "HIGHER_IS_BETTER",
    "LUMA_WEIGHTS",
    "QABF_CONSTANTS",
    "average_gradient",
    "entropy",
    "evaluate_all",
    "fusion_vif",
    "mutual_information",
    "mutual_information_pair",
    "overall_performance",
    "psnr",
    "qabf",
    "scd",
    "spatial_frequency",
    "spectral_discrepancy",
    "ssim",
    "standard_deviation",
    "to_gray",
    "vif",
]
