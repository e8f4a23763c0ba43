"""Tests for jaxfuse.multiscale.contourlet: the contourlet transform (pyramid + directional filter banks).

Compiles are shared: one jitted forward/inverse per image shape and dtype, reused across tests.
"""

import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxfuse import multiscale as T
from jaxfuse.multiscale import contourlet as C

# jax 0.10 has jax.enable_x64 (a context manager); older releases had it in jax.experimental.
enable_x64 = getattr(jax, "enable_x64", None)
if enable_x64 is None:  # pragma: no cover
    from jax.experimental import enable_x64

TOL = {np.float32: 1e-5, np.float64: 1e-10}
OPTIONS = ("levels", "directions", "dfb_filter")

fwd = jax.jit(C.contourlet_transform, static_argnames=OPTIONS)
inv = jax.jit(C.inverse_contourlet_transform)


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30)


def rand(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).random(shape).astype(dtype)


def grating(theta_deg, freq, n=256):
    """cos(2 pi f (x cos t + y sin t)), x the column index, y the row index."""
    y, x = np.mgrid[0:n, 0:n]
    t = np.radians(theta_deg)
    return np.cos(2 * np.pi * freq * (x * np.cos(t) + y * np.sin(t))).astype(np.float32)


def in_range(theta, rng):
    lo, hi = rng
    return any(lo <= t <= hi for t in (theta % 180, theta % 180 - 180))


# ------------------------------------------------------------------------ perfect reconstruction


@pytest.mark.parametrize("shape, directions", [((256, 256), None), ((128, 192), (1, 2, 3, 4))])
def test_perfect_reconstruction_float32(shape, directions):
    x = rand(shape)
    c = fwd(x) if directions is None else fwd(x, directions=directions)
    assert c.lowpass.dtype == jnp.float32
    assert all(s.dtype == jnp.float32 for s in jax.tree.leaves(c))
    assert rel_err(inv(c), x) <= TOL[np.float32]


def test_perfect_reconstruction_float64():
    with enable_x64(True):
        x = rand((256, 256), dtype=np.float64)
        c = fwd(x)
        y = inv(c)
        assert c.lowpass.dtype == jnp.float64 and y.dtype == jnp.float64
        assert rel_err(y, x) <= TOL[np.float64]


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
def test_dfb_alone_is_perfect_reconstruction(k):
    with enable_x64(True):
        x = rand((32, 48), seed=k, dtype=np.float64)
        subbands = C.directional_filter_bank(x, k=k)
        assert len(subbands) == 2**k
        assert sum(s.size for s in subbands) == x.size  # critically sampled
        assert rel_err(C.inverse_directional_filter_bank(subbands), x) <= TOL[np.float64]


@pytest.mark.parametrize("name", sorted(C.DFB_FILTERS))
def test_dfb_every_filter_is_perfect_reconstruction(name):
    x = rand((16, 16), seed=1)
    subbands = C.directional_filter_bank(x, k=3, dfb_filter=name)
    y = C.inverse_directional_filter_bank(subbands, dfb_filter=name)
    assert rel_err(y, x) <= TOL[np.float32]
    beta = np.asarray(C.DFB_FILTERS[name])
    np.testing.assert_allclose(beta.sum(), 1.0, atol=1e-12)  # beta(0) = 1
    np.testing.assert_allclose(beta, beta[::-1])


# ------------------------------------------------------------------------ structure


