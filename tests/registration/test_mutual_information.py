"""Mattes MI against an independent float64 NumPy histogram; gradients; the two histogram forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import load_real_pairs

from jaxfuse.registration import joint_histogram, mattes_mutual_information, mutual_information
from jaxfuse.registration.mutual_information import cubic_bspline, fixed_bins, moving_bin_coordinates


def bspline3_np(x):
    """The cubic B-spline as the convolution of four unit boxes, written piece by piece."""
    x = np.abs(np.asarray(x, np.float64))
    out = np.zeros_like(x)
    a = x < 1
    out[a] = (4 - 6 * x[a] ** 2 + 3 * x[a] ** 3) / 6
    b = (x >= 1) & (x < 2)
    out[b] = (2 - x[b]) ** 3 / 6
    return out


def mattes_mi_np(fixed, moving, weights=None, bins=32):
    """float64 reference: fixed binned by min-max into ``bins`` boxes, moving spread over every bin
    with the cubic B-spline at ``2 + (bins - 5) t``; dense, one sample at a time summed by np.add.at."""
    f = np.asarray(fixed, np.float64).ravel()
    m = np.asarray(moving, np.float64).ravel()
    w = np.ones_like(m) if weights is None else np.asarray(weights, np.float64).ravel()
    tf = (f - f.min()) / (f.max() - f.min())
    fi = np.minimum((tf * bins).astype(int), bins - 1)
    bm = 2 + (bins - 5) * (m - m.min()) / (m.max() - m.min())
    window = bspline3_np(bm[:, None] - np.arange(bins)[None, :]) * w[:, None]
    joint = np.zeros((bins, bins))
    np.add.at(joint, fi, window)
    joint /= joint.sum()
    pf, pm = joint.sum(1), joint.sum(0)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log(joint[nz] / np.outer(pf, pm)[nz]))), joint


def test_cubic_bspline_matches_reference_and_partitions_unity():
    x = np.linspace(-3, 3, 1201)
    np.testing.assert_allclose(np.asarray(cubic_bspline(jnp.asarray(x, jnp.float32))), bspline3_np(x), atol=1e-6)
    shifts = np.random.default_rng(0).uniform(0, 1, 50)
    sums = sum(np.asarray(cubic_bspline(jnp.asarray(shifts - k))) for k in range(-2, 3))
    np.testing.assert_allclose(sums, 1.0, atol=1e-6)


@pytest.mark.parametrize("histogram", ["scatter", "dense"])
@pytest.mark.parametrize("bins", [16, 32])
def test_random_images_match_numpy(histogram, bins):
    rng = np.random.default_rng(bins)
    fixed = rng.random((40, 50))
    moving = 0.6 * fixed + 0.4 * rng.random((40, 50)) ** 2
    weights = (rng.random((40, 50)) > 0.2).astype(np.float64)
    for w in (None, weights):
        want, joint_np = mattes_mi_np(fixed, moving, w, bins)
        got = mutual_information(
            jnp.asarray(fixed, jnp.float32), jnp.asarray(moving, jnp.float32), w, bins=bins, histogram=histogram
        )
        np.testing.assert_allclose(float(got), want, rtol=2e-4, atol=1e-6)
    f = jnp.asarray(fixed.ravel(), jnp.float32)
    m = jnp.asarray(moving.ravel(), jnp.float32)
    idx = fixed_bins(f, lo=f.min(), hi=f.max(), bins=bins)
    joint = joint_histogram(idx, moving_bin_coordinates(m, lo=m.min(), hi=m.max(), bins=bins), bins=bins, histogram=histogram)
    np.testing.assert_allclose(np.asarray(joint), mattes_mi_np(fixed, moving, None, bins)[1], atol=2e-6)


def test_real_pet_mri_pair_matches_numpy():
    _, mri, pet = load_real_pairs(2)
    for b in range(2):
        intensity = pet[b].astype(np.float64).mean(-1)
        want, _ = mattes_mi_np(mri[b], intensity)
        got = mutual_information(mri[b], jnp.asarray(intensity, jnp.float32))
        np.testing.assert_allclose(float(got), want, rtol=2e-4)


def test_mi_orders_dependence_and_ignores_moving_scale():
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.random(5000), jnp.float32)
    noise = jnp.asarray(rng.random(5000), jnp.float32)
    same, independent = float(mutual_information(x, x)), float(mutual_information(x, noise))
    assert same > 1.5 and independent < 0.05
    # Min-max binning: a positive affine change of the moving values changes nothing.
    np.testing.assert_allclose(float(mutual_information(x, 3.0 * noise + 7.0)), independent, rtol=1e-3, atol=1e-6)


def test_scatter_and_dense_agree_in_value_and_gradient():
    rng = np.random.default_rng(2)
    idx = jnp.asarray(rng.integers(0, 32, 3000))
    v = jnp.asarray(rng.random(3000), jnp.float32)
    w = jnp.asarray(rng.random(3000), jnp.float32)
    fn = {h: (lambda v, w, h=h: mattes_mutual_information(idx, v, w, lo=0.0, hi=1.0, histogram=h)) for h in ("scatter", "dense")}
    np.testing.assert_allclose(float(fn["scatter"](v, w)), float(fn["dense"](v, w)), rtol=1e-5)
    gs = jax.jit(jax.grad(fn["scatter"], argnums=(0, 1)))(v, w)
    gd = jax.jit(jax.grad(fn["dense"], argnums=(0, 1)))(v, w)
    for a, b in zip(gs, gd):
        assert np.all(np.isfinite(np.asarray(a)))
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-7)


def test_gradient_matches_finite_differences_in_float64():
    rng = np.random.default_rng(3)
    with jax.enable_x64(True):
        idx = jnp.asarray(rng.integers(0, 16, 400))
        v = jnp.asarray(rng.random(400), jnp.float64)
        f = jax.jit(lambda v: mattes_mutual_information(idx, v, lo=0.0, hi=1.0, bins=16, histogram="scatter"))
        g = np.asarray(jax.grad(f)(v))
        for n in rng.choice(400, 8, replace=False):
            e = np.zeros(400)
            e[n] = 1e-6
            fd = (float(f(v + e)) - float(f(v - e))) / 2e-6
            np.testing.assert_allclose(g[n], fd, rtol=1e-4, atol=1e-9)


def test_gradient_finite_on_constant_and_empty_inputs():
    idx = jnp.zeros(100, jnp.int32)
    g = jax.jit(jax.grad(lambda v: mattes_mutual_information(idx, v, lo=0.0, hi=1.0)))(jnp.zeros(100))
    assert np.all(np.isfinite(np.asarray(g)))
    g = jax.jit(jax.grad(lambda v: mattes_mutual_information(idx, v, jnp.zeros(100), lo=0.0, hi=1.0)))(jnp.ones(100))
    assert np.all(np.isfinite(np.asarray(g)))


def test_jit_and_vmap_equal_eager():
    rng = np.random.default_rng(4)
    idx = jnp.asarray(rng.integers(0, 32, 2000))
    vs = jnp.asarray(rng.random((5, 2000)), jnp.float32)
    f = lambda v: mattes_mutual_information(idx, v, lo=0.0, hi=1.0, histogram="scatter")
    np.testing.assert_allclose(float(jax.jit(f)(vs[0])), float(f(vs[0])), rtol=1e-6)  # jit = eager
    one, grad_one = jax.jit(f), jax.jit(jax.grad(f))
    loop = np.array([float(one(v)) for v in vs])
    np.testing.assert_allclose(np.asarray(jax.jit(jax.vmap(f))(vs)), loop, rtol=1e-5)
    g_loop = np.stack([np.asarray(grad_one(v)) for v in vs])
    np.testing.assert_allclose(np.asarray(jax.jit(jax.vmap(jax.grad(f)))(vs)), g_loop, rtol=1e-4, atol=1e-8)
    # batched over both the fixed bins and the values (the flat-scatter batching rule)
    idxs = jnp.asarray(rng.integers(0, 32, (5, 2000)))
    h = jax.jit(lambda i, v: mattes_mutual_information(i, v, lo=0.0, hi=1.0, histogram="scatter"))
    want = np.array([float(h(i, v)) for i, v in zip(idxs, vs)])
    np.testing.assert_allclose(np.asarray(jax.vmap(h)(idxs, vs)), want, rtol=1e-5)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="same shape"):
        mutual_information(jnp.zeros((4, 4)), jnp.zeros((4, 5)))
    with pytest.raises(ValueError, match="bins"):
        mutual_information(jnp.zeros(10), jnp.zeros(10), bins=4)
    with pytest.raises(ValueError, match="histogram"):
        mutual_information(jnp.zeros(10), jnp.zeros(10), histogram="fast")
    with pytest.raises(ValueError, match="weights"):
        joint_histogram(jnp.zeros(10, jnp.int32), jnp.full(10, 3.0), jnp.ones(9))
