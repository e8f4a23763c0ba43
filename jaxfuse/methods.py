"""The fusion methods of the paper's Table 1, behind one registry shared by the API and the CLI.

Every method takes the same inputs as :func:`jaxfuse.fuse` (MRI ``[..., H, W]``, functional image
``[..., H, W, 3]`` or ``[..., H, W]``; uint8, uint16 or float in [0, 1]) and returns fused RGB
``[..., H, W, 3]`` float32 in [0, 1] or uint8. Except for the VGG19 methods (``vgg19`` is
:func:`jaxfuse.fuse` itself, ``vgg19_adaptive`` :func:`jaxfuse.adaptive.fuse_adaptive`), a method is an *intensity rule*: a function of one pair,
``rule(mri [H, W], intensity [H, W]) -> F [H, W]`` on unit floats; the registry wraps it in the
shared frame (SPEC section 5): intensity of the functional image, the rule, clip to [0, 1], colour
restored through the intensity (Gonzalez-Woods HSI unless the method says otherwise), all compiled
as one ``jax.jit`` of a ``jax.vmap``, once per shape, dtype and method.

Adding a method is one entry::

    METHODS["maximum"] = FusionMethod(
        description="pixel-wise maximum of MRI and PET intensity",
        domain="spatial",
        rule=lambda mri, intensity: jnp.maximum(mri, intensity),
    )
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxfuse._batching import output_is_uint8, run_batched
from jaxfuse.adaptive import DEFAULT_BOUNDS, DEFAULT_STEPS, fuse_adaptive
from jaxfuse.core.fusion import DEFAULT_A, DEFAULT_B, IntensityRule, fuse, rule_kernel
from jaxfuse.deep import fuse_lahoud2019, fuse_li2018
from jaxfuse.multiscale.rule import fuse_multiscale

__all__ = ["FusionMethod", "METHODS", "method_names", "fuse_with", "batch_fuser"]


@dataclasses.dataclass(frozen=True)
class FusionMethod:
    """One fusion method.

    Attributes:
        description: one line for ``--help`` and reports.
        domain: ``"spatial"`` or ``"transform"`` (the paper's grouping).
        rule: per-pair intensity rule ``(mri [H, W], intensity [H, W]) -> F [H, W]`` on unit floats;
            ``None`` for a method that provides ``fuse`` instead.
        colour_space: how colour is restored around ``rule``: ``"hsi"`` or ``"ihs_linear"``.
        fuse: a full batched ``fuse(mri, pet, *, output_dtype)``; overrides ``rule``.
        paper_row: the method's row name in the paper's Table 1, if it has one.
    """

    description: str
    domain: Literal["spatial", "transform"]
    rule: IntensityRule | None = None
    colour_space: Literal["hsi", "ihs_linear"] = "hsi"
    fuse: Callable[..., jax.Array] | None = None
    paper_row: str | None = None


def _fuse_cnn(mri: ArrayLike, pet: ArrayLike, *, output_dtype=jnp.float32) -> jax.Array:
    """The paper's "CNN" baseline: :func:`jaxfuse.fuse` with ``a = b = 0`` (weights terms only)."""
    return fuse(mri, pet, a=0.0, b=0.0, output_dtype=output_dtype)


def _fuse_vgg19(mri: ArrayLike, pet: ArrayLike, *, output_dtype=jnp.float32) -> jax.Array:
    return fuse(mri, pet, a=DEFAULT_A, b=DEFAULT_B, output_dtype=output_dtype)


def _fuse_vgg19_adaptive(mri: ArrayLike, pet: ArrayLike, *, output_dtype=jnp.float32) -> jax.Array:
    """The VGG19 method with A and B chosen per pair (:func:`jaxfuse.adaptive.fuse_adaptive`, defaults)."""
    return fuse_adaptive(mri, pet, output_dtype=output_dtype).fused


#: Registered methods by name (the CLI's ``--method`` values).
METHODS: dict[str, FusionMethod] = {
    "vgg19": FusionMethod(
        description="the paper's method: VGG19 conv1_1 weights, A = 0.3, B = 0.1 (jaxfuse.fuse)",
        domain="spatial",
        fuse=_fuse_vgg19,
        paper_row="VGG19 method",
    ),
    "vgg19_adaptive": FusionMethod(
        description=f"VGG19 method with A, B per pair in [{DEFAULT_BOUNDS[0]:g}, {DEFAULT_BOUNDS[1]:g}], maximising a "
        f"no-reference PET-intensity + MRI-gradient criterion (projected Adam, {DEFAULT_STEPS} steps; jaxfuse.adaptive)",
        domain="spatial",
        fuse=_fuse_vgg19_adaptive,
    ),
    "cnn": FusionMethod(
        description='the paper\'s "CNN" baseline: VGG19 conv1_1 weights without the A, B terms',
        domain="spatial",
        fuse=_fuse_cnn,
    ),
    "average": FusionMethod(
        description="pixel averaging of the MRI and the functional intensity",
        domain="spatial",
        rule=lambda mri, intensity: 0.5 * (mri + intensity),
        paper_row="Pixel averaging",
    ),
    "hsi": FusionMethod(
        description="HSI substitution: the functional intensity replaced by the MRI (Gonzalez-Woods)",
        domain="spatial",
        rule=lambda mri, intensity: mri,
        paper_row="HSI based",
    ),
    "ihs_linear": FusionMethod(
        description="linear IHS substitution (Tu et al. 2001): adds MRI - I to each band",
        domain="spatial",
        rule=lambda mri, intensity: mri,
        colour_space="ihs_linear",
    ),
    "laplacian": FusionMethod(
        description="Laplacian pyramid, 4 levels: average low-pass, max-abs high-pass",
        domain="transform",
        rule=functools.partial(fuse_multiscale, transform="laplacian", levels=4),
    ),
    "dwt": FusionMethod(
        description="2-D DWT db2 (periodization), 4 levels: average low-pass, max-abs high-pass",
        domain="transform",
        rule=functools.partial(fuse_multiscale, transform="dwt", levels=4, wavelet="db2"),
        paper_row="Wavelet",
    ),
    "curvelet": FusionMethod(
        description="fast discrete curvelet transform (wrapping), 4 levels, 16 angles: average low-pass, max-abs high-pass",
        domain="transform",
        rule=functools.partial(fuse_multiscale, transform="curvelet", levels=4),
        paper_row="Curvelet",
    ),
    "contourlet": FusionMethod(
        description="contourlet transform (Laplacian pyramid + ladder DFB 'ls12', 4 levels, 4-4-8-8 directions): "
        "average low-pass, max-abs high-pass",
        domain="transform",
        rule=functools.partial(fuse_multiscale, transform="contourlet", levels=4),
        paper_row="Contourlet",
    ),
    "nsct": FusionMethod(
        description="nonsubsampled contourlet transform ('maxflat' pyramid, 'dmaxflat7' directions, 4 levels): "
        "average low-pass, max-abs high-pass",
        domain="transform",
        rule=functools.partial(fuse_multiscale, transform="nsct", levels=4),
        paper_row="NSCT",
    ),
}

# The VGG19 family beyond the paper (jaxfuse.deep): deeper VGG19 layers, each method from its paper.
METHODS["li2018"] = FusionMethod(
    description="Li, Wu & Kittler 2018: two-scale split (lambda = 5), base averaged, detail weighted by "
    "VGG19 relu1_1..relu4_1 l1 activity (3x3 block mean, ratio weights, max over layers); HSI colour",
    domain="spatial",
    fuse=fuse_li2018,
)
METHODS["lahoud2019"] = FusionMethod(
    description="Lahoud & Suesstrunk 2019: PET luminance (BT.601 YCbCr) fused with MRI by VGG19 relu1_1 "
    "l1-activity weight maps, chrominance kept",
    domain="spatial",
    fuse=fuse_lahoud2019,
)


def method_names() -> list[str]:
    """Registered method names, in registry order."""
    return list(METHODS)


def fuse_with(mri: ArrayLike, pet: ArrayLike, *, method: str = "vgg19", output_dtype=jnp.float32) -> jax.Array:
    """Fuses with any registered method.

    Args:
        mri: ``[..., H, W]`` gray; uint8, uint16 or float in [0, 1].
        pet: ``[..., H, W, 3]`` RGB or ``[..., H, W]`` gray, same leading dims and size.
        method: a key of :data:`METHODS`.
        output_dtype: ``jnp.float32`` (in [0, 1]) or ``jnp.uint8`` (``round(255 x)``).

    Returns:
        ``[..., H, W, 3]`` fused RGB.

    Raises:
        ValueError: unknown method, or shapes the method cannot take (e.g. a DWT size not
        divisible by 16).

    Example:
        >>> fuse_with(jnp.zeros((2, 32, 32)), jnp.zeros((2, 32, 32, 3)), method="average").shape
        (2, 32, 32, 3)
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    spec = METHODS[method]
    if spec.fuse is not None:
        return spec.fuse(mri, pet, output_dtype=output_dtype)
    kernel = functools.partial(
        rule_kernel, rule=spec.rule, colour_space=spec.colour_space, quantise=output_is_uint8(output_dtype)
    )
    return run_batched(kernel, mri, pet, grouped=False)


def batch_fuser(method: str = "vgg19", *, output_dtype=jnp.uint8, **options) -> Callable[[ArrayLike, ArrayLike], jax.Array]:
    """A ``(mri [N, H, W], pet [N, H, W(, 3)]) -> fused [N, H, W, 3]`` function for batch runs.

    The one place that decides how a batch runs: with more than one local device the VGG19 method
    splits the batch over them (:func:`jaxfuse.parallel.fuse_sharded`, the same bytes as one
    device); every other case is :func:`fuse_with`.

    Args:
        method: a key of :data:`METHODS`.
        output_dtype: ``jnp.uint8`` (default) or ``jnp.float32``.
        **options: keyword options of :func:`jaxfuse.fuse` (``a``, ``b``, ``normalisation``,
            ``reduction``, ``colour_space``); only the ``vgg19`` method takes them.

    Raises:
        ValueError: an unknown method, or options given for a method other than ``vgg19``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    if method != "vgg19":
        if options:
            raise ValueError(f"options {', '.join(sorted(options))} apply to method vgg19 only, not {method}")
        return functools.partial(fuse_with, method=method, output_dtype=output_dtype)
    if len(jax.local_devices()) > 1:
        from jaxfuse.parallel import fuse_sharded  # parallel imports this module's dependencies

        return functools.partial(fuse_sharded, output_dtype=output_dtype, **options)
    return functools.partial(fuse, output_dtype=output_dtype, **options)