def test_structure_follows_directions():
    c = fwd(rand((256, 256)))  # defaults
    assert c.directions == C.default_directions(4) == (2, 2, 3, 3)
    assert [len(level) for level in c.bandpass] == [4, 4, 8, 8]
    assert c.lowpass.shape == (16, 16) and c.image_shape == (256, 256)
    assert [s.shape for s in c.bandpass[-1]] == [(64, 128)] * 4 + [(128, 64)] * 4
    assert [s.shape for s in c.bandpass[0]] == [(16, 16)] * 4
    c2 = fwd(rand((128, 192)), directions=(1, 2, 3, 4))
    assert [len(level) for level in c2.bandpass] == [2, 4, 8, 16]
    assert [s.shape for s in c2.bandpass[0]] == [(16, 12)] * 2
    assert [s.shape for s in c2.bandpass[-1]] == [(16, 96)] * 8 + [(64, 24)] * 8


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
def test_orientations_tile_the_half_plane(k):
    ranges = C.dfb_orientations(k)
    assert len(ranges) == 2**k
    assert ranges[0][0] == pytest.approx(-45) and ranges[-1][1] == pytest.approx(135)
    for (_, hi), (lo, _) in zip(ranges[:-1], ranges[1:]):
        assert hi == pytest.approx(lo)
    # Wedges are bounded by equally spaced slopes: tan(theta) on [-45, 45].
    if k >= 2:
        slopes = [np.tan(np.radians(lo)) for lo, _ in ranges[: 2 ** (k - 1)]]
        np.testing.assert_allclose(np.diff(slopes), 2.0 ** (2 - k), atol=1e-12)


def test_orientations_recorded_in_the_coefficients():
    c = fwd(rand((256, 256)))
    assert c.orientations == tuple(C.dfb_orientations(k) for k in c.directions)


# ------------------------------------------------------------------------ directional selectivity


@pytest.mark.parametrize("theta", [13.0, 77.0, 125.0])
@pytest.mark.parametrize("freq", [0.3, 0.15])
def test_oriented_grating_lands_in_matching_subbands(theta, freq):
    c = fwd(grating(theta, freq))
    total = matched = 0.0
    for subbands, ranges in zip(c.bandpass, c.orientations):
        for s, rng in zip(subbands, ranges):
            e = float(jnp.sum(jnp.square(s)))
            total += e
            matched += e if in_range(theta, rng) else 0.0
    assert matched / total > 0.5, (theta, freq, matched / total)
    # and the level holding most of the energy puts it in the matching subband
    level = int(np.argmax([sum(float(jnp.sum(s**2)) for s in b) for b in c.bandpass]))
    energies = [float(jnp.sum(s**2)) for s in c.bandpass[level]]
    assert in_range(theta, c.orientations[level][int(np.argmax(energies))])


def test_dfb_selectivity_on_periodic_tones():
    """Every pure tone near a wedge centre goes (> 80%) to that wedge (k = 3, alone)."""
    n, radius = 64, 0.35  # cycles per pixel
    y, x = np.mgrid[0:n, 0:n]
    ranges = C.dfb_orientations(3)
    batch, expected = [], []
    for i, (lo, hi) in enumerate(ranges):
        t = np.radians((lo + hi) / 2)
        m1, m0 = round(n * radius * np.cos(t)), round(n * radius * np.sin(t))
        batch.append(np.cos(2 * np.pi * (m1 * x + m0 * y) / n).astype(np.float32))
        expected.append(i)
    dfb = jax.jit(jax.vmap(functools.partial(C.directional_filter_bank, k=3)))
    energies = np.stack([np.sum(np.square(s), axis=(1, 2)) for s in dfb(np.stack(batch))], 1)
    fractions = energies / energies.sum(1, keepdims=True)
    assert np.all(fractions[np.arange(8), expected] > 0.8), fractions


# ------------------------------------------------------------------------ jit, vmap, gradients


def test_vmap_equals_single_calls():
    xs = np.stack([rand((256, 256), seed=s) for s in range(3)])
    batched = jax.jit(jax.vmap(C.contourlet_transform))(xs)
    for i, x in enumerate(xs):
        single = fwd(x)
        for b, s in zip(jax.tree.leaves(batched), jax.tree.leaves(single)):
            np.testing.assert_allclose(b[i], s, rtol=0, atol=1e-6)
    back = jax.jit(jax.vmap(C.inverse_contourlet_transform))(batched)
    assert rel_err(back, xs) <= TOL[np.float32]


