"""HSI / IHS conversions against the float64 reference, property tests and gradient safety."""

from __future__ import annotations

import colorsys

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxfuse

# dtype -> (atol) for comparisons against the float64 reference.
TOLERANCE = {np.float32: 2e-6, np.float64: 1e-12}

# Image values: exact 0 or at least 1e-6 (16-bit images step by 1.5e-5). Values near 1e-38 make the
# textbook formulas' intermediates subnormal, which XLA flushes to zero; that is not an image.
unit_floats = st.one_of(st.just(0.0), st.just(1.0), st.floats(float(np.float32(1e-6)), 1.0, width=32))
pixels = hnp.arrays(np.float32, st.tuples(st.integers(1, 16), st.just(3)), elements=unit_floats)


def _special_pixels() -> np.ndarray:
    levels = [0.0, 0.25, 0.5, 1.0]
    grid = np.array([(r, g, b) for r in levels for g in levels for b in levels], np.float32)
    return grid  # includes black, white, grays, pure hues and the G == B poles


def test_rgb_to_hsi_matches_reference_on_random_and_special():
    rgb = np.concatenate([np.random.default_rng(0).random((5000, 3)), _special_pixels()]).astype(np.float32)
    got = np.asarray(jaxfuse.rgb_to_hsi(rgb))
    want = reference.rgb_to_hsi(rgb.astype(np.float64))
    # hue is circular: compare on the circle, and only where saturation makes it defined
    dh = np.abs((got[:, 0] - want[:, 0] + 0.5) % 1.0 - 0.5)
    assert dh[want[:, 1] > 1e-3].max() < 1e-5
    np.testing.assert_allclose(got[:, 1:], want[:, 1:], atol=1e-5)
    assert got[:, 0].min() >= 0 and got[:, 0].max() < 1


def test_hue_matches_colorsys_ordering():
    # colorsys' HSV hue and the HSI hue coincide at the six primary/secondary colours.
    for rgb in [(1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 1, 1), (0, 0, 1), (1, 0, 1)]:
        h_hsv = colorsys.rgb_to_hsv(*rgb)[0]
        h_hsi = float(jaxfuse.rgb_to_hsi(jnp.array(rgb, jnp.float32))[0])
        assert abs(h_hsi - h_hsv) < 1e-6


def test_hsi_to_rgb_matches_reference():
    hsi = reference.rgb_to_hsi(np.random.default_rng(1).random((5000, 3)))
    got = np.asarray(jaxfuse.hsi_to_rgb(hsi.astype(np.float32)))
    np.testing.assert_allclose(got, reference.hsi_to_rgb(hsi), atol=TOLERANCE[np.float32] * 5)


@jax.jit
def _round_trip(rgb):
    return jaxfuse.hsi_to_rgb(jaxfuse.rgb_to_hsi(rgb))


@settings(max_examples=200, deadline=None)
@given(pixels)
def test_hsi_round_trip_property(rgb):
    # every example tiled to 16 pixels: one compiled program for all of them (the pixels are
    # independent, so repeating some changes nothing that is checked)
    back = np.asarray(_round_trip(np.resize(rgb, (16, 3))))[: len(rgb)]
    np.testing.assert_allclose(back, rgb, atol=2e-5)


