"""Tests for the paper's criteria (jaxfuse.metrics.paper: EN, MI, D, AG, OP) against float64 oracles."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from metrics.reference import close, gradient_inputs, np_ag_bands, np_d, np_entropy, np_gray, np_mi
from skimage.measure import shannon_entropy

from jaxfuse import metrics as mt


def test_entropy(rand):
    f, m, _ = rand
    close(mt.entropy(f[0]), np_entropy(f[0]), "EN")
    close(mt.entropy(f[0]), shannon_entropy(f[0], base=2), "EN")
    close(mt.entropy(m[1], channel_axis=None), shannon_entropy(m[1], base=2), "EN")
    xf = np.random.default_rng(1).uniform(-20, 280, size=(64, 64, 3))  # clipped, rounded
    close(mt.entropy(xf), np_entropy(xf), "EN")


def test_mutual_information(rand):
    f, m, p = rand
    close(mt.mutual_information_pair(m[0], p[0, ..., 1], channel_axis=None),
          np_mi(m[0], p[0, ..., 1]), "MI_int")
    fg, pg = np_gray(f[0]), np_gray(p[0])
    close(mt.mutual_information(f[0], m[0], p[0]), np_mi(fg, m[0]) + np_mi(fg, pg), "MI")
    # gray inputs are used as is
    close(mt.mutual_information(f[0, ..., 0], m[0], p[0, ..., 0]),
          np_mi(f[0, ..., 0], m[0]) + np_mi(f[0, ..., 0], p[0, ..., 0]), "MI_int")


def test_discrepancy_gradient_op(rand):
    f, _, p = rand
    close(mt.spectral_discrepancy(f[0], p[0]), np_d(f[0], p[0]), "D")
    close(mt.spectral_discrepancy(f[0], p[0], per_band=True),
          np.abs(np.float64(f[0]) - p[0]).mean(axis=(0, 1)), "D")
    close(mt.average_gradient(f[0], per_band=True), np_ag_bands(f[0]), "AG")
    close(mt.average_gradient(f[0]), np_ag_bands(f[0]).mean(), "AG")
    close(mt.average_gradient(f[0, ..., 1], channel_axis=None),
          np_ag_bands(f[0, ..., 1:2])[0], "AG")
    close(mt.overall_performance(f[0], p[0]), np_d(f[0], p[0]) / np_ag_bands(f[0]).mean(), "OP")
    # channels-first through channel_axis
    chw_f, chw_p = np.moveaxis(f, -1, 1), np.moveaxis(p, -1, 1)
    close(mt.spectral_discrepancy(chw_f, chw_p, channel_axis=1),
          [np_d(f[i], p[i]) for i in range(4)], "D")
    close(mt.average_gradient(chw_f, channel_axis=1, per_band=True),
          [np_ag_bands(f[i]) for i in range(4)], "AG")


def test_real_pairs_entropy_oracle(real):
    """Cross-check the entropy oracle itself against scikit-image."""
    f, _, _ = real
    assert np_entropy(f[0]) == pytest.approx(shannon_entropy(f[0], base=2), abs=1e-12)
    close(mt.entropy(f[0]), shannon_entropy(f[0], base=2), "EN")


def test_invariants(rand):
    f, m, _ = rand
    x = f[0]
    for c in (0.0, 77.3, 255.0):
        assert float(mt.entropy(jnp.full((16, 16, 3), c))) == 0.0
    np.testing.assert_allclose(mt.mutual_information_pair(m[0], m[0], channel_axis=None),
                               mt.entropy(m[0], channel_axis=None), atol=1e-5)
    assert float(mt.spectral_discrepancy(x, x)) == 0.0
    assert float(mt.overall_performance(jnp.full((8, 8, 3), 5.0), x[:8, :8])) == np.inf


def test_gradients_finite(rand):
    x, y, flat = gradient_inputs(rand)
    fns = {
        "D": lambda a: mt.spectral_discrepancy(a, y),
        "AG": mt.average_gradient,
        "OP": lambda a: mt.overall_performance(a, y),
    }
    for key, fn in fns.items():
        g = jax.grad(fn)(x)
        assert np.all(np.isfinite(g)), key
        assert np.any(g != 0), key
    g = jax.grad(mt.average_gradient)(flat)
    assert np.all(np.isfinite(g)) and np.all(g == 0)


def test_bad_inputs_raise():
    a = jnp.zeros((64, 64, 3))
    with pytest.raises(ValueError, match="per_band"):
        mt.average_gradient(a[..., 0], per_band=True, channel_axis=None)
