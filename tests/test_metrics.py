"""Tests for jaxfuse.metrics against independent float64 oracles.

Every oracle below is written here with NumPy / SciPy / scikit-image in float64
and shares no code with the library. Tolerances, float32 JAX vs float64 oracle:

    metric          rtol    atol    why
    to_gray         1e-6    1e-4    one float32 multiply-add per band
    EN              0       1e-5    same histogram; float32 p*log2(p) sums
    MI (int gray)   0       1e-4    same histograms; 65536-term float32 sums
    MI (luma)       0       1e-3    a luma value on a .5 rounding edge may flip bins
    D, AG, OP       1e-5    1e-5    float32 means of 0..255 values
    SD, SF          1e-5    1e-5    float32 means of squares
    PSNR            1e-5    1e-5    float32 MSE
    SSIM            0       2e-5    float32 local moments E[x^2] - E[x]^2
    Qabf            0       1e-5    Sobel exact on integers; arctan/logistic float32
    SCD             0       1e-5    float32 correlations
    VIF             2e-5    1e-6    float32 local moments, 4 scales
    float64 (x64)   1e-9    1e-9    same maths in float64

Observed on 9 real pairs (256x256): every float32 error below 5e-6 (absolute or
relative), so the table leaves a margin of a few x.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import require_data
from scipy import ndimage, signal
from skimage.measure import shannon_entropy
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from jaxfuse import metrics as mt
from jaxfuse.metrics import table

TOL = {
    "gray": dict(rtol=1e-6, atol=1e-4),
    "EN": dict(rtol=0, atol=1e-5),
    "MI_int": dict(rtol=0, atol=1e-4),
    "MI": dict(rtol=0, atol=1e-3),
    "D": dict(rtol=1e-5, atol=1e-5),
    "AG": dict(rtol=1e-5, atol=1e-5),
    "OP": dict(rtol=1e-5, atol=1e-5),
    "SD": dict(rtol=1e-5, atol=1e-5),
    "SF": dict(rtol=1e-5, atol=1e-5),
    "PSNR": dict(rtol=1e-5, atol=1e-5),
    "SSIM": dict(rtol=0, atol=2e-5),
    "Qabf": dict(rtol=0, atol=1e-5),
    "SCD": dict(rtol=0, atol=1e-5),
    "VIF": dict(rtol=2e-5, atol=1e-6),
    "x64": dict(rtol=1e-9, atol=1e-9),
}

REAL_IDS = ("25106", "41025")


def close(actual, expected, key):
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, **TOL[key])


# --------------------------------------------------------------------------
# Independent float64 oracles
# --------------------------------------------------------------------------


def np_gray(rgb):
    rgb = np.asarray(rgb, np.float64)
    return 0.2989 * rgb[..., 0] + 0.5870 * rgb[..., 1] + 0.1140 * rgb[..., 2]


def np_q(x):
    return np.clip(np.round(np.asarray(x, np.float64)), 0, 255)


def np_entropy(x):
    hist, _ = np.histogram(np_q(x), bins=256, range=(-0.5, 255.5))
    p = hist[hist > 0] / hist.sum()
    return float(-(p * np.log2(p)).sum())


def np_mi(x, y):
    h, _, _ = np.histogram2d(
        np_q(x).ravel(), np_q(y).ravel(), bins=256, range=[[-0.5, 255.5]] * 2
    )
    p = h / h.sum()
    outer = np.outer(p.sum(1), p.sum(0))
    nz = p > 0
    return float((p[nz] * np.log2(p[nz] / outer[nz])).sum())


def np_d(f, p):
    return float(np.abs(np.float64(f) - np.float64(p)).mean(axis=(0, 1)).mean())


def np_ag_bands(f):
    f = np.float64(f)
    out = []
    for k in range(f.shape[-1]):
        b = f[..., k]
        h, w = b.shape
        dr = b[1:, : w - 1] - b[: h - 1, : w - 1]
        dc = b[: h - 1, 1:] - b[: h - 1, : w - 1]
        acc = np.sqrt((dr**2 + dc**2) / 2).sum() / ((h - 1) * (w - 1))
        out.append(acc)
    return np.array(out)


def np_sf(f):
    f = np.float64(f)
    rf2 = np.mean(np.diff(f, axis=1) ** 2)
    cf2 = np.mean(np.diff(f, axis=0) ** 2)
    return float(np.sqrt(rf2 + cf2))


def np_qabf(f, a, b):
    def grad(x):
        x = np.float64(x)
        gx = ndimage.sobel(x, axis=1, mode="constant")
        gy = ndimage.sobel(x, axis=0, mode="constant")
        return np.hypot(gx, gy), np.arctan2(gy, gx)

    gf, tf = grad(f)

    def q(gs, ts):
        hi, lo = np.maximum(gs, gf), np.minimum(gs, gf)
        rel_g = np.divide(lo, hi, out=np.ones_like(hi), where=hi > 0)
        delta = np.mod(ts - tf, np.pi)  # orientation difference modulo pi
        rel_a = np.abs(delta - np.pi / 2) / (np.pi / 2)
        qg = 0.9994 / (1 + np.exp(-15 * (rel_g - 0.5)))
        qa = 0.9879 / (1 + np.exp(-22 * (rel_a - 0.8)))
        return qg * qa

    ga, ta = grad(a)
    gb, tb = grad(b)
    return float((q(ga, ta) * ga + q(gb, tb) * gb).sum() / (ga + gb).sum())


def np_scd(f, a, b):
    f, a, b = np.float64(f), np.float64(a), np.float64(b)
    r1 = np.corrcoef((f - b).ravel(), a.ravel())[0, 1]
    r2 = np.corrcoef((f - a).ravel(), b.ravel())[0, 1]
    return float(r1 + r2)


def np_vif(dist, ref):
    """Sheikh & Bovik's multi-scale pixel VIF, float64, scipy 'valid' filtering."""
    ref, dist = np.float64(ref), np.float64(dist)
    eps, sigma_nsq = 1e-10, 2.0
    num = den = 0.0
    for scale in range(1, 5):
        n = 2 ** (5 - scale) + 1
        t = np.arange(n) - (n - 1) / 2
        g1 = np.exp(-(t**2) / (2 * (n / 5.0) ** 2))
        win = np.outer(g1, g1)
        win /= win.sum()

        def filt(x, win=win):
            return signal.correlate2d(x, win, mode="valid")

        if scale > 1:
            ref = filt(ref)[::2, ::2]
            dist = filt(dist)[::2, ::2]
        mu1, mu2 = filt(ref), filt(dist)
        s1 = np.maximum(filt(ref * ref) - mu1**2, 0)
        s2 = np.maximum(filt(dist * dist) - mu2**2, 0)
        s12 = filt(ref * dist) - mu1 * mu2
        g = s12 / (s1 + eps)
        sv = s2 - g * s12
        m = s1 < eps
        g[m], sv[m], s1[m] = 0, s2[m], 0
        m = s2 < eps
        g[m], sv[m] = 0, 0
        m = g < 0
        sv[m], g[m] = s2[m], 0
        sv[sv <= eps] = eps
        num += np.log10(1 + g**2 * s1 / (sv + sigma_nsq)).sum()
        den += np.log10(1 + s1 / sigma_nsq).sum()
    return float(num / den)