@settings(max_examples=100, deadline=None)
@given(st.floats(0.0, 1.0, width=32))
def test_gray_and_black_pixels_round_trip(level):
    rgb = np.full((8, 3), level, np.float32)  # one shape: each eager op compiles once
    hsi = np.asarray(jaxfuse.rgb_to_hsi(rgb))
    assert np.all(hsi[:, 0] == 0) and np.all(hsi[:, 1] == 0)
    np.testing.assert_allclose(hsi[:, 2], level, atol=1e-7)
    np.testing.assert_allclose(np.asarray(jaxfuse.hsi_to_rgb(hsi)), rgb, atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(pixels, st.floats(0.0, 1.0, width=32))
def test_trig_free_replacement_equals_textbook_path(rgb, new_intensity):
    """SPEC section 1: keeping H, S and setting I = F equals scaling RGB by F / I (then clipping)."""
    rgb = np.resize(rgb, (16, 3))  # one shape for every example: each eager op compiles once
    fused = np.full(rgb.shape[:-1], new_intensity, np.float32)
    hsi = np.array(jaxfuse.rgb_to_hsi(rgb))
    hsi[:, 2] = fused
    textbook = np.clip(np.asarray(jaxfuse.hsi_to_rgb(hsi)), 0, 1)
    shortcut = np.asarray(jaxfuse.replace_intensity(rgb, fused))
    np.testing.assert_allclose(shortcut, textbook, atol=3e-5)


def test_trig_free_replacement_equals_float64_reference_textbook():
    rng = np.random.default_rng(2)
    rgb = np.concatenate([rng.random((4000, 3)), _special_pixels()])
    new = rng.random(rgb.shape[0])
    hsi = reference.rgb_to_hsi(rgb)
    hsi[:, 2] = new
    want = np.clip(reference.hsi_to_rgb(hsi), 0, 1)
    got = np.asarray(jaxfuse.replace_intensity(rgb.astype(np.float32), new.astype(np.float32)))
    np.testing.assert_allclose(got, want, atol=2e-6)


def test_black_pixel_becomes_gray_of_new_intensity():
    out = np.asarray(jaxfuse.replace_intensity(jnp.zeros((2, 3)), jnp.array([0.0, 0.4])))
    np.testing.assert_allclose(out, [[0, 0, 0], [0.4, 0.4, 0.4]], atol=1e-7)


def test_planar_replacement_equals_float64_reference_and_channel_last_form():
    rng = np.random.default_rng(4)
    rgb = np.concatenate([rng.random((4000, 3)), _special_pixels()])
    rgb[:50] = 0.0  # black pixels
    rgb[50:100, 1] = 0.0  # lit pixels with a zero band
    new = rng.random(rgb.shape[0])
    hsi = reference.rgb_to_hsi(rgb)
    hsi[:, 2] = new
    want = np.clip(reference.hsi_to_rgb(hsi), 0, 1)  # [N, 3]
    planes = rgb.T.reshape(3, 1, -1).astype(np.float32)  # [3, H=1, W=N]
    got = np.asarray(jaxfuse.replace_intensity_planar(planes, new.astype(np.float32)[None]))
    np.testing.assert_allclose(got.reshape(3, -1).T, want, atol=2e-6)
    channel_last = np.asarray(jaxfuse.replace_intensity(rgb.astype(np.float32), new.astype(np.float32)))
    np.testing.assert_allclose(got.reshape(3, -1).T, channel_last, atol=1e-7)


def test_planar_replacement_gradients_equal_channel_last_form():
    """Same gradients as :func:`replace_intensity`, at black pixels and zero bands included."""
    rng = np.random.default_rng(5)
    rgb = rng.random((64, 3)).astype(np.float32)
    rgb[:8] = 0.0
    rgb[8:16, 2] = 0.0
    new = (0.8 * rng.random(64)).astype(np.float32)

    def planar(rgb, new):
        return jnp.sum(jaxfuse.replace_intensity_planar(rgb.T[:, None, :], new[None]) ** 2)

    def channel_last(rgb, new):
        return jnp.sum(jaxfuse.replace_intensity(rgb, new) ** 2)

    got = jax.jit(jax.grad(planar, argnums=(0, 1)))(jnp.asarray(rgb), jnp.asarray(new))
    want = jax.jit(jax.grad(channel_last, argnums=(0, 1)))(jnp.asarray(rgb), jnp.asarray(new))
    for g, w in zip(got, want):
        assert bool(jnp.all(jnp.isfinite(g)))
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-6)


def test_planar_replacement_rejects_channel_last():
    with pytest.raises(ValueError, match=r"\[\.\.\., 3, H, W\]"):
        jaxfuse.replace_intensity_planar(jnp.zeros((4, 4, 3)), jnp.zeros((4, 4)))


def test_linear_ihs_inverse_and_substitution():
    rgb = np.random.default_rng(3).random((1000, 3)).astype(np.float32)
    ihs = jaxfuse.rgb_to_ihs_linear(rgb)
    np.testing.assert_allclose(np.asarray(jaxfuse.ihs_linear_to_rgb(ihs)), rgb, atol=2e-6)
    new = np.full(1000, 0.5, np.float32)
    want = np.clip(rgb + (new - rgb.mean(-1))[:, None], 0, 1)
    np.testing.assert_allclose(np.asarray(jaxfuse.replace_intensity_linear(rgb, new)), want, atol=2e-6)


@pytest.mark.parametrize("fn", [jaxfuse.rgb_to_hsi, lambda x: jaxfuse.replace_intensity(x, 0.7 * x.mean(-1) + 0.1)])
def test_gradients_finite_at_black_white_gray_and_poles(fn):
    rgb = jnp.asarray(_special_pixels())
    grad = jax.grad(lambda x: jnp.sum(fn(x) ** 2))(rgb)
    assert bool(jnp.all(jnp.isfinite(grad)))


def test_hsi_to_rgb_gradient_finite():
    hsi = jnp.asarray(reference.rgb_to_hsi(_special_pixels().astype(np.float64)), jnp.float32)
    grad = jax.grad(lambda x: jnp.sum(jaxfuse.hsi_to_rgb(x)))(hsi)
    assert bool(jnp.all(jnp.isfinite(grad)))


def test_float64_under_enable_x64():
    with jax.enable_x64(True):
        rgb = np.random.default_rng(4).random((500, 3))
        hsi = jaxfuse.rgb_to_hsi(jnp.asarray(rgb, jnp.float64))
        assert hsi.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(jaxfuse.hsi_to_rgb(hsi)), rgb, atol=TOLERANCE[np.float64])


def test_shape_error_names_the_shape():
    with pytest.raises(ValueError, match=r"\[\.\.\., 3\].*\(4, 2\)"):
        jaxfuse.rgb_to_hsi(jnp.zeros((4, 2)))
