"""The paper's fusion rule and the compiled, batched fusion kernel.

Image contract: MRI (anatomical) ``[..., H, W]`` gray; functional image (PET, SPECT)
``[..., H, W, 3]`` RGB or ``[..., H, W]`` gray, with the same leading dims and ``H, W``. Accepted
dtypes: uint8 (divided by 255), uint16 (divided by 65535), float (taken as already in [0, 1]; must be
finite). Output ``[..., H, W, 3]`` float32 RGB in [0, 1], or uint8 ``round(255 x)`` on request.

The method (Amini & Mostaar 2022, "Our method"), one small function per step:

1. registration is assumed: shapes must match;
2. the functional image's intensity ``I = (R + G + B) / 3`` (Gonzalez-Woods HSI); only I is fused;
3. VGG19 ``conv1_1`` + ReLU features, first 3 channels, of both images
   (:mod:`jaxfuse.core.features`);
4. min-max normalisation of each feature tensor to [0, 1] (:mod:`jaxfuse.core.pixel_weights`);
5. ``F = A * MRI + B * I + w_MRI * MRI + w_PET * I``, ``w`` the channel mean of the normalised
   features, clipped to [0, 1] (:func:`fusion_rule`);
6. back to RGB with the functional image's hue and saturation and ``I = F``
   (:func:`jaxfuse.core.color.replace_intensity`, exact and trig-free; the kernel uses its channel-first
   form :func:`jaxfuse.core.color.replace_intensity_planar`).

:func:`fuse` compiles these steps once per input shape/dtype/option set into one ``jax.jit`` of a
``jax.vmap`` over the flattened leading dims; ``a``, ``b`` and the convolution weights are traced
arguments, so changing them does not recompile and everything is differentiable. Inside the kernel
every step works on channel-first planes ``[C, H, W]`` (see :func:`_fuse_pair` for why); the
channel-last layout of the inputs and output is met once on the way in and once on the way out.

Reference:
    N. Amini, A. Mostaar, "Deep learning approach for fusion of magnetic resonance
    imaging-positron emission tomography image based on extract image features using pretrained
    network (VGG19)", J Med Signals Sens 12(1):25-31, 2022. doi:10.4103/jmss.JMSS_80_20
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxfuse._batching import output_is_uint8, run_batched
from jaxfuse.core.color import replace_intensity, replace_intensity_planar
from jaxfuse.core.features import conv1_1_offsets, conv1_1_padded
from jaxfuse.core.params import Conv1_1Params, load_vgg19_conv1_1
from jaxfuse.core.pixel_weights import NORMALISATIONS, REDUCTIONS, Normalisation, Reduction, feature_weight
from jaxfuse.core.units import to_levels, to_unit_float

__all__ = [
    "DEFAULT_A",
    "DEFAULT_B",
    "NORMALISATIONS",
    "REDUCTIONS",
    "COLOUR_SPACES",
    "fusion_rule",
    "intensity_planes",
    "restore_colour_planes",
    "rule_kernel",
    "fuse",
]

#: The paper's A, the weight of the MRI in Eq. 1.
DEFAULT_A = 0.3
#: The paper's B, the weight of the functional intensity in Eq. 1.
DEFAULT_B = 0.1

ColourSpace = Literal["hsi", "ihs_linear"]
#: Accepted values of ``colour_space`` (the first is the paper's default).
COLOUR_SPACES: tuple[str, ...] = ("hsi", "ihs_linear")

# Incremented each time the VGG19 kernel is traced (i.e. compiled); tests use it to prove "compiles once".
_trace_count = 0


def fusion_rule(
    mri: ArrayLike,
    intensity: ArrayLike,
    mri_weight: ArrayLike,
    pet_weight: ArrayLike,
    *,
    a: ArrayLike = DEFAULT_A,
    b: ArrayLike = DEFAULT_B,
) -> jax.Array:
    """Step 5, the paper's Eq. 1, clipped: ``F = clip(a*M + b*I + w_M*M + w_P*I, 0, 1)``.

    Args:
        mri: ``[..., H, W]`` float in [0, 1].
        intensity: ``[..., H, W]`` float in [0, 1], the functional image's intensity.
        mri_weight: ``[..., H, W]`` float, per-pixel weight of the MRI.
        pet_weight: ``[..., H, W]`` float, per-pixel weight of the functional image.
        a: scalar (or broadcastable) weight of the MRI itself; the paper's A = 0.3.
        b: scalar (or broadcastable) weight of the functional intensity; the paper's B = 0.1.

    Returns:
        ``[..., H, W]`` float in [0, 1].
    """
    fused = a * mri + b * intensity + mri_weight * mri + pet_weight * intensity
    return jnp.clip(fused, 0.0, 1.0)


def intensity_planes(pet: jax.Array) -> jax.Array:
    """Step 2: ``[3 or 1, H, W]`` unit planes -> ``[H, W]`` intensity ``(R + G + B) / 3`` (gray: itself)."""
    return (pet[0] + pet[1] + pet[2]) / 3.0 if pet.shape[0] == 3 else pet[0]


def restore_colour_planes(
    pet: jax.Array, intensity: jax.Array, fused: jax.Array, *, colour_space: ColourSpace = "hsi"
) -> jax.Array:
    """Step 6 on planes: the functional image's colour with intensity ``fused``.

    Args:
        pet: ``[3 or 1, H, W]`` float in [0, 1].
        intensity: ``[H, W]``, its intensity (:func:`intensity_planes`).
        fused: ``[H, W]`` float in [0, 1], the new intensity F.
        colour_space: ``"hsi"`` (Gonzalez-Woods, exact trig-free form) or ``"ihs_linear"`` (adds
            ``F - I`` to each band).

    Returns:
        ``[3, H, W]`` float in [0, 1] (gray F repeated for a gray functional image).
    """
    if pet.shape[0] == 1:
        return jnp.stack([fused] * 3)
    if colour_space == "hsi":
        return replace_intensity_planar(pet, fused)
    return jnp.clip(pet + (fused - intensity)[None], 0.0, 1.0)


def _planes(image: jax.Array, *, is_rgb: bool) -> jax.Array:
    return jnp.moveaxis(image, -1, 0) if is_rgb else image[None]


def _finish(fused: jax.Array, *, quantise: bool) -> jax.Array:
    """``[N, 3, H, W]`` float -> ``[N, H, W, 3]``; quantised first, so the transposition moves bytes."""
    if quantise:
        fused = jnp.round(fused * 255.0).astype(jnp.uint8)
    return jnp.moveaxis(fused, -3, -1)


def _padded_levels(planes: jax.Array, dtype) -> jax.Array:
    """``[C, H, W]`` raw planes -> ``[C, H + 2, W + 2]`` zero-padded levels (0..255) in ``dtype``."""
    return to_levels(jnp.pad(planes, ((0, 0), (1, 1), (1, 1))), dtype)


def _unit_planes(planes: jax.Array, padded_levels: jax.Array, dtype) -> jax.Array:
    """``[C, H, W]`` in [0, 1]: ``to_unit_float`` of the raw planes, in ``dtype``.

    For uint8 this is the interior of the padded levels / 255: the same values, from the one
    transposition the convolution also reads.
    """
    if planes.dtype == jnp.uint8:
        return padded_levels[:, 1:-1, 1:-1] / 255.0
    return to_unit_float(planes).astype(dtype)


def _fuse_pair(mri, pet, a, b, kernel, offsets, *, pet_is_rgb, normalisation, reduction, colour_space):
    """The six steps for one pair: mri ``[H, W]``, pet ``[H, W, 3]`` or ``[H, W]`` (raw dtypes)
    -> ``[3, H, W]`` float in [0, 1].

    Everything runs on channel-first planes: XLA's CPU code vectorises along image rows, and a
    channel-last ``[..., 3]`` operand costs strided reads in every pass that touches it. The
    functional image is written as one transposition into padded levels shared by the convolution,
    the intensity and the colour step (XLA still de-interleaves it twice: to float for the
    convolution, to uint8 for the rest; ``benchmarks/profile_fuse.py`` shows the passes), and the
    result is transposed back once, after quantisation.
    """
    pet_unit, mri_unit, intensity, mri_weight, pet_weight = _pair_terms(
        mri, pet, kernel, offsets, pet_is_rgb=pet_is_rgb, normalisation=normalisation, reduction=reduction
    )
    fused = fusion_rule(mri_unit, intensity, mri_weight, pet_weight, a=a, b=b)
    return restore_colour_planes(pet_unit, intensity, fused, colour_space=colour_space)


def _pair_terms(mri, pet, kernel, offsets, *, pet_is_rgb, normalisation, reduction):
    """Steps 2-5a for one pair (raw dtypes), the terms of Eq. 1 in the kernel's dtype.

    Returns ``(pet_unit [3 or 1, H, W], mri_unit [H, W], intensity [H, W], mri_weight [H, W],
    pet_weight [H, W])``, unit floats; shared by :func:`_fuse_pair` and the adaptive method
    (:mod:`jaxfuse.adaptive`), which chooses ``a`` and ``b`` from them.
    """
    dtype = kernel.dtype
    pet_planes = _planes(pet, is_rgb=pet_is_rgb)
    mri_levels = _padded_levels(mri[None], dtype)
    pet_levels = _padded_levels(pet_planes, dtype)
    # The MRI is read as stored: deriving it from the padded levels made XLA add a padded uint8
    # copy, one more pass (~5% of the kernel's time on CPU).
    mri_unit = to_unit_float(mri).astype(dtype)
    pet_unit = _unit_planes(pet_planes, pet_levels, dtype)
    intensity = intensity_planes(pet_unit)
    mri_weight, pet_weight = (
        feature_weight(conv1_1_padded(levels, kernel, offsets), normalisation=normalisation, reduction=reduction)
        for levels in (mri_levels, pet_levels)
    )
    return pet_unit, mri_unit, intensity, mri_weight, pet_weight


@functools.partial(
    jax.jit,
    static_argnames=("pet_is_rgb", "channels", "normalisation", "reduction", "colour_space", "quantise", "group"),
)
def _fuse_kernel(
    mri, pet, a, b, kernel, bias, *, pet_is_rgb, channels, normalisation, reduction, colour_space, quantise, group
):
    """``[N, H, W]`` MRI and ``[N, H, W(, 3)]`` functional images -> ``[N, H, W, 3]`` fused.

    ``group=None``: one ``vmap`` over the whole batch (accelerators). ``group=k`` (``N % k == 0``):
    a ``lax.map`` over groups of ``k`` pairs, each group one ``vmap``, so one group's intermediates
    stay in the CPU caches instead of streaming the whole batch's through memory at every step.
    """
    global _trace_count
    _trace_count += 1
    dtype = jnp.float64 if jnp.float64 in (mri.dtype, pet.dtype) else jnp.float32
    a, b = jnp.asarray(a, dtype), jnp.asarray(b, dtype)
    kernel = jnp.asarray(kernel, dtype)[:channels]
    bias = jnp.asarray(bias, dtype)[:channels]
    offsets = conv1_1_offsets(mri.shape[-2], mri.shape[-1], kernel, bias)  # once per batch
    one_pair = functools.partial(
        _fuse_pair, pet_is_rgb=pet_is_rgb, normalisation=normalisation, reduction=reduction, colour_space=colour_space
    )

    def run_group(mri, pet):
        fused = jax.vmap(one_pair, in_axes=(0, 0, None, None, None, None))(mri, pet, a, b, kernel, offsets)
        return _finish(fused, quantise=quantise)

    if group is None:
        return run_group(mri, pet)
    count = mri.shape[0]
    grouped = jax.lax.map(
        lambda pair: run_group(*pair),
        (mri.reshape((count // group, group) + mri.shape[1:]), pet.reshape((count // group, group) + pet.shape[1:])),
    )
    return grouped.reshape((count,) + grouped.shape[2:])


IntensityRule = Callable[[jax.Array, jax.Array], jax.Array]


@functools.partial(jax.jit, static_argnames=("rule", "colour_space", "pet_is_rgb", "quantise", "group"))
def rule_kernel(mri, pet, *, rule: IntensityRule, colour_space: ColourSpace, pet_is_rgb: bool, quantise: bool, group=None):
    """The frame of an intensity-rule method (SPEC section 5) as one compiled ``vmap``.

    Per pair: unit floats, the functional intensity (step 2), ``F = clip(rule(mri, I), 0, 1)``, the
    colour restored (step 6). ``rule`` is static (a hashable function of one pair's
    ``(mri [H, W], intensity [H, W]) -> F [H, W]``); ``group`` is accepted for
    :func:`jaxfuse._batching.run_batched` and must be None (one vmap over the batch).

    Args:
        mri: ``[N, H, W]``; pet: ``[N, H, W(, 3)]``; uint8, uint16 or float in [0, 1].

    Returns:
        ``[N, H, W, 3]`` float in [0, 1], or uint8 if ``quantise``.
    """
    mri = to_unit_float(mri)
    pet = to_unit_float(pet).astype(mri.dtype)

    def one_pair(m, p):
        planes = _planes(p, is_rgb=pet_is_rgb)
        intensity = intensity_planes(planes)
        fused = jnp.clip(rule(m, intensity), 0.0, 1.0)
        if pet_is_rgb and colour_space == "hsi":
            # The channel-last form of the same identity: XLA rounds the planar form's division
            # differently in this program (a few pixels one level apart), and these are the
            # published bytes of the paper's baseline rows (docs/reproduction.md).
            return jnp.moveaxis(replace_intensity(p, fused), -1, 0)
        return restore_colour_planes(planes, intensity, fused, colour_space=colour_space)

    return _finish(jax.vmap(one_pair)(mri, pet), quantise=quantise)


def _default_params(channels: int) -> Conv1_1Params:
    # NumPy arrays (cached by the loader), never jax arrays: a cache filled while some caller is
    # tracing would otherwise hold that trace's tracers.
    return load_vgg19_conv1_1(channels=channels)


def fuse(
    mri: ArrayLike,
    pet: ArrayLike,
    *,
    a: ArrayLike = DEFAULT_A,
    b: ArrayLike = DEFAULT_B,
    normalisation: Normalisation = "tensor",
    reduction: Reduction = "mean",
    colour_space: ColourSpace = "hsi",
    channels: int = 3,
    params: Conv1_1Params | None = None,
    output_dtype=jnp.float32,
) -> jax.Array:
    """Fuses registered MRI and functional (PET/SPECT) images with the paper's VGG19 rule.

    One jit-compiled, vmap-batched kernel; it compiles once per input shape, dtype and option set.
    ``a``, ``b`` and ``params`` are traced, so they may vary without recompiling and the result is
    differentiable with respect to them and to float inputs.

    Args:
        mri: ``[..., H, W]`` gray MRI; uint8, uint16 or float in [0, 1].
        pet: ``[..., H, W, 3]`` RGB or ``[..., H, W]`` gray functional image, same leading dims and
            size as ``mri``; uint8, uint16 or float in [0, 1].
        a: weight of the MRI in Eq. 1 (paper: 0.3).
        b: weight of the functional intensity in Eq. 1 (paper: 0.1).
        normalisation: min-max scale each feature tensor over all its ``H*W*3`` values
            (``"tensor"``, default) or each channel separately (``"channel"``).
        reduction: per-pixel weight as the ``"mean"`` (default) or ``"sum"`` of the channels.
        colour_space: return to RGB through the Gonzalez-Woods HSI (``"hsi"``, default) or the
            linear IHS of Tu et al. (``"ihs_linear"``: adds ``F - I`` to each band).
        channels: how many leading conv1_1 filters give the weights (paper: 3).
        params: ``Conv1_1Params`` to use instead of the shipped ImageNet weights.
        output_dtype: ``jnp.float32`` (default; [0, 1]) or ``jnp.uint8`` (``round(255 x)``, computed
            inside the kernel).

    Returns:
        ``[..., H, W, 3]`` fused RGB: float32 in [0, 1] (float64 for float64 inputs under x64),
        or uint8.

    Raises:
        ValueError: shapes do not match or are not images; an unknown option.
        TypeError: an unsupported dtype.

    Example:
        >>> mri = jnp.zeros((8, 64, 64), jnp.uint8)
        >>> pet = jnp.zeros((8, 64, 64, 3), jnp.uint8)
        >>> fuse(mri, pet).shape
        (8, 64, 64, 3)
    """
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {normalisation!r}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if colour_space not in COLOUR_SPACES:
        raise ValueError(f"colour_space must be one of {COLOUR_SPACES}, got {colour_space!r}")
    quantise = output_is_uint8(output_dtype)
    params = _default_params(channels) if params is None else params
    # Fixed dtypes for the traced scalars, so a Python float and an array do not compile twice.
    scalar_dtype = jnp.float64 if jnp.float64 in (jnp.result_type(mri), jnp.result_type(pet)) else jnp.float32
    kernel = functools.partial(
        _fuse_kernel,
        a=jnp.asarray(a, scalar_dtype),
        b=jnp.asarray(b, scalar_dtype),
        kernel=params.kernel,
        bias=params.bias,
        channels=channels,
        normalisation=normalisation,
        reduction=reduction,
        colour_space=colour_space,
        quantise=quantise,
    )
    return run_batched(kernel, mri, pet)