def np_ssim(x, y, rgb):
    return structural_similarity(
        np.float64(x), np.float64(y), data_range=255, gaussian_weights=True,
        sigma=1.5, use_sample_covariance=False, channel_axis=-1 if rgb else None,
    )


def np_table(f, m, p):
    """The evaluate_all table for one RGB image triple, all in float64."""
    fg, pg = np_gray(f), np_gray(p)
    d = np_d(f, p)
    ag = float(np_ag_bands(f).mean())
    return {
        "EN": np_entropy(f),
        "MI": np_mi(fg, m) + np_mi(fg, pg),
        "D": d,
        "AG": ag,
        "OP": d / ag,
        "SD": float(np.std(np.float64(f))),
        "SF": np_sf(f),
        "PSNR": 0.5 * (peak_signal_noise_ratio(fg, np.float64(m), data_range=255)
                       + peak_signal_noise_ratio(fg, pg, data_range=255)),
        "SSIM": 0.5 * (np_ssim(fg, m, False) + np_ssim(fg, pg, False)),
        "Qabf": np_qabf(fg, m, pg),
        "SCD": np_scd(fg, m, pg),
        "VIF": np_vif(fg, m) + np_vif(fg, pg),
    }


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def _smooth_random(rng, shape):
    """uint8 image with structure (smoothed noise) plus fine noise."""
    x = ndimage.gaussian_filter(rng.normal(size=shape), sigma=(3, 3) + (0,) * (len(shape) - 2))
    x = (x - x.min()) / (x.max() - x.min()) * 220 + rng.uniform(0, 35, size=shape)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def rand():
    """Four 64x64 triples: fused RGB, MRI gray, PET RGB (uint8)."""
    rng = np.random.default_rng(0)
    m = _smooth_random(rng, (4, 64, 64))
    p = _smooth_random(rng, (4, 64, 64, 3))
    p[:, :8] = 0  # a black band, like the scans' background
    m[:, :, :8] = 0
    f = ((m[..., None].astype(np.int32) + p) // 2).astype(np.uint8)
    return f, m, p


@pytest.fixture(scope="module")
def real():
    """Two real Harvard PET-MRI pairs (256x256) and an averaging stand-in fusion."""
    from PIL import Image

    folder = require_data("PET-MRI", files=[f"{kind}/{i}.png" for kind in ("MRI", "PET") for i in REAL_IDS])
    paths = [(folder / "MRI" / f"{i}.png", folder / "PET" / f"{i}.png") for i in REAL_IDS]
    m = np.stack([np.asarray(Image.open(a).convert("L")) for a, _ in paths])
    p = np.stack([np.asarray(Image.open(b).convert("RGB")) for _, b in paths])
    f = ((m[..., None].astype(np.int32) + p) // 2).astype(np.uint8)
    return f, m, p


# --------------------------------------------------------------------------
# Against the oracles
# --------------------------------------------------------------------------


def test_to_gray(rand):
    f, _, _ = rand
    close(mt.to_gray(f), np_gray(f), "gray")
    chw = np.moveaxis(f, -1, 1)
    close(mt.to_gray(chw, channel_axis=1), np_gray(f), "gray")


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


def test_qabf_scd_vif(rand):
    f, m, p = rand
    fg, pg = np_gray(f[0]), np_gray(p[0])
    close(mt.qabf(f[0], m[0], p[0]), np_qabf(fg, m[0], pg), "Qabf")
    close(mt.scd(f[0], m[0], p[0]), np_scd(fg, m[0], pg), "SCD")
    close(mt.vif(f[0], m[0]), np_vif(fg, m[0]), "VIF")
    close(mt.fusion_vif(f[0], m[0], p[0]), np_vif(fg, m[0]) + np_vif(fg, pg), "VIF")


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


def test_real_pairs_independent_libraries(real):
    """Cross-check a few oracles themselves against library functions."""
    f, m, p = real
    assert np_entropy(f[0]) == pytest.approx(shannon_entropy(f[0], base=2), abs=1e-12)
    close(mt.entropy(f[0]), shannon_entropy(f[0], base=2), "EN")
    close(mt.ssim(f[0], p[0]), np_ssim(f[0], p[0], True), "SSIM")


# --------------------------------------------------------------------------
# Batching, jit, invariants, gradients
# --------------------------------------------------------------------------


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
    before = table._evaluate_all_jit._cache_size()
    mt.evaluate_all(f[::-1].copy(), m[::-1].copy(), p[::-1].copy())
    assert table._evaluate_all_jit._cache_size() == before


def test_invariants(rand):
    f, m, _ = rand
    x = f[0]
    for c in (0.0, 77.3, 255.0):
        assert float(mt.entropy(jnp.full((16, 16, 3), c))) == 0.0
    np.testing.assert_allclose(mt.mutual_information_pair(m[0], m[0], channel_axis=None),
                               mt.entropy(m[0], channel_axis=None), atol=1e-5)
    assert float(mt.psnr(x, x)) == np.inf
    np.testing.assert_allclose(mt.ssim(x, x), 1.0, atol=1e-6)
    assert float(mt.spectral_discrepancy(x, x)) == 0.0
    np.testing.assert_allclose(mt.vif(m[0], m[0]), 1.0, atol=1e-5)
    top = 0.9994 / (1 + np.exp(-15 * 0.5)) * 0.9879 / (1 + np.exp(-22 * 0.2))
    np.testing.assert_allclose(mt.qabf(m[0], m[0], m[0]), top, atol=1e-6)
    np.testing.assert_allclose(mt.scd(m[0], m[0], m[0]), 0.0, atol=1e-6)  # F - A = 0
    assert float(mt.overall_performance(jnp.full((8, 8, 3), 5.0), x[:8, :8])) == np.inf
    assert float(mt.standard_deviation(jnp.full((8, 8, 3), 9.0))) == 0.0


def test_gradients_finite(rand):
    f, _, p = rand
    rng = np.random.default_rng(2)
    x = jnp.asarray(f[0], jnp.float32)
    x = x.at[:20, :20].set(0.0).at[40:, 40:].set(128.0)  # flat regions: zero differences
    y = jnp.asarray(p[0], jnp.float32) + jnp.asarray(rng.uniform(0, 1, x.shape), jnp.float32)
    flat = jnp.full((16, 16, 3), 7.0)
    fns = {
        "D": lambda a: mt.spectral_discrepancy(a, y),
        "AG": mt.average_gradient,
        "OP": lambda a: mt.overall_performance(a, y),
        "SD": mt.standard_deviation,
        "SF": mt.spatial_frequency,
        "SSIM": lambda a: mt.ssim(a, y),
        "PSNR": lambda a: mt.psnr(a, y),
        "SCD": lambda a: mt.scd(a[..., 0], a[..., 1], y[..., 0], channel_axis=None),
    }
    for key, fn in fns.items():
        g = jax.grad(fn)(x)
        assert np.all(np.isfinite(g)), key
        assert np.any(g != 0), key
    for fn in (mt.average_gradient, mt.standard_deviation, mt.spatial_frequency):
        g = jax.grad(fn)(flat)
        assert np.all(np.isfinite(g)) and np.all(g == 0)


def test_float64_under_x64(rand):
    f, m, _ = rand
    with jax.enable_x64(True):
        x = jnp.asarray(f[0, ..., 0], jnp.float64) + 0.25
        y = jnp.asarray(m[0], jnp.float64)
        s = mt.ssim(x, y, channel_axis=None)
        assert s.dtype == jnp.float64
        np.testing.assert_allclose(s, np_ssim(np.asarray(x), m[0], False), **TOL["x64"])
        np.testing.assert_allclose(mt.vif(x, y), np_vif(np.asarray(x), m[0]), **TOL["x64"])


# --------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------


def test_options_are_keyword_only():
    for name in mt.__all__:
        obj = getattr(mt, name)
        if not callable(obj):
            continue
        for param in inspect.signature(obj).parameters.values():
            if param.default is not inspect.Parameter.empty:
                assert param.kind is inspect.Parameter.KEYWORD_ONLY, f"{name}.{param.name}"


def test_higher_is_better_table():
    assert set(mt.HIGHER_IS_BETTER) == {
        "EN", "MI", "D", "AG", "OP", "SD", "SF", "PSNR", "SSIM", "Qabf", "SCD", "VIF"}
    assert mt.HIGHER_IS_BETTER["D"] is False and mt.HIGHER_IS_BETTER["OP"] is False


def test_bad_inputs_raise():
    a = jnp.zeros((64, 64, 3))
    with pytest.raises(ValueError, match="shapes must be equal"):
        mt.spectral_discrepancy(a, jnp.zeros((64, 32, 3)))
    with pytest.raises(ValueError, match="shapes must be equal"):
        mt.mutual_information(a, jnp.zeros((32, 32)), a)
    with pytest.raises(ValueError, match="cannot tell gray from RGB"):
        mt.qabf(a, a, a)
    with pytest.raises(ValueError, match="per_band"):
        mt.average_gradient(a[..., 0], per_band=True, channel_axis=None)
    with pytest.raises(ValueError, match="3 bands"):
        mt.to_gray(jnp.zeros((8, 8, 4)))
    with pytest.raises(ValueError, match="win_size"):
        mt.ssim(a[:8, :8], a[:8, :8])
    with pytest.raises(ValueError, match="41x41"):
        mt.vif(a[:32, :32, 0], a[:32, :32, 0])
    with pytest.raises(ValueError, match="must be RGB"):
        mt.evaluate_all(a, jnp.zeros((64, 64)), a[..., :2])
