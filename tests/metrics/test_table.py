"""Tests for the whole table (jaxfuse.metrics.table: evaluate_all, HIGHER_IS_BETTER)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from metrics.reference import close, np_entropy, np_mi, np_qabf, np_sf, np_table, np_vif

from jaxfuse import metrics as mt
from jaxfuse.metrics import table as metrics_table


def test_real_pairs_evaluate_all(real):
    f, m, p = real
    got = mt.evaluate_all(f, m, p)
    assert set(got) == set(mt.HIGHER_IS_BETTER)
    for i in range(f.shape[0]):
        want = np_table(f[i], m[i], p[i])
        for key, value in want.items():
            assert got[key].shape == (f.shape[0],)
            close(got[key][i], value, key)


def test_gray_fusion_table(rand):
    """A gray functional image gives a gray fusion: every input [..., H, W]."""
    f, m, p = rand
    fg, pg = f[:2, ..., 1], p[:2, ..., 1]
    got = mt.evaluate_all(fg, m[:2], pg)
    for i in range(2):
        close(got["EN"][i], np_entropy(fg[i]), "EN")
        close(got["MI"][i], np_mi(fg[i], m[i]) + np_mi(fg[i], pg[i]), "MI_int")
        close(got["D"][i], np.abs(np.float64(fg[i]) - pg[i]).mean(), "D")
        close(got["SF"][i], np_sf(fg[i]), "SF")
        close(got["Qabf"][i], np_qabf(fg[i], m[i], pg[i]), "Qabf")
        close(got["VIF"][i], np_vif(fg[i], m[i]) + np_vif(fg[i], pg[i]), "VIF")


def test_batch_equals_single_calls(rand):
    f, m, p = rand
    batched = mt.evaluate_all(f, m, p)
    for i in range(4):
        single = mt.evaluate_all(f[i], m[i], p[i])
        for key in batched:
            assert single[key].shape == ()
            np.testing.assert_allclose(batched[key][i], single[key], rtol=1e-6, atol=1e-6)
    # two leading dims
    f2, m2, p2 = (a.reshape((2, 2) + a.shape[1:]) for a in (f, m, p))
    np.testing.assert_allclose(mt.entropy(f2), np.reshape(batched["EN"], (2, 2)), atol=1e-6)
    np.testing.assert_allclose(mt.mutual_information(f2, m2, p2),
                               np.reshape(batched["MI"], (2, 2)), atol=1e-6)
    assert mt.average_gradient(f2, per_band=True).shape == (2, 2, 3)


def test_jit_matches_eager(rand):
    """One jit over the whole table equals the separate calls; jit equals op-by-op."""
    f, m, p = (a[0] for a in rand)
    table = mt.evaluate_all(f, m, p)
    fg, pg = mt.to_gray(f), mt.to_gray(p)
    separate = {
        "EN": mt.entropy(f),
        "MI": mt.mutual_information(f, m, p),
        "D": mt.spectral_discrepancy(f, p),
        "AG": mt.average_gradient(f),
        "OP": mt.overall_performance(f, p),
        "SD": mt.standard_deviation(f),
        "SF": mt.spatial_frequency(f),
        "PSNR": (mt.psnr(fg, m, channel_axis=None) + mt.psnr(fg, pg, channel_axis=None)) / 2,
        "SSIM": (mt.ssim(fg, m, channel_axis=None) + mt.ssim(fg, pg, channel_axis=None)) / 2,
        "Qabf": mt.qabf(f, m, p),
        "SCD": mt.scd(f, m, p),
        "VIF": mt.fusion_vif(f, m, p),
    }
    for key, value in separate.items():
        assert table[key].dtype == jnp.float32, key
        np.testing.assert_allclose(table[key], value, rtol=1e-5, atol=1e-5, err_msg=key)
    cheap = {
        "EN": lambda: mt.entropy(f),
        "D": lambda: mt.spectral_discrepancy(f, p),
        "AG": lambda: mt.average_gradient(f),
        "SD": lambda: mt.standard_deviation(f),
        "SF": lambda: mt.spatial_frequency(f),
        "PSNR": lambda: mt.psnr(f, p),
        "SCD": lambda: mt.scd(f, m, p),
    }
    with jax.disable_jit():
        eager = {key: fn() for key, fn in cheap.items()}
    for key, fn in cheap.items():
        np.testing.assert_allclose(fn(), eager[key], rtol=1e-5, atol=1e-5, err_msg=key)


def test_no_recompile(rand):
    f, m, p = rand
    mt.evaluate_all(f, m, p)
    before = metrics_table._evaluate_all_jit._cache_size()
    mt.evaluate_all(f[::-1].copy(), m[::-1].copy(), p[::-1].copy())
    assert metrics_table._evaluate_all_jit._cache_size() == before


def test_higher_is_better_table():
    assert set(mt.HIGHER_IS_BETTER) == {
        "EN", "MI", "D", "AG", "OP", "SD", "SF", "PSNR", "SSIM", "Qabf", "SCD", "VIF"}
    assert mt.HIGHER_IS_BETTER["D"] is False and mt.HIGHER_IS_BETTER["OP"] is False


def test_bad_inputs_raise():
    a = jnp.zeros((64, 64, 3))
    with pytest.raises(ValueError, match="must be RGB"):
        mt.evaluate_all(a, jnp.zeros((64, 64)), a[..., :2])
