"""Tests for the fusion-quality metrics (jaxfuse.metrics.quality: Qabf, SCD, VIF) against float64 oracles."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from metrics.reference import TOL, close, gradient_inputs, np_gray, np_qabf, np_scd, np_vif

from jaxfuse import metrics as mt


def test_qabf_scd_vif(rand):
    f, m, p = rand
    fg, pg = np_gray(f[0]), np_gray(p[0])
    close(mt.qabf(f[0], m[0], p[0]), np_qabf(fg, m[0], pg), "Qabf")
    close(mt.scd(f[0], m[0], p[0]), np_scd(fg, m[0], pg), "SCD")
    close(mt.vif(f[0], m[0]), np_vif(fg, m[0]), "VIF")
    close(mt.fusion_vif(f[0], m[0], p[0]), np_vif(fg, m[0]) + np_vif(fg, pg), "VIF")


def test_invariants(rand):
    _, m, _ = rand
    np.testing.assert_allclose(mt.vif(m[0], m[0]), 1.0, atol=1e-5)
    top = 0.9994 / (1 + np.exp(-15 * 0.5)) * 0.9879 / (1 + np.exp(-22 * 0.2))
    np.testing.assert_allclose(mt.qabf(m[0], m[0], m[0]), top, atol=1e-6)
    np.testing.assert_allclose(mt.scd(m[0], m[0], m[0]), 0.0, atol=1e-6)  # F - A = 0


def test_scd_gradient_finite(rand):
    x, y, _ = gradient_inputs(rand)
    g = jax.grad(lambda a: mt.scd(a[..., 0], a[..., 1], y[..., 0], channel_axis=None))(x)
    assert np.all(np.isfinite(g)), "SCD"
    assert np.any(g != 0), "SCD"


def test_vif_float64_under_x64(rand):
    f, m, _ = rand
    with jax.enable_x64(True):
        x = jnp.asarray(f[0, ..., 0], jnp.float64) + 0.25
        y = jnp.asarray(m[0], jnp.float64)
        np.testing.assert_allclose(mt.vif(x, y), np_vif(np.asarray(x), m[0]), **TOL["x64"])


def test_bad_inputs_raise():
    a = jnp.zeros((64, 64, 3))
    with pytest.raises(ValueError, match="41x41"):
        mt.vif(a[:32, :32, 0], a[:32, :32, 0])
