"""Per-image A and B for the paper's Eq. 1, chosen by gradient ascent on a no-reference criterion.

The paper fixes A = 0.3 and B = 0.1 and says itself that they "were obtained experimentally" and
"cannot be generalized to all images". Here each pair gets its own A and B: the maximiser, within
box bounds, of :func:`jaxfuse.adaptive.criterion.content_criterion` of its fused intensity, found
by projected Adam (``optax.adam`` with a cosine-decayed step, then ``optax.projections
.projection_box`` after every step) for a fixed number of steps from the paper's (0.3, 0.1).

Image contract: as :func:`jaxfuse.fuse` -- MRI ``[..., H, W]`` gray, functional image
``[..., H, W, 3]`` RGB or ``[..., H, W]`` gray; uint8, uint16 or float in [0, 1]. Output: the fused
RGB ``[..., H, W, 3]`` (float32 in [0, 1] or uint8) and the chosen ``a``, ``b`` ``[...]`` float32.

Everything runs in one ``jax.jit`` of a ``jax.vmap`` over the batch (in groups of
:data:`jaxfuse._batching.CPU_GROUP_SIZE` on CPU, so a pair gives the same A, B and bytes alone or
in any batch), compiled once per shape, dtype and option set: per pair, steps 2-5a of the paper
(:func:`jaxfuse.core.fusion._pair_terms`; the VGG19 weights do not depend on A and B, so they are
computed once), then the optimisation loop (``jax.lax.fori_loop`` of ``jax.grad`` steps), then
Eq. 1 and the colour step exactly as :func:`jaxfuse.fuse` does with the chosen A and B.
Deterministic: no randomness, fixed start, fixed step count.

The defaults (gradient weight, step count, learning rate, bounds) were chosen on the ``train`` ids
of ``../shared/data/harvard/split.json`` only (``docs/make_adaptive_study.py --select``); the
``test`` ids report the result (docs/reproduction.md, "Adaptive A and B").
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from jaxfuse._batching import batch_plan, flatten_pair, output_is_uint8, pad_batch, platform_of
from jaxfuse.adaptive.criterion import content_criterion
from jaxfuse.core.features import conv1_1_offsets
from jaxfuse.core.fusion import (
    COLOUR_SPACES,
    DEFAULT_A,
    DEFAULT_B,
    NORMALISATIONS,
    REDUCTIONS,
    _default_params,
    _finish,
    _pair_terms,
    fusion_rule,
    restore_colour_planes,
)
from jaxfuse.core.params import Conv1_1Params

__all__ = [
    "DEFAULT_GRADIENT_WEIGHT",
    "DEFAULT_STEPS",
    "DEFAULT_LEARNING_RATE",
    "DEFAULT_BOUNDS",
    "AdaptiveFusion",
    "choose_weights",
    "fuse_adaptive",
]

#: lambda of the criterion (weight of the MRI-gradient term), chosen on the train ids.
DEFAULT_GRADIENT_WEIGHT = 5.0
#: Adam steps per pair (a fixed budget: no stopping test, so every pair costs the same).
DEFAULT_STEPS = 80
#: Initial Adam step (in units of A and B), cosine-decayed to 0 over the steps.
DEFAULT_LEARNING_RATE = 0.1
#: Box bounds ``(low, high)`` for both A and B (the range the command line accepts for --a, --b).
DEFAULT_BOUNDS = (0.0, 1.0)

# Incremented each time the adaptive kernel is traced (i.e. compiled); tests use it.
_trace_count = 0


class AdaptiveFusion(NamedTuple):
    """Result of :func:`fuse_adaptive`: ``fused [..., H, W, 3]`` and the chosen ``a``, ``b`` ``[...]``."""

    fused: jax.Array
    a: jax.Array
    b: jax.Array


def choose_weights(mri_unit, intensity, mri_weight, pet_weight, *, gradient_weight, steps, learning_rate, low, high):
    """The optimisation for one pair: ``[H, W]`` unit planes (the terms of Eq. 1) -> ``[2]`` (A, B).

    Maximises ``content_criterion(clip(A M + B I + w_M M + w_P I, 0, 1); M, I)`` over
    ``low <= A, B <= high`` by ``steps`` projected Adam steps from the paper's (0.3, 0.1) (clipped
    into the box). Differentiable in its inputs only through the final iterate (no implicit
    differentiation); meant to be called inside the compiled kernel, but works on its own.
    """
    dtype = mri_unit.dtype
    residual = mri_weight * mri_unit + pet_weight * intensity  # the weight terms: independent of A, B

    def loss(ab):
        fused = jnp.clip(ab[0] * mri_unit + ab[1] * intensity + residual, 0.0, 1.0)
        return -content_criterion(fused, mri_unit, intensity, gradient_weight=gradient_weight)

    schedule = optax.cosine_decay_schedule(learning_rate, max(steps, 1))
    optimiser = optax.adam(schedule)
    start = jnp.clip(jnp.asarray([DEFAULT_A, DEFAULT_B], dtype), low, high)

    def step(_, carry):
        ab, state = carry
        updates, state = optimiser.update(jax.grad(loss)(ab), state, ab)
        return optax.projections.projection_box(optax.apply_updates(ab, updates), low, high), state

    ab, _ = jax.lax.fori_loop(0, steps, step, (start, optimiser.init(start)))
    return ab


def _adaptive_pair(mri, pet, kernel, offsets, hyper, *, pet_is_rgb, normalisation, reduction, colour_space, steps):
    pet_unit, mri_unit, intensity, mri_weight, pet_weight = _pair_terms(
        mri, pet, kernel, offsets, pet_is_rgb=pet_is_rgb, normalisation=normalisation, reduction=reduction
    )
    gradient_weight, learning_rate, low, high = hyper
    ab = choose_weights(
        mri_unit, intensity, mri_weight, pet_weight, gradient_weight=gradient_weight, steps=steps,
        learning_rate=learning_rate, low=low, high=high,
    )  # fmt: skip
    fused = fusion_rule(mri_unit, intensity, mri_weight, pet_weight, a=ab[0], b=ab[1])
    return restore_colour_planes(pet_unit, intensity, fused, colour_space=colour_space), ab


@functools.partial(
    jax.jit,
    static_argnames=(
        "pet_is_rgb", "channels", "normalisation", "reduction", "colour_space", "quantise", "group", "steps",
    ),
)  # fmt: skip
def _adaptive_kernel(
    mri,
    pet,
    hyper,
    kernel,
    bias,
    *,
    pet_is_rgb,
    channels,
    normalisation,
    reduction,
    colour_space,
    quantise,
    group,
    steps,
):
    """``[N, H, W]`` + ``[N, H, W(, 3)]`` -> (``[N, H, W, 3]`` fused, ``[N, 2]`` A and B); as ``_fuse_kernel``."""
    global _trace_count
    _trace_count += 1
    dtype = jnp.float64 if jnp.float64 in (mri.dtype, pet.dtype) else jnp.float32
    hyper = tuple(jnp.asarray(h, dtype) for h in hyper)
    kernel = jnp.asarray(kernel, dtype)[:channels]
    bias = jnp.asarray(bias, dtype)[:channels]
    offsets = conv1_1_offsets(mri.shape[-2], mri.shape[-1], kernel, bias)
    one_pair = functools.partial(
        _adaptive_pair, pet_is_rgb=pet_is_rgb, normalisation=normalisation, reduction=reduction,
        colour_space=colour_space, steps=steps,
    )  # fmt: skip

    def run_group(mri, pet):
        fused, ab = jax.vmap(one_pair, in_axes=(0, 0, None, None, None))(mri, pet, kernel, offsets, hyper)
        return _finish(fused, quantise=quantise), ab

    if group is None:
        return run_group(mri, pet)
    count = mri.shape[0]
    fused, ab = jax.lax.map(
        lambda pair: run_group(*pair),
        (mri.reshape((count // group, group) + mri.shape[1:]), pet.reshape((count // group, group) + pet.shape[1:])),
    )
    return fused.reshape((count,) + fused.shape[2:]), ab.reshape((count, 2))


def fuse_adaptive(
    mri: ArrayLike,
    pet: ArrayLike,
    *,
    gradient_weight: float = DEFAULT_GRADIENT_WEIGHT,
    steps: int = DEFAULT_STEPS,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
    normalisation: str = "tensor",
    reduction: str = "mean",
    colour_space: str = "hsi",
    channels: int = 3,
    params: Conv1_1Params | None = None,
    output_dtype=jnp.float32,
) -> AdaptiveFusion:
    """Fuses with the paper's VGG19 rule, A and B chosen per pair by maximising the content criterion.

    Args:
        mri: ``[..., H, W]`` gray MRI; uint8, uint16 or float in [0, 1]; H, W >= 2.
        pet: ``[..., H, W, 3]`` RGB or ``[..., H, W]`` gray functional image, same leading dims.
        gradient_weight: lambda >= 0 of :func:`jaxfuse.adaptive.criterion.content_criterion`.
        steps: Adam steps per pair, >= 0 (static: a new value compiles again; 0 keeps (0.3, 0.1)).
        learning_rate: initial Adam step, > 0, cosine-decayed to 0.
        bounds: ``(low, high)`` box for both A and B, ``0 <= low <= high``.
        normalisation, reduction, colour_space, channels, params: as :func:`jaxfuse.fuse`.
        output_dtype: ``jnp.float32`` ([0, 1]) or ``jnp.uint8`` (``round(255 x)``).

    Returns:
        :class:`AdaptiveFusion` ``(fused [..., H, W, 3], a [...], b [...])``; ``a``, ``b`` in the
        kernel's float dtype (float32, or float64 for float64 inputs under x64).

    Raises:
        ValueError: shapes do not match, an unknown option, or a hyper-parameter out of range.
        TypeError: an unsupported dtype.

    Example:
        >>> mri = jnp.zeros((2, 32, 32), jnp.uint8)
        >>> pet = jnp.zeros((2, 32, 32, 3), jnp.uint8)
        >>> result = fuse_adaptive(mri, pet)
        >>> result.fused.shape, result.a.shape
        ((2, 32, 32, 3), (2,))
    """
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {normalisation!r}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if colour_space not in COLOUR_SPACES:
        raise ValueError(f"colour_space must be one of {COLOUR_SPACES}, got {colour_space!r}")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    low, high = (float(x) for x in bounds)
    if not 0.0 <= low <= high:
        raise ValueError(f"bounds must be (low, high) with 0 <= low <= high, got {bounds!r}")
    if not float(gradient_weight) >= 0.0:
        raise ValueError(f"gradient_weight must be >= 0, got {gradient_weight!r}")
    if not float(learning_rate) > 0.0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    quantise = output_is_uint8(output_dtype)
    params = _default_params(channels) if params is None else params
    scalar_dtype = jnp.float64 if jnp.float64 in (jnp.result_type(mri), jnp.result_type(pet)) else jnp.float32
    hyper = tuple(jnp.asarray(h, scalar_dtype) for h in (gradient_weight, learning_rate, low, high))
    flat = flatten_pair(mri, pet)
    count = flat.mri.shape[0]
    size, group = batch_plan(count, platform_of(flat.mri))  # the grouped plan: same bytes at any batch size
    mri_batch, pet_batch = pad_batch((flat.mri, flat.pet), size)
    fused, ab = _adaptive_kernel(
        mri_batch, pet_batch, hyper, params.kernel, params.bias, pet_is_rgb=flat.pet_is_rgb, channels=channels,
        normalisation=normalisation, reduction=reduction, colour_space=colour_space, quantise=quantise, group=group,
        steps=steps,
    )  # fmt: skip
    shape = flat.batch_shape
    return AdaptiveFusion(
        fused=fused[:count].reshape(shape + fused.shape[1:]),
        a=ab[:count, 0].reshape(shape),
        b=ab[:count, 1].reshape(shape),
    )