def test_second_call_does_not_recompile():
    traces = []

    @jax.jit
    def roundtrip(x):
        traces.append(1)
        return C.inverse_contourlet_transform(C.contourlet_transform(x, levels=2))

    roundtrip(rand((64, 64), seed=1))
    roundtrip(rand((64, 64), seed=2))
    assert len(traces) == 1


@jax.jit
def fuse_and_grads(a, b):
    """The classic-rule contourlet fusion and the gradients of a scalar loss (one compile)."""

    def loss(a, b):
        return jnp.mean(jnp.square(T.fuse_multiscale(a, b, transform=C.CONTOURLET, levels=4)))

    return T.fuse_multiscale(a, b, transform=C.CONTOURLET, levels=4), jax.grad(loss, (0, 1))(a, b)


def test_fuse_with_itself_is_identity():
    x = rand((256, 256), seed=3)
    fused, _ = fuse_and_grads(x, x)
    assert fused.shape == x.shape and fused.dtype == jnp.float32
    assert rel_err(fused, x) <= TOL[np.float32]


def test_gradients_are_finite():
    a, b = rand((256, 256), seed=6), rand((256, 256), seed=7)
    a[:32] = 0.0  # black
    b[-32:] = 1.0  # white
    b[:, :32] = 0.5  # gray
    _, (ga, gb) = fuse_and_grads(a, b)
    assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gb))
    assert np.any(ga != 0) and np.any(gb != 0)


def test_fuse_rule_on_coefficients():
    a, b = rand((256, 256), seed=4), rand((256, 256), seed=5)
    ca, cb = fwd(a), fwd(b)
    fused = T.fuse_coefficients(ca, cb, transform=C.CONTOURLET)
    assert isinstance(fused, C.ContourletCoefficients) and fused.directions == ca.directions
    np.testing.assert_allclose(fused.lowpass, (ca.lowpass + cb.lowpass) / 2, rtol=1e-6)
    for f, x, y in zip(jax.tree.leaves(fused.bandpass), jax.tree.leaves(ca.bandpass),
                       jax.tree.leaves(cb.bandpass)):
        np.testing.assert_array_equal(f, np.where(np.abs(x) >= np.abs(y), x, y))
    low, high = C.CONTOURLET.split(ca)
    assert high.lowpass is None
    merged = C.CONTOURLET.merge(low, high)
    assert jax.tree.structure(merged) == jax.tree.structure(ca)
    assert all(m is c for m, c in zip(jax.tree.leaves(merged), jax.tree.leaves(ca)))


# ------------------------------------------------------------------------ validation and API


@pytest.mark.parametrize("shape", [(250, 256), (256, 200), (256,), (2, 256, 256)])
def test_bad_shape_raises_with_the_shape(shape):
    with pytest.raises(ValueError, match=str(shape).replace("(", r"\(").replace(")", r"\)")):
        C.contourlet_transform(np.zeros(shape, np.float32))


def test_bad_options_raise():
    x = np.zeros((64, 64), np.float32)
    with pytest.raises(ValueError, match="directions"):
        C.contourlet_transform(x, levels=4, directions=(2, 3))
    with pytest.raises(ValueError, match="levels"):
        C.contourlet_transform(x, levels=0)
    with pytest.raises(ValueError, match="unknown DFB filter"):
        C.contourlet_transform(x, dfb_filter="nope")
    with pytest.raises(TypeError):
        C.contourlet_transform(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError, match="divisible"):
        C.directional_filter_bank(np.zeros((12, 16), np.float32), k=4)
    with pytest.raises(ValueError, match="subband"):
        C.inverse_directional_filter_bank([np.zeros((4, 4))] * 3)


def test_options_are_keyword_only():
    for fn in (C.contourlet_transform, C.directional_filter_bank,
               C.inverse_directional_filter_bank):
        params = list(inspect.signature(fn).parameters.values())[1:]
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), fn.__name__
