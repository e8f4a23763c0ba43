"""The no-reference criterion the adaptive method maximises: functional intensity + anatomical gradients.

Image contract: ``[..., H, W]`` float planes in [0, 1] (the fused intensity F, the MRI M and the
functional intensity I, as the fusion kernel holds them); H, W >= 2. Output ``[...]``, same float
dtype; higher is better, 0 at best.

The criterion is the content term of the unsupervised fusion losses of FusionGAN (Ma et al. 2019)
and DDcGAN (Ma et al. 2020, which applies it to PET-MRI): the fused image should keep the
*intensity* of the functional image (where the tracer is) and the *gradients* of the anatomical
image (where the structures are)::

    Q(F; M, I) = -( mean (F - I)^2 + lambda * ( mean (dx F - dx M)^2 + mean (dy F - dy M)^2 ) )

with forward differences ``dx F(i, j) = F(i, j + 1) - F(i, j)`` over the ``H x (W - 1)`` pairs and
``dy`` over the ``(H - 1) x W`` pairs, and ``lambda`` the gradient weight (a hyper-parameter). Why
this one for choosing A and B: the paper's two constants trade exactly these two things (A adds
MRI contrast, B restores PET intensity), the criterion needs no reference image, it is smooth
(a quadratic of F, so of A and B between the clipping points) and cheap (a few passes over one
plane per iteration). What it is *not*: it does not contain the entropy (EN), the mutual
information (MI), the average gradient or OP; its intensity term is a squared-error relative of
the spectral discrepancy D (which compares RGB bands with an absolute error), so D and OP = D / AG
are not independent of it -- see docs/reproduction.md for how the evaluation counts that.

References:
    J. Ma, W. Yu, P. Liang, C. Li, J. Jiang, "FusionGAN: A generative adversarial network for
    infrared and visible image fusion", Information Fusion 48:11-26, 2019.
    J. Ma, H. Xu, J. Jiang, X. Mei, X.-P. Zhang, "DDcGAN: A dual-discriminator conditional
    generative adversarial network for multi-resolution image fusion", IEEE Trans. Image Process.
    29:4980-4995, 2020.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["content_criterion", "intensity_term", "gradient_term"]


def _check(names: tuple[str, ...], arrays: tuple[jax.Array, ...]) -> None:
    shape = arrays[0].shape
    for name, array in zip(names, arrays):
        if array.shape != shape:
            raise ValueError(f"{name} must have shape {shape} like {names[0]}, got {array.shape}")
    if len(shape) < 2 or shape[-2] < 2 or shape[-1] < 2:
        raise ValueError(f"{names[0]} must have shape [..., H, W] with H, W >= 2, got {shape}")


def intensity_term(fused: ArrayLike, intensity: ArrayLike) -> jax.Array:
    """``mean (F - I)^2`` over the last two axes: ``[..., H, W]`` twice -> ``[...]``."""
    fused, intensity = jnp.asarray(fused), jnp.asarray(intensity)
    _check(("fused", "intensity"), (fused, intensity))
    return jnp.mean((fused - intensity) ** 2, axis=(-2, -1))


def gradient_term(fused: ArrayLike, mri: ArrayLike) -> jax.Array:
    """``mean (dx F - dx M)^2 + mean (dy F - dy M)^2`` (forward differences): ``[..., H, W]`` -> ``[...]``."""
    fused, mri = jnp.asarray(fused), jnp.asarray(mri)
    _check(("fused", "mri"), (fused, mri))
    diff = fused - mri  # the differences of the difference: one plane instead of two
    dx = diff[..., :, 1:] - diff[..., :, :-1]
    dy = diff[..., 1:, :] - diff[..., :-1, :]
    return jnp.mean(dx * dx, axis=(-2, -1)) + jnp.mean(dy * dy, axis=(-2, -1))


def content_criterion(
    fused: ArrayLike, mri: ArrayLike, intensity: ArrayLike, *, gradient_weight: ArrayLike
) -> jax.Array:
    """``Q = -(intensity_term(F, I) + gradient_weight * gradient_term(F, M))``, higher is better.

    Args:
        fused: F ``[..., H, W]`` float in [0, 1], the fused intensity.
        mri: M, same shape, the MRI in [0, 1].
        intensity: I, same shape, the functional image's intensity in [0, 1].
        gradient_weight: lambda >= 0, scalar or broadcastable to ``[...]``.

    Returns:
        ``[...]``, <= 0 (0 only if F = I and F - M is constant).

    Example:
        >>> x = jnp.linspace(0.0, 1.0, 16).reshape(4, 4)
        >>> float(content_criterion(x, x, x, gradient_weight=5.0))
        -0.0
    """
    return -(intensity_term(fused, intensity) + gradient_weight * gradient_term(fused, mri))
