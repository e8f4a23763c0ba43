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
4. min-max normalisation of each feature tensor to [0, 1] (:func:`normalise_features`);
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
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxfuse.core.color import replace_intensity, replace_intensity_linear, replace_intensity_planar, rgb_to_intensity
from jaxfuse.core.features import conv1_1_offsets, conv1_1_padded
from jaxfuse.core.params import Conv1_1Params, load_vgg19_conv1_1

__all__ = [
    "DEFAULT_A",
    "DEFAULT_B",
    "to_unit_float",
    "normalise_features",
    "reduce_features",
    "fusion_rule",
    "fuse",
    "functional_intensity",
    "feature_weight",
    "vgg19_weights",
    "restore_colour",
    "FlatPair",
    "flatten_pair",
    "check_output_dtype",
    "pad_single_pair",
    "pad_batch",
    "batch_plan",
    "CPU_GROUP_SIZE",
]

DEFAULT_A = 0.3
DEFAULT_B = 0.1

Normalisation = Literal["tensor", "channel"]
Reduction = Literal["mean", "sum"]
ColourSpace = Literal["hsi", "ihs_linear"]

_NORMALISATIONS = ("tensor", "channel")
_REDUCTIONS = ("mean", "sum")
_COLOUR_SPACES = ("hsi", "ihs_linear")

# Incremented each time the kernel is traced (i.e. compiled); tests use it to prove "compiles once".
_trace_count = 0


def to_unit_float(image: ArrayLike) -> jax.Array:
    """Converts an image to float32 in [0, 1]: uint8 / 255, uint16 / 65535, float unchanged.

    Args:
        image: any shape; uint8, uint16 or float.

    Returns:
        Same shape, float32 (float64 stays float64).

    Raises:
        TypeError: any other dtype.
    """
    image = jnp.asarray(image)
    if image.dtype == jnp.uint8:
        return image.astype(jnp.float32) / 255.0
    if image.dtype == jnp.uint16:
        return image.astype(jnp.float32) / 65535.0
    if jnp.issubdtype(image.dtype, jnp.floating):
        return image if image.dtype == jnp.float64 else image.astype(jnp.float32)
    raise TypeError(f"images must be uint8, uint16 or float, got {image.dtype}")


def normalise_features(features: ArrayLike, *, per_channel: bool = False) -> jax.Array:
    """Min-max scales feature maps to [0, 1], like MATLAB ``mat2gray``.

    Args:
        features: ``[..., H, W, C]`` float.
        per_channel: scale each channel by its own range instead of the whole ``[H, W, C]`` tensor.

    Returns:
        ``[..., H, W, C]`` float in [0, 1]; a constant tensor (or channel) becomes 0.
    """
    features = jnp.asarray(features)
    axes = (-3, -2) if per_channel else (-3, -2, -1)
    low = jnp.min(features, axis=axes, keepdims=True)
    span = jnp.max(features, axis=axes, keepdims=True) - low
    varies = span > 0
    safe_span = jnp.where(varies, span, 1.0)
    return jnp.where(varies, (features - low) / safe_span, 0.0)


def reduce_features(features: ArrayLike, *, reduction: Reduction = "mean") -> jax.Array:
    """Per-pixel weight ``w(i, j)`` from normalised features.

    Args:
        features: ``[..., H, W, C]`` float in [0, 1].
        reduction: ``"mean"`` (weights in [0, 1], the default) or ``"sum"`` (in [0, C]).

    Returns:
        ``[..., H, W]`` float.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    features = jnp.asarray(features)
    total = features[..., 0]
    for c in range(1, features.shape[-1]):  # fixed summation order: same bytes at any batch size
        total = total + features[..., c]
    return total / features.shape[-1] if reduction == "mean" else total


def fusion_rule(
    mri: ArrayLike,
    intensity: ArrayLike,
    mri_weight: ArrayLike,
    pet_weight: ArrayLike,
    *,
    a: ArrayLike = DEFAULT_A,
    b: ArrayLike = DEFAULT_B,
) -> jax.Array:
    """The paper's Eq. 1, clipped: ``F = clip(a*M + b*I + w_M*M + w_P*I, 0, 1)``.

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


