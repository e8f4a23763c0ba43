"""Rigid registration by Mattes mutual information, multi-resolution, with an optax optimiser.

The fixed image (MRI) stays; the moving image (PET) is sampled (linear interpolation, the volume
package's rule) at the fixed sample points ``p`` mapped through ``inv(A_moving) @ T @ A_fixed``,
and ``T`` (fixed world mm -> moving world mm) is the rigid transform of
:mod:`jaxfuse.registration.rigid` that maximises MI. Per pyramid level, coarsest first:

1. both images are a level of their own Gaussian pyramid, smoothed by ``smoothing`` voxels of
   that level (the smoothed level, subsampled by 2, is the next coarser level);
2. the sample points are a lattice of fixed voxels (every ``s``-th voxel per axis, ``s`` the
   smallest stride giving at most ``max_samples`` points), each point moved by ``jitter`` times
   a uniform offset in ``[-s/2, s/2)`` per axis drawn once with a fixed seed (deterministic);
   the fixed values are interpolated there once per level; samples the transform sends outside
   the moving image get weight 0. Jitter matters when both images share one pixel grid (2-D
   slice pairs): on a lattice, every sample of an unmoved pair falls on a moving pixel centre
   (no interpolation blur) and every sample of a half-pixel shift between four, so MI peaks at
   whole-pixel shifts and biased the atlas pairs' optimum by up to 0.6 px; with random
   sub-pixel offsets the blur no longer depends on the shift;
3. Adam on the scaled parameters (angles times the fixed image's RMS radius, so every parameter
   is in mm) with a cosine-decayed step, ``learning_rate * 2**level`` mm at the start of a level,
   for a fixed number of iterations inside one ``lax.scan``.

Rotation is about the fixed image's centre of mass; the translation starts at the difference of
the two centres of mass (``init="com"``), at 0 (``init="identity"``), or at whichever of the two
scores the higher MI at the coarsest level (``init="auto"``, the default: images already roughly
aligned, as slices of one atlas are, keep that alignment; images on unrelated fields of view start
from their centres of mass).

The report's MI values are taken at the finest level for the initial and the final transform.
``converged`` is true when, over the last quarter of the finest level, the parameters moved less
than ``tolerance`` mm (scaled-parameter distance) and the final MI is above the initial one.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from jaxfuse.registration import _warp
from jaxfuse.registration.moments import centre_of_mass, rms_radius
from jaxfuse.registration.mutual_information import HISTOGRAMS, fixed_bins, mattes_mutual_information
from jaxfuse.registration.pyramid import gaussian_blur, pyramid_shapes
from jaxfuse.registration.rigid import parameter_count, rigid_matrix, unscale_parameters

__all__ = ["INITS", "RigidOptions", "RegistrationReport", "register_rigid", "register_rigid_batch"]

INITS = ("auto", "com", "identity")


@dataclasses.dataclass(frozen=True)
class RigidOptions:
    """Static settings of a rigid registration (hashable; one compiled program per value).

    Attributes:
        levels: pyramid levels, >= 1.
        iterations: optimiser steps per level, coarsest first (``levels`` ints >= 4); None for
            the measured defaults of 3 levels, (100, 40, 30) for 2-D and (100, 60, 40) for 3-D
            (on all 269 Harvard motions the 2-D budget misses 7, as (100, 60, 40) does, at 1.3x
            the pairs/s; volumes need the longer finest level: 0.21 against 0.23 mm mean with 20
            steps). Other level counts need it given.
        learning_rate: Adam step in mm at the start of the finest level (doubled per coarser level).
        smoothing: Gaussian sigma (voxels of the level) applied to both images of every level
            before the objective samples them; 0 for none; None for the measured defaults, 1.0
            voxel for 2-D and 0.5 for 3-D. Smoothing the finest level too removes most of linear
            interpolation's ripple from MI, strongest when both images share one pixel grid (2-D
            slice pairs); on volumes, whose grids differ, more smoothing only biased the optimum
            (0.3 mm at 0.5 voxel, 0.6 mm at 1.5 voxels on the MNI/PET cases).
        bins: histogram bins per axis, >= 8.
        max_samples: most fixed samples per level (a lattice of every ``s``-th voxel); None for
            the measured defaults, 16384 for 2-D (a quarter of a 256x256 slice: 8192 left 2 of 16
            atlas motions 0.8-1.4 px off on the lattice, one 4.6 px off with jitter) and 8192 for
            3-D (0.15-0.29 mm on the MNI cases; 16384 gave 0.26-0.37 mm).
        jitter: random offset of each sample point, as a fraction of the lattice stride, in
            [0, 1]; None for the measured defaults, 1.0 for 2-D (on the Harvard motions the worst
            case went from 0.63 to 0.18 px mean, 1.19 to 0.35 px max) and 0.0 for 3-D (volumes on
            their own grids: 0.21 mm mean on 10 MNI cases without, 0.23 mm with).
        init: ``"com"`` (translation by the difference of the centres of mass), ``"identity"``,
            or ``"auto"``: whichever of the two has the higher MI at the coarsest level.
        histogram: ``"auto"``, ``"scatter"`` or ``"dense"`` (see ``joint_histogram``).
        tolerance: movement (mm) over the last quarter of the finest level below which the
            optimiser counts as converged.
    """

    levels: int = 3
    iterations: tuple[int, ...] | None = None
    learning_rate: float = 0.2
    smoothing: float | None = None
    bins: int = 16
    max_samples: int | None = None
    init: str = "auto"
    histogram: str = "auto"
    tolerance: float = 0.1
    jitter: float | None = None

    def __post_init__(self):
        if int(self.levels) != self.levels or self.levels < 1:
            raise ValueError(f"levels must be an integer >= 1, got {self.levels!r}")
        if self.iterations is None:
            if self.levels != 3:
                raise ValueError(f"iterations must be given (coarsest first) for levels={self.levels}")
        else:
            its = tuple(self.iterations)
            if len(its) != self.levels or any(int(n) != n or n < 4 for n in its):
                raise ValueError(
                    f"iterations must be {self.levels} integers >= 4 (coarsest first), got {self.iterations!r}"
                )
            object.__setattr__(self, "iterations", tuple(int(n) for n in its))
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0 (mm), got {self.learning_rate!r}")
        if self.smoothing is not None and not self.smoothing >= 0:
            raise ValueError(f"smoothing must be >= 0 (voxels), got {self.smoothing!r}")
        if int(self.bins) != self.bins or self.bins < 8:
            raise ValueError(f"bins must be an integer >= 8, got {self.bins!r}")
        if self.max_samples is not None and (int(self.max_samples) != self.max_samples or self.max_samples < 256):
            raise ValueError(f"max_samples must be an integer >= 256, got {self.max_samples!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if self.histogram not in HISTOGRAMS:
            raise ValueError(f"histogram must be one of {HISTOGRAMS}, got {self.histogram!r}")
        if self.jitter is not None and not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be in [0, 1] (of the lattice stride), got {self.jitter!r}")
        if not self.tolerance > 0:
            raise ValueError(f"tolerance must be > 0 (mm), got {self.tolerance!r}")


class RegistrationReport(NamedTuple):
    """What the optimiser did (arrays; batched registrations add a leading batch axis).

    Attributes:
        mi_initial: MI (nats) at the finest level for the initial transform.
        mi_final: MI (nats) at the finest level for the returned transform.
        iterations: total optimiser steps (int32).
        converged: bool, see the module notes.
        movement: mm the parameters moved over the last quarter of the finest level.
        level_mi: ``[levels]`` MI at the end of each level, coarsest first (each at its own level).
        parameters: ``[3]`` or ``[6]`` final parameters (radians, mm) about ``centre``.
        centre: ``[d]`` rotation centre, world mm (the fixed image's centre of mass).
    """

    mi_initial: jax.Array
    mi_final: jax.Array
    iterations: jax.Array
    converged: jax.Array
    movement: jax.Array
    level_mi: jax.Array
    parameters: jax.Array
    centre: jax.Array


def _lattice(shape: tuple[int, ...], max_samples: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Stride, offset and shape of the sample lattice on a level of ``shape`` (all static)."""
    s = 1
    while math.prod(-(-k // s) for k in shape) > max_samples:
        s += 1
    offset = tuple((k - 1 - (-(-k // s) - 1) * s) // 2 for k in shape)
    out = tuple(len(range(o, k, s)) for o, k in zip(offset, shape))
    return (s,) * len(shape), offset, out


def _sample_points(shape: tuple[int, ...], max_samples: int, jitter: float, dtype) -> jax.Array:
    """``[N, d]`` fixed voxel indices: the lattice, each point moved by ``jitter`` times a uniform
    draw in ``[-s/2, s/2)`` per axis (fixed seed), clipped to the image."""
    stride, offset, out_shape = _lattice(shape, max_samples)
    grids = jnp.meshgrid(
        *[jnp.arange(n, dtype=dtype) * s + o for n, s, o in zip(out_shape, stride, offset)], indexing="ij"
    )
    points = jnp.stack([g.reshape(-1) for g in grids], -1)
    if jitter > 0:
        u = jax.random.uniform(jax.random.key(0), points.shape, dtype) - 0.5
        points = points + jitter * jnp.asarray(stride, dtype) * u
        points = jnp.clip(points, 0.0, jnp.asarray(shape, dtype) - 1)
    return points


def _level_objective(fixed, fixed_affine, moving, moving_affine, centre, radius, options):
    """``u -> MI`` on one level, with the fixed samples binned once."""
    d = fixed.ndim
    points = _sample_points(fixed.shape, _max_samples(options, d), _jitter(options, d), fixed.dtype)
    fvals = _warp.sample_points(fixed, points)
    index = fixed_bins(fvals, lo=jnp.min(fixed), hi=jnp.max(fixed), bins=options.bins)
    lo, hi = jnp.min(moving), jnp.max(moving)
    world = points @ fixed_affine[:d, :d].T + fixed_affine[:d, d]
    to_moving = jnp.linalg.inv(moving_affine)

    def mi(u):
        voxel_map = to_moving @ rigid_matrix(unscale_parameters(u, radius), centre)
        coords = world @ voxel_map[:d, :d].T + voxel_map[:d, d]
        values = _warp.sample_points(moving, coords)
        weights = _warp.points_inside(coords, moving.shape)
        return mattes_mutual_information(
            index, values, weights, lo=lo, hi=hi, bins=options.bins, histogram=options.histogram
        )

    return mi


def _iterations(options: RigidOptions, d: int) -> tuple[int, ...]:
    if options.iterations is not None:
        return options.iterations
    return (100, 40, 30) if d == 2 else (100, 60, 40)


def _jitter(options: RigidOptions, d: int) -> float:
    if options.jitter is not None:
        return float(options.jitter)
    return 1.0 if d == 2 else 0.0


def _smoothing(options: RigidOptions, d: int) -> float:
    if options.smoothing is not None:
        return float(options.smoothing)
    return 1.0 if d == 2 else 0.5


def _max_samples(options: RigidOptions, d: int) -> int:
    if options.max_samples is not None:
        return int(options.max_samples)
    return 16384 if d == 2 else 8192


def _smoothed_pyramid(image, affine, options):
    """The images the objective sees, finest first: level ``l`` smoothed by ``options.smoothing``
    voxels; level ``l + 1`` subsamples the smoothed level ``l`` by 2 (so the smoothing, when it
    is at least 1 voxel, is also the pyramid's anti-alias blur; a separate 1-voxel blur otherwise).
    A smoothed level ``l`` is ``gaussian_pyramid``'s level ``l`` with a wider blur."""
    d = image.ndim
    sigma = _smoothing(options, d)
    halve = jnp.diag(jnp.array([2.0] * d + [1.0], image.dtype))
    out = []
    for level in range(options.levels):
        if level:
            image = (image if sigma >= 1.0 else gaussian_blur(image, sigma=1.0))[(slice(None, None, 2),) * d]
            affine = affine @ halve
        if sigma > 0:
            image = gaussian_blur(image, sigma=sigma)
        out.append((image, affine))
    return out


def _optimise_level(mi, u, *, steps, peak):
    """``steps`` Adam steps on ``-mi`` from ``u``, in one scan of ``steps + 1`` evaluations (the
    last one only measures the final point, so no separate MI program is compiled for it).

    Returns the final point, the ``[steps + 1, P]`` points visited and their MI."""
    schedule = optax.cosine_decay_schedule(peak, steps, alpha=0.05)
    opt = optax.adam(schedule)
    value_and_grad = jax.value_and_grad(lambda v: -mi(v))

    def step(carry, i):
        v, state = carry
        loss, g = value_and_grad(v)
        g = jnp.where(jnp.isfinite(g), g, 0.0)
        updates, new_state = opt.update(g, state, v)
        last = i == steps
        v_next = jnp.where(last, v, optax.apply_updates(v, updates))
        state = jax.tree.map(lambda a, b: jnp.where(last, a, b), state, new_state)
        return (v_next, state), (v, -loss)

    (u, _), (path, values) = jax.lax.scan(step, (u, opt.init(u)), jnp.arange(steps + 1))
    return u, path, values


def _register(fixed, fixed_affine, moving, moving_affine, options: RigidOptions):
    d = fixed.ndim
    fixed_levels = _smoothed_pyramid(fixed, fixed_affine, options)
    moving_levels = _smoothed_pyramid(moving, moving_affine, options)
    coarse, coarse_affine = fixed_levels[-1]
    centre = centre_of_mass(coarse, coarse_affine)
    radius = rms_radius(coarse, coarse_affine, centre)
    k = parameter_count(d) - d
    zeros = jnp.zeros(k, fixed.dtype)
    u_com = jnp.concatenate([zeros, (centre_of_mass(*moving_levels[-1]) - centre).astype(fixed.dtype)])
    u_identity = jnp.zeros(k + d, fixed.dtype)
    objectives = [
        _level_objective(*fixed_levels[level], *moving_levels[level], centre, radius, options)
        for level in range(options.levels)
    ]
    if options.init == "com":
        u0 = u_com
    elif options.init == "identity":
        u0 = u_identity
    else:
        scores = jax.vmap(objectives[-1])(jnp.stack([u_com, u_identity]))
        u0 = jnp.where(scores[0] > scores[1], u_com, u_identity)
    u = u0
    level_mi = []
    iterations = _iterations(options, d)
    for level in reversed(range(options.levels)):
        steps = iterations[options.levels - 1 - level]
        u, path, values = _optimise_level(objectives[level], u, steps=steps, peak=options.learning_rate * 2.0**level)
        level_mi.append(values[-1])
    quarter = path[-1 - max(1, steps // 4)]
    movement = jnp.sqrt(jnp.sum((u - quarter) ** 2))
    mi_initial, mi_final = objectives[0](u0), level_mi[-1]
    converged = (movement < options.tolerance) & (mi_final > mi_initial) & jnp.all(jnp.isfinite(u))
    params = unscale_parameters(u, radius)
    report = RegistrationReport(
        mi_initial=mi_initial,
        mi_final=mi_final,
        iterations=jnp.asarray(sum(iterations), jnp.int32),
        converged=converged,
        movement=movement,
        level_mi=jnp.stack(level_mi),
        parameters=params,
        centre=centre,
    )
    return rigid_matrix(params, centre), report


@functools.partial(jax.jit, static_argnames=("options",))
def _register_one(fixed, fixed_affine, moving, moving_affine, *, options):
    return _register(fixed, fixed_affine, moving, moving_affine, options)


@functools.partial(jax.jit, static_argnames=("options",))
def _register_many(fixed, fixed_affine, moving, moving_affine, *, options):
    return jax.vmap(lambda f, fa, m, ma: _register(f, fa, m, ma, options))(fixed, fixed_affine, moving, moving_affine)


def _prepare(fixed, moving, fixed_affine, moving_affine, batch: int, options: RigidOptions):
    fixed = jnp.asarray(fixed)
    moving = jnp.asarray(moving)
    d = fixed.ndim - batch
    if d not in (2, 3) or moving.ndim != fixed.ndim:
        lead = "[B, *S]" if batch else "[*S]"
        raise ValueError(
            f"fixed and moving must both be {lead} with 2 or 3 spatial dims, got shapes {fixed.shape} and {moving.shape}"
        )
    if batch and fixed.shape[0] != moving.shape[0]:
        raise ValueError(f"fixed and moving batches differ: {fixed.shape[0]} and {moving.shape[0]}")
    for name, x in (("fixed", fixed), ("moving", moving)):
        if min(pyramid_shapes(x.shape[batch:], levels=options.levels)[-1]) < 4:
            raise ValueError(
                f"{name} image of shape {x.shape[batch:]} is too small for {options.levels} pyramid levels"
            )
    dtype = jnp.result_type(fixed.dtype, moving.dtype, jnp.float32)
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.float32
    fixed, moving = fixed.astype(dtype), moving.astype(dtype)
    lead = fixed.shape[:batch]
    affines = []
    for name, a in (("fixed_affine", fixed_affine), ("moving_affine", moving_affine)):
        a = jnp.eye(d + 1, dtype=dtype) if a is None else jnp.asarray(a, dtype)
        if a.shape[-2:] != (d + 1, d + 1) or a.ndim - 2 > batch:
            raise ValueError(f"{name} must be [{d + 1}, {d + 1}] for {d}-D images, got shape {a.shape}")
        affines.append(jnp.broadcast_to(a, (*lead, d + 1, d + 1)))
    return fixed, moving, affines[0], affines[1]


def register_rigid(
    fixed: ArrayLike,
    moving: ArrayLike,
    *,
    fixed_affine: ArrayLike | None = None,
    moving_affine: ArrayLike | None = None,
    options: RigidOptions | None = None,
) -> tuple[jax.Array, RegistrationReport]:
    """Rigid transform that maximises Mattes MI between a fixed and a moving image.

    Args:
        fixed: ``[*S]`` fixed (reference, e.g. MRI) image, d = 2 or 3; any real dtype.
        moving: ``[*S']`` moving (e.g. PET) image on its own grid, same d.
        fixed_affine: ``[d+1, d+1]`` fixed voxel index -> world mm (RAS in 3-D); identity if None
            (then "mm" means voxels).
        moving_affine: ``[d+1, d+1]`` moving voxel index -> world mm; identity if None.
        options: :class:`RigidOptions` (static; each distinct value compiles once per shape).

    Returns:
        ``(transform, report)``: ``transform`` is ``[d+1, d+1]`` float32 mapping fixed world
        points to moving world points (``moving(inv(A_m) T A_f k)`` overlays ``fixed(k)``);
        ``report`` is a :class:`RegistrationReport`.

    Example:
        >>> t, rep = register_rigid(mri, pet, fixed_affine=a_mri, moving_affine=a_pet)  # doctest: +SKIP
    """
    options = RigidOptions() if options is None else options
    f, m, fa, ma = _prepare(fixed, moving, fixed_affine, moving_affine, 0, options)
    return _register_one(f, fa, m, ma, options=options)


def register_rigid_batch(
    fixed: ArrayLike,
    moving: ArrayLike,
    *,
    fixed_affine: ArrayLike | None = None,
    moving_affine: ArrayLike | None = None,
    options: RigidOptions | None = None,
) -> tuple[jax.Array, RegistrationReport]:
    """:func:`register_rigid` over a batch of pairs as one ``vmap`` (one compiled program).

    Args:
        fixed: ``[B, *S]`` fixed images (e.g. MRI slices).
        moving: ``[B, *S']`` moving images.
        fixed_affine, moving_affine: ``[d+1, d+1]`` shared or ``[B, d+1, d+1]`` per pair; identity if None.
        options: :class:`RigidOptions`.

    Returns:
        ``([B, d+1, d+1] transforms, report with a leading B axis on every field)``.
    """
    options = RigidOptions() if options is None else options
    f, m, fa, ma = _prepare(fixed, moving, fixed_affine, moving_affine, 1, options)
    return _register_many(f, fa, m, ma, options=options)
