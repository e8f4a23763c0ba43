"""Fast discrete curvelet transform via wrapping, in pure JAX (Candes et al. 2006).

The transform is a tight frame built in the 2-D DFT domain: Meyer-type windows split the
spectrum into a coarse isotropic low-pass, ``levels - 1`` curvelet scales cut into angular
wedges, and an isotropic ("wavelet") finest scale. The squared windows sum to one at every
frequency, so ``sum |c|**2 == ||x||**2`` and the inverse is the adjoint. Each wedge's windowed
spectrum is *wrapped* (periodised) into a small rectangle around the origin and brought back to
space with an inverse FFT, as in the paper's "wrapping" algorithm. The tiling itself (radial and
angular windows, wedge order and angles, wrapping rectangles) is built in NumPy by
:mod:`jaxfuse.multiscale.curvelet_plan`, whose docstring states its conventions.

Scales:
    ``levels + 1`` in all (CurveLab's ``nbscales = levels + 1``): scale 0 is the coarse
    low-pass, scales ``1 .. levels - 1`` are curvelet scales, scale ``levels`` (finest) is
    isotropic (CurveLab's "wavelets at the finest scale"). ``levels=4`` gives the 4
    decomposition levels of the fusion literature, like ``dwt2(levels=4)``.

dtypes:
    Curvelet wedges are complex (complex64 for float32 input, complex128 for float64 under
    ``jax.enable_x64``); the coarse and finest bands of a real image are real (their windows are
    even), stored in the input's float dtype. The inverse returns the real part: for real
    coefficients of a real image the reconstruction is real up to rounding, and
    ``inverse = Re(T^*)`` is exactly the adjoint of the forward map seen as a real-linear map
    (real inner product ``Re <u, v>`` on the coefficients).

Image contract: :mod:`jaxfuse.multiscale.base`; options are static Python ints; all index maps are
NumPy constants built once per ``(shape, levels, angles)``, so the transform is jit-able,
vmap-able and differentiable.

References:
    E. J. Candes, L. Demanet, D. L. Donoho and L. Ying, "Fast discrete curvelet transforms",
    Multiscale Model. Simul. 5(3):861-899, 2006.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp

from jaxfuse.multiscale.base import MultiscaleTransform, as_image, check_levels, lowpass_field
from jaxfuse.multiscale.curvelet_plan import CurveletLayout, curvelet_plan

__all__ = [
    "CURVELET",
    "CurveletCoefficients",
    "CurveletLayout",
    "curvelet_transform",
    "inverse_curvelet_transform",
]


@functools.partial(jax.tree_util.register_dataclass, data_fields=["coarse", "detail", "fine"],
                   meta_fields=["layout"])
@dataclasses.dataclass(frozen=True)
class CurveletCoefficients:
    """Curvelet coefficients of one image: a pytree whose static part is its layout.

    Attributes:
        coarse: ``layout.coarse_shape`` real array, the isotropic low-pass band (``None`` in the
            high-pass half returned by the fusion ``split``).
        detail: ``detail[s][l]``, complex array of shape ``layout.wedge_shapes[s][l]``: wedge
            ``l`` (angle ``layout.wedge_angles[s][l]``) of curvelet scale ``s``, coarsest first.
        fine: ``[H, W]`` real array, the isotropic finest scale.
        layout: the :class:`CurveletLayout` (static pytree metadata).
    """

    coarse: Any
    detail: tuple[tuple[Any, ...], ...]
    fine: Any
    layout: CurveletLayout


def _check_options(levels: Any, angles: Any) -> tuple[int, int]:
    levels = check_levels(levels)
    if isinstance(angles, bool) or not isinstance(angles, int) or angles < 4 or angles % 4:
        raise ValueError(f"angles must be a Python int, a positive multiple of 4; got {angles!r}")
    return levels, angles


def curvelet_transform(image: jax.typing.ArrayLike, *, levels: int = 4,
                       angles: int = 16) -> CurveletCoefficients:
    """Fast discrete curvelet transform via wrapping (tight frame) of one image.

    ``F = fft2(image)`` (orthonormal); for each wedge, ``F`` times the wedge window is wrapped
    into the wedge's rectangle and brought back with an orthonormal ``ifft2``. The coarse band
    is wrapped into its bounding box; the finest band is ``ifft2(F * window)`` at full size.

    Args:
        image: ``[H, W]`` float image, any size (odd, non-square) large enough that every wedge
            has frequency support (``H, W >= 16`` for the defaults; smaller raises ValueError).
        levels: decomposition levels (static int >= 1): ``levels + 1`` scales, of which
            ``levels - 1`` are curvelet scales.
        angles: wedges at the second-coarsest scale (static positive multiple of 4), doubled at
            the next scale and every second scale after.

    Returns:
        A :class:`CurveletCoefficients`: real ``coarse`` and ``fine`` bands of ``image``'s
        dtype, complex wedges (complex64 for float32). ``sum |c|**2 == sum image**2``.

    Raises:
        ValueError: ``image`` is not 2-D, is too small, or an option is invalid.
        TypeError: ``image`` is not a float array.

    Example:
        >>> import jax.numpy as jnp
        >>> c = curvelet_transform(jnp.ones((256, 256)))
        >>> c.layout.wedge_counts, c.coarse.shape, c.fine.shape, c.detail[0][0].dtype
        ((16, 32, 32), (31, 31), (256, 256), dtype('complex64'))

    References:
        Candes, Demanet, Donoho & Ying, Multiscale Model. Simul. 5(3):861-899, 2006.
    """
    x = as_image(image)
    plan = curvelet_plan(tuple(x.shape), *_check_options(levels, angles))
    spectrum = jnp.fft.fft2(x, norm="ortho")
    gathered = spectrum.reshape(-1).at[plan.src].get(mode="promise_in_bounds")
    gathered = gathered * jnp.asarray(plan.weight, x.dtype)
    spaces = [jnp.fft.ifft2(gathered[o:o + n * l0 * l1].reshape(n, l0, l1), norm="ortho")
              for o, n, l0, l1 in plan.blocks]
    detail = [[None] * n for n in plan.layout.wedge_counts]
    for block, names in zip(spaces[1:], plan.members[1:]):
        for i, (s, l) in enumerate(names):
            detail[s][l] = block[i]
    fine = jnp.fft.ifft2(spectrum * jnp.asarray(plan.fine, x.dtype), norm="ortho")
    return CurveletCoefficients(coarse=spaces[0][0].real.astype(x.dtype),
                                detail=tuple(tuple(d) for d in detail),
                                fine=fine.real.astype(x.dtype), layout=plan.layout)


def inverse_curvelet_transform(coeffs: CurveletCoefficients) -> jax.Array:
    """Inverse (= adjoint) of :func:`curvelet_transform`; perfect reconstruction.

    Each band is brought back to the frequency domain (orthonormal ``fft2``), multiplied by
    its window and added (unwrapped) at its frequencies; the sum goes back with ``ifft2``.

    Args:
        coeffs: a :class:`CurveletCoefficients` (all shape information is in ``coeffs.layout``).

    Returns:
        ``[H, W]`` real image, the real part of the adjoint (float32 for complex64 wedges).
        For the coefficients of a real image it is that image up to rounding.

    Raises:
        ValueError: an array's shape does not match ``coeffs.layout``.

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.linspace(0, 1, 64 * 48).reshape(64, 48)
        >>> y = inverse_curvelet_transform(curvelet_transform(x, levels=3))
        >>> bool(jnp.allclose(x, y, atol=1e-5))
        True
    """
    if not isinstance(coeffs, CurveletCoefficients):
        raise TypeError(f"coeffs must be CurveletCoefficients; got {type(coeffs).__name__}")
    layout = coeffs.layout
    plan = curvelet_plan(layout.shape, layout.levels, layout.angles)
    coarse, fine = jnp.asarray(coeffs.coarse), jnp.asarray(coeffs.fine)
    detail = [[jnp.asarray(w) for w in scale] for scale in coeffs.detail]
    got = ([coarse.shape, fine.shape], [[w.shape for w in scale] for scale in detail])
    expected = ([layout.coarse_shape, layout.shape],
                [list(shapes) for shapes in layout.wedge_shapes])
    if got != expected:
        raise ValueError(f"curvelet coefficient shapes {got} do not match the layout {expected}")
    cdtype = jnp.promote_types(
        jnp.result_type(coarse, fine, *(w for scale in detail for w in scale)), jnp.complex64)
    rdtype = jnp.finfo(cdtype).dtype
    bands = [coarse[None]] + [jnp.stack([detail[s][l] for s, l in names])
                              for names in plan.members[1:]]
    gathered = jnp.concatenate(
        [jnp.fft.fft2(b.astype(cdtype), norm="ortho").reshape(-1) for b in bands])
    gathered = gathered * jnp.asarray(plan.weight, rdtype)
    n0, n1 = layout.shape
    spectrum = jnp.zeros(n0 * n1, cdtype).at[plan.src].add(gathered, mode="promise_in_bounds")
    spectrum = spectrum.reshape(n0, n1) + (
        jnp.fft.fft2(fine.astype(cdtype), norm="ortho") * jnp.asarray(plan.fine, rdtype))
    return jnp.fft.ifft2(spectrum, norm="ortho").real



_split, _merge = lowpass_field("coarse")

#: The curvelet transform for :func:`jaxfuse.multiscale.fuse_multiscale`: the coarse band is
#: averaged, wedges and the finest band keep the larger-magnitude coefficient (``jnp.abs``,
#: complex magnitude for the wedges); the inverse returns a real image. The high-pass half of
#: ``split`` keeps the layout, with ``coarse=None``.
CURVELET = MultiscaleTransform(forward=curvelet_transform, inverse=inverse_curvelet_transform,
                               split=_split, merge=_merge)
