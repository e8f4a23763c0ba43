"""Nonsubsampled contourlet transform: reconstruction at odd sizes, Bezout identity, published
filter coefficients, shift invariance, directional selectivity, structure, its own errors.

Reconstruction at the contract's shapes, jit/vmap, compile-once, fusion identity, gradients and
the generic bad inputs (wrong ndim, levels, dtype, keyword-only options): test_contract.py.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxfuse.multiscale.nsct import (
    DEFAULT_DIRECTIONS,
    dmaxflat,
    filter_pair,
    insct,
    nsct,
    nsct_filters,
    nsct_orientations,
)

# One compiled forward/inverse per (shape, dtype), shared by all tests.
forward = jax.jit(nsct, static_argnames=("levels", "directions"))
inverse = jax.jit(insct)

SHAPES = [(256, 256), (75, 90)]


def _image(shape, dtype=np.float32, seed=0):
    return jnp.asarray(np.random.default_rng(seed).random(shape), dtype)


def _rel_err(x, y):
    return float(jnp.linalg.norm(x - y) / jnp.linalg.norm(x))


def _grating(shape, kx, ky):
    """cos(2 pi (kx x / W + ky y / H)): x = column, y = row; exactly periodic on the grid."""
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    return jnp.asarray(np.cos(2 * np.pi * (kx * cols / shape[1] + ky * rows / shape[0])),
                       jnp.float32)


# ------------------------------------------------------------------------ perfect reconstruction


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_structure_and_dtype(dtype):
    with jax.enable_x64(dtype == np.float64):
        for shape in SHAPES:
            c = jax.eval_shape(nsct, jax.ShapeDtypeStruct(shape, dtype))
            assert [len(level) for level in c[1:]] == [2**d for d in DEFAULT_DIRECTIONS]
            assert all(leaf.shape == shape and leaf.dtype == dtype for leaf in jax.tree.leaves(c))
            y = jax.eval_shape(insct, c)
            assert y.shape == shape and y.dtype == dtype


def test_perfect_reconstruction_any_size():
    """Exact for any size (periodic, frequency-domain filters): an odd, non-square image."""
    shape = SHAPES[1]
    x = _image(shape)
    assert _rel_err(x, inverse(forward(x))) <= 1e-5
    with jax.enable_x64(True):
        x = _image(shape, np.float64)
        y = inverse(forward(x))
        assert y.dtype == jnp.float64
        assert _rel_err(x, y) <= 1e-10


# -------------------------------------------------------------------------------- filter banks


@pytest.mark.parametrize("name", ["maxflat", "dmaxflat7"])
def test_bezout_identity_of_the_two_channel_banks(name):
    rng = np.random.default_rng(1)
    w1, w2 = rng.uniform(-np.pi, np.pi, (2, 4096))
    h0, h1, g0, g1 = filter_pair(name, w1, w2)
    np.testing.assert_allclose(h0 * g0 + h1 * g1, 1.0, rtol=0, atol=1e-13)
    # Upsampled copies (any integer matrix) keep the identity: here 4 I and a quincunx matrix.
    for u1, u2 in ((4 * w1, 4 * w2), (w1 - w2, w1 + w2)):
        h0, h1, g0, g1 = filter_pair(name, u1, u2)
        np.testing.assert_allclose(h0 * g0 + h1 * g1, 1.0, rtol=0, atol=1e-13)
    # Pass/stop bands: the pyramid pair is low/high-pass, the fan pair splits at |w1| = |w2|.
    pass0, stop0 = ((0.0, 0.0), (np.pi, 0.0)) if name == "maxflat" else ((np.pi, 0.0), (0.0, np.pi))
    h0, h1, g0, g1 = filter_pair(name, *np.array([pass0, stop0]).T)
    np.testing.assert_allclose(h0, [1, 0], atol=1e-12)
    np.testing.assert_allclose(g0, [1, 0], atol=1e-12)
    np.testing.assert_allclose(h1, [0, 1], atol=1e-12)
    np.testing.assert_allclose(g1, [0, 1], atol=1e-12)


@pytest.mark.parametrize("directions", [None, (0, 1, 5)])
def test_whole_filter_bank_is_a_partition_of_unity(directions):
    levels = 4 if directions is None else 3
    analysis, synthesis = nsct_filters((64, 48), levels=levels, directions=directions)
    assert analysis.shape == synthesis.shape == (analysis.shape[0], 64, 48)
    np.testing.assert_allclose((analysis * synthesis).sum(0), 1.0, rtol=0, atol=1e-13)


def test_filters_match_published_coefficients():
    # dmaxflat(N): the tables of the NSCT toolbox (da Cunha, 2004-2006), upper-left quadrant.
    np.testing.assert_array_equal(
        dmaxflat(3)[:4, :4] * 512, [[0, 3, 0, 2], [3, 0, -27, 0], [0, -27, 0, 174], [2, 0, 174, 0]])
    np.testing.assert_array_equal(dmaxflat(7)[7, :8] * 2**24,
                                  [100, 0, 13804, 0, 311780, 0, 6305740, 0])
    # 'maxflat' pyramid filters (toolbox atrousfilters): a few published taps of h0 and g0.
    n = 32
    w1 = 2 * np.pi * np.fft.fftfreq(n)[:, None]
    w2 = 2 * np.pi * np.fft.fftfreq(n)[None, :]
    h0, _, g0, _ = filter_pair("maxflat", w1, w2)
    h0_taps = np.fft.fftshift(np.fft.ifft2(h0).real)  # centre at [16, 16]
    g0_taps = np.fft.fftshift(np.fft.ifft2(g0).real)
    np.testing.assert_allclose(
        [h0_taps[16, 16], h0_taps[16, 15], h0_taps[15, 15], h0_taps[10, 10], h0_taps[11, 16]],
        [0.3177420190660832, 0.16155815610625748, 0.0791015625, -7.900496718847182e-07, 0.0],
        rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose([g0_taps[16, 16], g0_taps[16, 15], g0_taps[7, 7]],
                               [0.31358726209239235, 0.1638988884584603, -6.391587676622346e-10],
                               rtol=1e-12, atol=1e-18)
    assert abs(h0_taps).sum() - abs(h0_taps[10:23, 10:23]).sum() < 1e-13  # 13x13 support


# ------------------------------------------------------------------------------ shift invariance


def test_circular_shift_gives_shifted_coefficients():
    shape, shift = SHAPES[1], (5, -7)
    x = _image(shape, seed=3)
    c = forward(x)
    c_shifted = forward(jnp.roll(x, shift, axis=(0, 1)))
    for a, b in zip(jax.tree.leaves(c), jax.tree.leaves(c_shifted)):
        np.testing.assert_allclose(np.asarray(b), np.roll(np.asarray(a), shift, axis=(0, 1)),
                                   rtol=0, atol=1e-5)


# -------------------------------------------------------------------------- directional selectivity


def test_orientations_follow_the_structure():
    orientations = nsct_orientations()
    assert [len(o) for o in orientations] == [4, 8, 8, 16]
    assert orientations[0] == (157.5, 22.5, 67.5, 112.5)
    assert all(0 <= theta < 180 for level in orientations for theta in level)
    assert np.isnan(nsct_orientations(levels=2, directions=(0, 1))[0][0])
    assert nsct_orientations(levels=2, directions=(0, 1))[1] == (0.0, 90.0)


@pytest.mark.parametrize("theta", [30.0, 75.0, 120.0])
def test_oriented_grating_lands_in_the_matching_subbands(theta):
    shape = SHAPES[0]
    orientations = nsct_orientations()
    # Mid-band of the finest level (|f| ~ 0.35 cycles/pixel) and of the next level (~0.18).
    for level, radius in ((-1, 90), (-2, 46)):
        kx = round(radius * np.cos(np.radians(theta)))
        ky = round(radius * np.sin(np.radians(theta)))
        actual = np.degrees(np.arctan2(ky, kx)) % 180
        c = forward(_grating(shape, kx, ky))
        energy = np.array([np.sum(np.asarray(band, np.float64) ** 2) for band in c[level]])
        nominal = np.array(orientations[level])
        distance = np.abs((nominal - actual + 90) % 180 - 90)
        nearest_two = np.argsort(distance)[:2]
        share = energy[nearest_two].sum() / energy.sum()
        assert share > 0.5, (theta, level, share)
        assert np.argmax(energy) in nearest_two


# ------------------------------------------------------------------------------------ structure


@pytest.mark.parametrize("levels,directions,counts", [
    (4, None, [4, 8, 8, 16]),
    (2, None, [8, 16]),
    (3, (0, 1, 2), [1, 2, 4]),
    (5, (1, 1, 2, 3, 5), [2, 2, 4, 8, 32]),
])
def test_number_of_subbands_follows_the_option(levels, directions, counts):
    x = jax.ShapeDtypeStruct((32, 32), jnp.float32)
    c = jax.eval_shape(functools.partial(nsct, levels=levels, directions=directions), x)
    assert len(c) == levels + 1 and c[0].shape == (32, 32)
    assert [len(level) for level in c[1:]] == counts
    assert [len(o) for o in nsct_orientations(levels=levels, directions=directions)] == counts
    assert jax.eval_shape(insct, c).shape == (32, 32)


def test_bad_inputs_raise():
    x = jnp.zeros((32, 32))
    with pytest.raises(ValueError, match="directions"):
        nsct(x, levels=2, directions=(3,))
    with pytest.raises(ValueError, match="directions"):
        nsct(x, levels=1, directions=(-1,))
    with pytest.raises(ValueError, match="too small"):
        nsct(jnp.zeros((8, 32)), levels=4)
    with pytest.raises(ValueError, match="2\\*\\*l"):
        insct([x, [x, x, x]])
    with pytest.raises(ValueError, match="same shape"):
        insct([x, [x, jnp.zeros((32, 31))]])
