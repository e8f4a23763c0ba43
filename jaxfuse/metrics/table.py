"""The whole evaluation table: every metric of the package for one (F, M, P) triple, compiled once.

:func:`evaluate_all` computes the table and :data:`HIGHER_IS_BETTER` tells the direction of each
column (the CSV column names).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxfuse.metrics._inputs import to_gray
from jaxfuse.metrics._levels import as_levels
from jaxfuse.metrics.paper import (
    _op_from,
    average_gradient,
    entropy,
    mutual_information,
    spectral_discrepancy,
)
from jaxfuse.metrics.quality import fusion_vif, qabf, scd
from jaxfuse.metrics.standard import psnr, spatial_frequency, ssim, standard_deviation

__all__ = ["HIGHER_IS_BETTER", "evaluate_all"]

#: Direction of every column returned by :func:`evaluate_all`.
HIGHER_IS_BETTER: dict[str, bool] = {
    "EN": True,
    "MI": True,
    "D": False,
    "AG": True,
    "OP": False,
    "SD": True,
    "SF": True,
    "PSNR": True,
    "SSIM": True,
    "Qabf": True,
    "SCD": True,
    "VIF": True,
}


def _evaluate_all(fused: jax.Array, mri: jax.Array, pet: jax.Array) -> dict[str, jax.Array]:
    f_axis = -1 if fused.ndim == mri.ndim + 1 else None
    p_axis = -1 if pet.ndim == mri.ndim + 1 else None
    f_gray = fused if f_axis is None else to_gray(fused)
    p_gray = pet if p_axis is None else to_gray(pet)
    # the two full-reference comparisons, stacked on a new leading axis
    f_pair, refs = jnp.stack([f_gray, f_gray]), jnp.stack([mri, p_gray])
    d = spectral_discrepancy(fused, pet, channel_axis=f_axis)
    ag = average_gradient(fused, channel_axis=f_axis)
    return {
        "EN": entropy(fused, channel_axis=f_axis),
        "MI": mutual_information(f_gray, mri, p_gray, channel_axis=None),
        "D": d,
        "AG": ag,
        "OP": _op_from(d, ag),
        "SD": standard_deviation(fused, channel_axis=f_axis),
        "SF": spatial_frequency(fused, channel_axis=f_axis),
        "PSNR": jnp.mean(psnr(f_pair, refs, channel_axis=None), axis=0),
        "SSIM": jnp.mean(ssim(f_pair, refs, channel_axis=None), axis=0),
        "Qabf": qabf(f_gray, mri, p_gray, channel_axis=None),
        "SCD": scd(f_gray, mri, p_gray, channel_axis=None),
        "VIF": fusion_vif(f_gray, mri, p_gray, channel_axis=None),
    }


_evaluate_all_jit = jax.jit(_evaluate_all)


def evaluate_all(fused: ArrayLike, mri: ArrayLike, pet: ArrayLike) -> dict[str, jax.Array]:
    """Every criterion at once, as one compiled function (one compile per shape).

    Keys are the CSV column names. On the paper's side (SPEC section 4):
    ``"EN"`` :func:`entropy` of F (bands pooled), ``"MI"``
    :func:`mutual_information`, ``"D"`` :func:`spectral_discrepancy` (F vs P),
    ``"AG"`` :func:`average_gradient` of F, ``"OP"`` :func:`overall_performance`
    (the D/AG assumption). The standard suite: ``"SD"``, ``"SF"`` of F (bands
    pooled); with ``Fg``, ``Pg`` the unrounded BT.601 luma of F and P:
    ``"PSNR"`` = mean of PSNR(Fg, M) and PSNR(Fg, Pg) (peak 255), ``"SSIM"`` =
    mean of SSIM(Fg, M) and SSIM(Fg, Pg), ``"Qabf"`` = Q^{AB/F}(Fg; M, Pg),
    ``"SCD"`` = SCD(Fg; M, Pg), ``"VIF"`` = VIF(M -> Fg) + VIF(Pg -> Fg).
    :data:`HIGHER_IS_BETTER` gives the direction of each key.

    Args:
        fused: F, RGB ``[..., H, W, 3]`` or gray ``[..., H, W]``, values 0..255.
        mri: M, gray ``[..., H, W]``.
        pet: P, same shape as ``fused`` (RGB, or gray for a gray fusion).

    Returns:
        dict of float32 ``[...]`` arrays, keys as in :data:`HIGHER_IS_BETTER`.

    Example:
        >>> import jax.numpy as jnp
        >>> m = jnp.arange(64.0 * 64).reshape(64, 64) % 256
        >>> p = jnp.stack([m, m.T, 255 - m], axis=-1)
        >>> sorted(evaluate_all(p, m, p)) == sorted(HIGHER_IS_BETTER)
        True
    """
    f, m, p = as_levels(fused), as_levels(mri), as_levels(pet)
    if m.ndim < 2:
        raise ValueError(f"mri must be gray [..., H, W], got shape {m.shape}")
    for name, a in (("fused", f), ("pet", p)):
        if a.shape not in (m.shape + (3,), m.shape):
            raise ValueError(
                f"{name} {a.shape} must be RGB {m.shape + (3,)} or gray {m.shape}"
                f" to match mri {m.shape}"
            )
    if f.shape != p.shape:
        raise ValueError(f"fused {f.shape} and pet {p.shape} must have the same shape")
    return _evaluate_all_jit(f, m, p)
