"""The contourlet transform (pyramid + directional filter banks): structure, orientations,
directional selectivity, its own options and sizes, the fusion plug-in's split.

Reconstruction at the contract's shapes, jit/vmap, compile-once, fusion identity, gradients and
the generic bad inputs (wrong ndim, levels, dtype): test_contract.py; the DFB alone: test_dfb.py.
Compiles are shared: one jitted forward/inverse per image shape and dtype, reused across tests.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from multiscale.helpers import TOL, rand, rel_err

from jaxfuse import multiscale as T
from jaxfuse.multiscale import contourlet as C

OPTIONS = ("levels", "directions", "dfb_filter")

fwd = jax.jit(C.contourlet_transform, static_argnames=OPTIONS)
inv = jax.jit(C.inverse_contourlet_transform)


def grating(theta_deg, freq, n=256):
    """cos(2 pi f (x cos t + y sin t)), x the column index, y the row index."""
    y, x = np.mgrid[0:n, 0:n]
    t = np.radians(theta_deg)
    return np.cos(2 * np.pi * freq * (x * np.cos(t) + y * np.sin(t))).astype(np.float32)


def in_range(theta, rng):
    lo, hi = rng
    return any(lo <= t <= hi for t in (theta % 180, theta % 180 - 180))


# ------------------------------------------------------------------------ reconstruction, dtypes


def test_perfect_reconstruction_other_directions():
    x = rand((128, 192))
    c = fwd(x, directions=(1, 2, 3, 4))
    assert c.lowpass.dtype == jnp.float32
    assert all(s.dtype == jnp.float32 for s in jax.tree.leaves(c))
    assert rel_err(inv(c), x) <= TOL[np.float32]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_coefficient_keeps_the_image_dtype(dtype):
    with jax.enable_x64(dtype == np.float64):
        c = jax.eval_shape(C.contourlet_transform, jax.ShapeDtypeStruct((256, 256), dtype))
        assert c.lowpass.dtype == dtype
        assert all(s.dtype == dtype for s in jax.tree.leaves(c))
        assert jax.eval_shape(C.inverse_contourlet_transform, c).dtype == dtype


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


# ------------------------------------------------------------------------ fusion plug-in


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


# ------------------------------------------------------------------------ validation


@pytest.mark.parametrize("shape", [(250, 256), (256, 200)])
def test_shape_not_divisible_raises_with_the_shape(shape):
    with pytest.raises(ValueError, match=str(shape).replace("(", r"\(").replace(")", r"\)")):
        C.contourlet_transform(np.zeros(shape, np.float32))


def test_bad_options_raise():
    x = np.zeros((64, 64), np.float32)
    with pytest.raises(ValueError, match="directions"):
        C.contourlet_transform(x, levels=4, directions=(2, 3))
    with pytest.raises(ValueError, match="unknown DFB filter"):
        C.contourlet_transform(x, dfb_filter="nope")
