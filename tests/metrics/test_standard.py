"""Tests for the standard image metrics (jaxfuse.metrics.standard: SD, SF, PSNR, SSIM)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from metrics.reference import TOL, close, gradient_inputs, np_sf, np_ssim
from skimage.metrics import peak_signal_noise_ratio

from jaxfuse import metrics as mt


def test_sd_sf(rand):
    f, m, _ = rand
    close(mt.standard_deviation(f[0]), np.std(np.float64(f[0])), "SD")
    close(mt.standard_deviation(m[0], channel_axis=None), np.std(np.float64(m[0])), "SD")
    close(mt.spatial_frequency(f[0]), np_sf(f[0]), "SF")
    close(mt.spatial_frequency(m[0], channel_axis=None), np_sf(m[0]), "SF")


def test_psnr_ssim(rand):
    f, m, p = rand
    close(mt.psnr(f[0], p[0]), peak_signal_noise_ratio(f[0], p[0], data_range=255), "PSNR")
    close(mt.psnr(m[0], f[0, ..., 0], channel_axis=None),
          peak_signal_noise_ratio(m[0], f[0, ..., 0], data_range=255), "PSNR")
    close(mt.ssim(m[0], f[0, ..., 0], channel_axis=None),
          np_ssim(m[0], f[0, ..., 0], False), "SSIM")
    close(mt.ssim(f[0], p[0]), np_ssim(f[0], p[0], True), "SSIM")


def test_real_pairs_ssim(real):
    f, _, p = real
    close(mt.ssim(f[0], p[0]), np_ssim(f[0], p[0], True), "SSIM")


def test_invariants(rand):
    f, _, _ = rand
    x = f[0]
    assert float(mt.psnr(x, x)) == np.inf
    np.testing.assert_allclose(mt.ssim(x, x), 1.0, atol=1e-6)
    assert float(mt.standard_deviation(jnp.full((8, 8, 3), 9.0))) == 0.0


def test_gradients_finite(rand):
    x, y, flat = gradient_inputs(rand)
    fns = {
        "SD": mt.standard_deviation,
        "SF": mt.spatial_frequency,
        "SSIM": lambda a: mt.ssim(a, y),
        "PSNR": lambda a: mt.psnr(a, y),
    }
    for key, fn in fns.items():
        g = jax.grad(fn)(x)
        assert np.all(np.isfinite(g)), key
        assert np.any(g != 0), key
    for fn in (mt.standard_deviation, mt.spatial_frequency):
        g = jax.grad(fn)(flat)
        assert np.all(np.isfinite(g)) and np.all(g == 0)


def test_ssim_float64_under_x64(rand):
    f, m, _ = rand
    with jax.enable_x64(True):
        x = jnp.asarray(f[0, ..., 0], jnp.float64) + 0.25
        y = jnp.asarray(m[0], jnp.float64)
        s = mt.ssim(x, y, channel_axis=None)
        assert s.dtype == jnp.float64
        np.testing.assert_allclose(s, np_ssim(np.asarray(x), m[0], False), **TOL["x64"])


def test_bad_inputs_raise():
    a = jnp.zeros((64, 64, 3))
    with pytest.raises(ValueError, match="win_size"):
        mt.ssim(a[:8, :8], a[:8, :8])