def functional_intensity(pet: jax.Array, *, pet_is_rgb: bool) -> jax.Array:
    """Step 2: ``I = (R + G + B) / 3`` of an RGB ``[..., H, W, 3]`` image; a gray one is its own I."""
    return rgb_to_intensity(pet) if pet_is_rgb else pet


def restore_colour(pet: jax.Array, fused_intensity: jax.Array, *, pet_is_rgb: bool, colour_space: ColourSpace = "hsi") -> jax.Array:
    """Step 6: the functional image's colour with intensity F.

    Args:
        pet: ``[..., H, W, 3]`` (or gray ``[..., H, W]``) float in [0, 1].
        fused_intensity: ``[..., H, W]`` float in [0, 1].
        pet_is_rgb: whether ``pet`` has the channel axis.
        colour_space: ``"hsi"`` (Gonzalez-Woods, exact trig-free form) or ``"ihs_linear"``.

    Returns:
        ``[..., H, W, 3]`` float in [0, 1] (gray F repeated for a gray functional image).
    """
    if not pet_is_rgb:
        return jnp.stack([fused_intensity] * 3, axis=-1)
    if colour_space == "hsi":
        return replace_intensity(pet, fused_intensity)
    return replace_intensity_linear(pet, fused_intensity)


def _min_max(x: jax.Array, axes: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """``(min, max)`` over ``axes`` (kept as size-1 dims) in ONE pass over ``x`` (a variadic reduce;
    two separate reductions read the features twice, about 15% of the kernel's time on CPU)."""
    init = (jnp.array(jnp.inf, x.dtype), jnp.array(-jnp.inf, x.dtype))
    low, high = jax.lax.reduce(
        (x, x), init, lambda a, b: (jnp.minimum(a[0], b[0]), jnp.maximum(a[1], b[1])), axes
    )
    shape = tuple(1 if axis in axes else size for axis, size in enumerate(x.shape))
    return low.reshape(shape), high.reshape(shape)


def feature_weight(features: jax.Array, *, per_channel: bool = False, reduction: Reduction = "mean") -> jax.Array:
    """Steps 4-5a on planar features: min-max normalise, then reduce over channels.

    Equals ``reduce_features(normalise_features(moveaxis(features, 0, -1)))`` up to rounding, in
    one pass: ``w = sum_c (f_c - lo_c) / span_c`` (``/ C`` for the mean), with one ``lo, span``
    for the whole tensor or one per channel; a constant tensor (or channel) contributes 0.

    Args:
        features: ``[C, H, W]`` float (one image's feature planes).
        per_channel: scale each channel by its own range.
        reduction: ``"mean"`` or ``"sum"`` over the channels.

    Returns:
        ``[H, W]`` float: in [0, 1] for the mean, [0, C] for the sum.
    """
    axes = (1, 2) if per_channel else (0, 1, 2)
    low, high = _min_max(features, axes)
    span = high - low
    varies = span > 0
    scale = jnp.where(varies, 1.0 / jnp.where(varies, span, 1.0), 0.0)  # [C or 1, 1, 1]
    channels = features.shape[0]
    if per_channel:
        total = (features[0] - low[0]) * scale[0]
        for c in range(1, channels):  # fixed order: same bytes at any batch size
            total = total + (features[c] - low[c]) * scale[c]
    else:
        total = features[0]
        for c in range(1, channels):
            total = total + features[c]
        total = (total - channels * low[0]) * scale[0]
    return total / channels if reduction == "mean" else total


def _padded_levels(planes: jax.Array, dtype) -> jax.Array:
    """``[C, H, W]`` raw planes -> ``[C, H + 2, W + 2]`` zero-padded, in 0..255 units, ``dtype``.

    uint8 as stored, uint16 / 257, float * 255 (the convolution's input scale).
    """
    padded = jnp.pad(planes, ((0, 0), (1, 1), (1, 1)))
    if padded.dtype == jnp.uint8:
        return padded.astype(dtype)
    if padded.dtype == jnp.uint16:
        return padded.astype(dtype) / 257.0
    return 255.0 * padded.astype(dtype)


def _unit_planes(planes: jax.Array, padded_levels: jax.Array, dtype) -> jax.Array:
    """``[C, H, W]`` in [0, 1]: ``to_unit_float`` of the raw planes, in ``dtype``.

    For uint8 this is the interior of the padded levels / 255: the same values, from the one
    transposition the convolution also reads.
    """
    if planes.dtype == jnp.uint8:
        return padded_levels[:, 1:-1, 1:-1] / 255.0
    return to_unit_float(planes).astype(dtype)


def vgg19_weights(mri_levels, pet_levels, kernel, offsets, *, per_channel, reduction):
    """Steps 3-5a for one pair: the per-pixel weights ``(w_MRI, w_PET)``, each ``[H, W]``.

    ``mri_levels`` ``[1, H + 2, W + 2]`` and ``pet_levels`` ``[3 or 1, H + 2, W + 2]`` from
    :func:`_padded_levels`; ``kernel`` ``[C, 3, 3, 3]``; ``offsets`` from
    :func:`jaxfuse.core.features.conv1_1_offsets`.
    """
    weights = []
    for levels in (mri_levels, pet_levels):
        features = conv1_1_padded(levels, kernel, offsets)
        weights.append(feature_weight(features, per_channel=per_channel, reduction=reduction))
    return tuple(weights)


def _restore_colour_planes(
    pet: jax.Array, intensity: jax.Array, fused: jax.Array, *, colour_space: ColourSpace
) -> jax.Array:
    """Step 6 on planes: ``pet`` ``[3 or 1, H, W]`` in [0, 1], its ``intensity`` and ``fused``
    ``[H, W]`` -> ``[3, H, W]``."""
    if pet.shape[0] == 1:
        return jnp.stack([fused] * 3)
    if colour_space == "hsi":
        return replace_intensity_planar(pet, fused)
    return jnp.clip(pet + (fused - intensity)[None], 0.0, 1.0)


def _fuse_pair(mri, pet, a, b, kernel, offsets, *, pet_is_rgb, per_channel, reduction, colour_space):
    """The six steps for one pair: mri ``[H, W]``, pet ``[H, W, 3]`` or ``[H, W]`` (raw dtypes)
    -> ``[3, H, W]`` float in [0, 1].

    Everything runs on channel-first planes: XLA's CPU code vectorises along image rows, and a
    channel-last ``[..., 3]`` operand costs strided reads in every pass that touches it. The
    functional image is written as one transposition into padded levels shared by the convolution,
    the intensity and the colour step (XLA still de-interleaves it twice: to float for the
    convolution, to uint8 for the rest; ``benchmarks/profile_fuse.py`` shows the passes), and the
    result is transposed back once, by the caller, after quantisation.
    """
    dtype = kernel.dtype
    mri_planes = mri[None]
    pet_planes = jnp.moveaxis(pet, -1, 0) if pet_is_rgb else pet[None]
    mri_levels = _padded_levels(mri_planes, dtype)
    pet_levels = _padded_levels(pet_planes, dtype)
    # The MRI is read as stored: deriving it from the padded levels made XLA add a padded uint8
    # copy, one more pass (~5% of the kernel's time on CPU).
    mri_unit = to_unit_float(mri).astype(dtype)
    pet_unit = _unit_planes(pet_planes, pet_levels, dtype)
    intensity = (pet_unit[0] + pet_unit[1] + pet_unit[2]) / 3.0 if pet_is_rgb else pet_unit[0]
    mri_weight, pet_weight = vgg19_weights(
        mri_levels, pet_levels, kernel, offsets, per_channel=per_channel, reduction=reduction
    )
    fused = fusion_rule(mri_unit, intensity, mri_weight, pet_weight, a=a, b=b)
    return _restore_colour_planes(pet_unit, intensity, fused, colour_space=colour_space)


@functools.partial(
    jax.jit,
    static_argnames=("pet_is_rgb", "channels", "per_channel", "reduction", "colour_space", "quantise", "chunk"),
)
def _fuse_kernel(
    mri, pet, a, b, kernel, bias, *, pet_is_rgb, channels, per_channel, reduction, colour_space, quantise, chunk
):
    """``[N, H, W]`` MRI and ``[N, H, W(, 3)]`` functional images -> ``[N, H, W, 3]`` fused.

    ``chunk=None``: one ``vmap`` over the whole batch (accelerators). ``chunk=k`` (``N % k == 0``):
    a ``lax.map`` over groups of ``k`` pairs, each group one ``vmap``, so one group's intermediates
    stay in the CPU caches instead of streaming the whole batch's through memory at every step.
    """
    global _trace_count
    _trace_count += 1
    dtype = jnp.float64 if jnp.float64 in (mri.dtype, pet.dtype) else jnp.float32
    a = jnp.asarray(a, dtype)
    b = jnp.asarray(b, dtype)
    kernel = jnp.asarray(kernel, dtype)[:channels]
    bias = jnp.asarray(bias, dtype)[:channels]
    offsets = conv1_1_offsets(mri.shape[-2], mri.shape[-1], kernel, bias)  # once per batch
    one_pair = functools.partial(
        _fuse_pair,
        pet_is_rgb=pet_is_rgb,
        per_channel=per_channel,
        reduction=reduction,
        colour_space=colour_space,
    )

    def group(mri, pet):
        fused = jax.vmap(one_pair, in_axes=(0, 0, None, None, None, None))(mri, pet, a, b, kernel, offsets)
        if quantise:  # quantised before the transposition: it then moves bytes, not floats
            fused = jnp.round(fused * 255.0).astype(jnp.uint8)
        return jnp.moveaxis(fused, -3, -1)  # [k, 3, H, W] -> [k, H, W, 3]

    if chunk is None:
        return group(mri, pet)
    count = mri.shape[0]
    grouped = jax.lax.map(
        lambda pair: group(*pair),
        (mri.reshape((count // chunk, chunk) + mri.shape[1:]), pet.reshape((count // chunk, chunk) + pet.shape[1:])),
    )
    return grouped.reshape((count,) + grouped.shape[2:])


def _platform(x: jax.Array) -> str:
    """The platform ``x`` will be computed on: its device's for a concrete array, else the default."""
    try:
        return next(iter(x.devices())).platform
    except Exception:  # noqa: BLE001 - tracers have no devices
        return jax.default_backend()


def _default_params(channels: int) -> Conv1_1Params:
    # NumPy arrays (cached by the loader), never jax arrays: a cache filled while some caller is
    # tracing would otherwise hold that trace's tracers.
    return load_vgg19_conv1_1(channels=channels)


def _check_dtype(x: jax.Array, name: str) -> None:
    if not (x.dtype in (jnp.uint8, jnp.uint16) or jnp.issubdtype(x.dtype, jnp.floating)):
        raise TypeError(f"{name} must be uint8, uint16 or float, got {x.dtype}")


class FlatPair(NamedTuple):
    """Validated inputs flattened to one batch axis (see :func:`flatten_pair`)."""

    mri: jax.Array  # [N, H, W]
    pet: jax.Array  # [N, H, W, 3] or [N, H, W]
    pet_is_rgb: bool
    batch_shape: tuple[int, ...]


def flatten_pair(mri: ArrayLike, pet: ArrayLike) -> FlatPair:
    """Checks an (MRI, functional) input pair and flattens its leading dims into one batch axis.

    Args:
        mri: ``[..., H, W]`` uint8, uint16 or float.
        pet: ``[..., H, W, 3]`` or ``[..., H, W]``, same leading dims; uint8, uint16 or float.

    Returns:
        ``FlatPair`` with ``mri [N, H, W]``, ``pet [N, H, W(, 3)]``, whether PET is RGB, and the
        original leading dims.

    Raises:
        ValueError: the shapes do not match or are not images. TypeError: unsupported dtype.
    """
    mri = jnp.asarray(mri)
    pet = jnp.asarray(pet)
    _check_dtype(mri, "mri")
    _check_dtype(pet, "pet")
    if mri.ndim < 2:
        raise ValueError(f"mri must have shape [..., H, W], got {mri.shape}")
    if pet.shape == mri.shape:
        pet_is_rgb = False
    elif pet.shape == mri.shape + (3,):
        pet_is_rgb = True
    else:
        raise ValueError(
            f"pet must have shape {mri.shape + (3,)} (RGB) or {mri.shape} (gray) to match mri {mri.shape}, "
            f"got {pet.shape}"
        )
    height, width = mri.shape[-2], mri.shape[-1]
    return FlatPair(
        mri=mri.reshape((-1, height, width)),
        pet=pet.reshape((-1, height, width) + ((3,) if pet_is_rgb else ())),
        pet_is_rgb=pet_is_rgb,
        batch_shape=mri.shape[:-2],
    )


#: Pairs per group on CPU (see ``_fuse_kernel``). At 256x256, batch 64-256, groups of 2, 4 and 8 ran
#: within noise of each other and 20-30% faster than one vmap over the whole batch; a group of 1 is
#: compiled differently (see :func:`batch_plan`). 2 keeps a single pair's cost at two pairs' work.
CPU_GROUP_SIZE = 2


def batch_plan(count: int, platform: str) -> tuple[int, int | None]:
    """``(padded batch size, group size or None)`` for ``count`` pairs on ``platform``.

    On CPU every batch runs in groups of :data:`CPU_GROUP_SIZE` (padded up to a multiple), each
    group by the same compiled program, so a pair gives the same bytes alone or in any batch
    (programs vmapped over different batch sizes may fuse differently and round a few values
    differently). Elsewhere the whole batch is one vmap; a single pair then runs as a batch of two,
    because XLA compiles a size-1 batch axis away into a differently rounded program.
    """
    if platform == "cpu":
        return -(-count // CPU_GROUP_SIZE) * CPU_GROUP_SIZE, CPU_GROUP_SIZE
    return max(count, 2), None


def pad_batch(flat: FlatPair, size: int) -> tuple[jax.Array, jax.Array]:
    """The flat batch padded to ``size`` pairs by repeating its first pair; callers slice the first ``N``."""
    extra = size - flat.mri.shape[0]
    if extra <= 0:
        return flat.mri, flat.pet
    fill = lambda x: jnp.concatenate([x, jnp.broadcast_to(x[:1], (extra,) + x.shape[1:])])  # noqa: E731
    return fill(flat.mri), fill(flat.pet)


def pad_single_pair(flat: FlatPair) -> tuple[jax.Array, jax.Array]:
    """The flat batch, a single pair repeated to a batch of two (see :func:`batch_plan`)."""
    return pad_batch(flat, max(flat.mri.shape[0], 2))


def check_output_dtype(output_dtype) -> bool:
    """Returns True for uint8 output, False for float32; raises ValueError for anything else."""
    output_dtype = np.dtype(output_dtype)
    if output_dtype not in (np.dtype(np.float32), np.dtype(np.uint8)):
        raise ValueError(f"output_dtype must be float32 or uint8, got {output_dtype}")
    return output_dtype == np.dtype(np.uint8)


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
    flat = flatten_pair(mri, pet)
    if normalisation not in _NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {_NORMALISATIONS}, got {normalisation!r}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if colour_space not in _COLOUR_SPACES:
        raise ValueError(f"colour_space must be one of {_COLOUR_SPACES}, got {colour_space!r}")
    quantise = check_output_dtype(output_dtype)
    if params is None:
        params = _default_params(channels)
    # Fixed dtypes for the traced scalars, so a Python float and an array do not compile twice.
    scalar_dtype = jnp.float64 if jnp.float64 in (flat.mri.dtype, flat.pet.dtype) else jnp.float32
    a = jnp.asarray(a, scalar_dtype)
    b = jnp.asarray(b, scalar_dtype)

    size, chunk = batch_plan(flat.mri.shape[0], _platform(flat.mri))
    mri_batch, pet_batch = pad_batch(flat, size)
    fused = _fuse_kernel(
        mri_batch,
        pet_batch,
        a,
        b,
        params.kernel,
        params.bias,
        pet_is_rgb=flat.pet_is_rgb,
        channels=channels,
        per_channel=normalisation == "channel",
        reduction=reduction,
        colour_space=colour_space,
        quantise=quantise,
        chunk=chunk,
    )
    return fused[: flat.mri.shape[0]].reshape(flat.batch_shape + fused.shape[1:])
