"""Independent float64 oracles and shared data for the jaxfuse.metrics tests.

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

import jax.numpy as jnp
import numpy as np
from scipy import ndimage, signal
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

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


# Independent float64 oracles


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


def smooth_random(rng, shape):
    """uint8 image with structure (smoothed noise) plus fine noise."""
    x = ndimage.gaussian_filter(rng.normal(size=shape), sigma=(3, 3) + (0,) * (len(shape) - 2))
    x = (x - x.min()) / (x.max() - x.min()) * 220 + rng.uniform(0, 35, size=shape)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def gradient_inputs(rand):
    """``x`` (with flat regions) and ``y`` float32 ``[64, 64, 3]``, and a flat ``[16, 16, 3]``."""
    f, _, p = rand
    rng = np.random.default_rng(2)
    x = jnp.asarray(f[0], jnp.float32)
    x = x.at[:20, :20].set(0.0).at[40:, 40:].set(128.0)  # flat regions: zero differences
    y = jnp.asarray(p[0], jnp.float32) + jnp.asarray(rng.uniform(0, 1, x.shape), jnp.float32)
    flat = jnp.full((16, 16, 3), 7.0)
    return x, y, flat
