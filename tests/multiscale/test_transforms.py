"""Tests for jaxfuse.multiscale.transforms: Laplacian pyramid, db2 DWT and the classic multiscale rule.

Oracles are independent: PyWavelets for the DWT, a float64 SciPy implementation of the Burt &
Adelson pyramid written here, and NumPy implementations of the fusion rule.
"""

import functools
import inspect
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import pywt
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from jaxfuse import multiscale as T

# jax 0.10 has jax.enable_x64 (a context manager); older releases had it in jax.experimental.
enable_x64 = getattr(jax, "enable_x64", None)
if enable_x64 is None:  # pragma: no cover
    from jax.experimental import enable_x64

# One table of tolerances (max abs error relative to the max abs reference value).
TOL = {np.float32: 1e-5, np.float64: 1e-10}
STATIC = ("transform", "levels", "wavelet")


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30)


def rand(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).random(shape).astype(dtype)


def assert_coeffs_close(got, want, tol):
    assert len(got) == len(want)
    assert rel_err(got[0], want[0]) <= tol
    for g, w in zip(got[1:], want[1:]):
        assert len(g) == 3
        for gc, wc in zip(g, w):
            assert gc.shape == wc.shape
            assert rel_err(gc, wc) <= tol


jit_idwt2 = jax.jit(T.idwt2, static_argnames=("wavelet",))
jit_fuse = jax.jit(T.fuse_multiscale, static_argnames=STATIC)


# ---------------------------------------------------------------- independent NumPy oracles

_K = np.array([1, 4, 6, 4, 1], np.float64) / 16


def np_blur(x, k):
    x = ndimage.convolve1d(x, k, axis=0, mode="mirror")
    return ndimage.convolve1d(x, k, axis=1, mode="mirror")


def np_pyramid(x, levels):
    x = np.asarray(x, np.float64)
    out = []
    for _ in range(levels):
        low = np_blur(x, _K)[::2, ::2]
        up = np.zeros_like(x)
        up[::2, ::2] = low
        out.append(x - np_blur(up, 2 * _K))
        x = low
    return out + [x]


def np_reconstruct(pyr):
    x = pyr[-1]
    for band in reversed(pyr[:-1]):
        up = np.zeros_like(band)
        up[::2, ::2] = x
        x = band + np_blur(up, 2 * _K)
    return x


def np_max_abs(a, b):
    return np.where(np.abs(a) >= np.abs(b), a, b)


def np_fuse_laplacian(a, b, levels):
    pa, pb = np_pyramid(a, levels), np_pyramid(b, levels)
    fused = [np_max_abs(x, y) for x, y in zip(pa[:-1], pb[:-1])] + [(pa[-1] + pb[-1]) / 2]
    return np_reconstruct(fused)


def np_fuse_dwt(a, b, levels, wavelet):
    ca = pywt.wavedec2(np.float64(a), wavelet, mode="periodization", level=levels)
    cb = pywt.wavedec2(np.float64(b), wavelet, mode="periodization", level=levels)
    fused = [(ca[0] + cb[0]) / 2] + [
        tuple(np_max_abs(x, y) for x, y in zip(da, db)) for da, db in zip(ca[1:], cb[1:])]
    return pywt.waverec2(fused, wavelet, mode="periodization")


def roundtrip(transform):
    """jit of image -> (coefficients, reconstruction): one compile per shape and dtype."""
    t = T.TRANSFORMS[transform]

    def run(x, *, levels, **options):
        coeffs = t.forward(x, levels=levels, **options)
        return coeffs, t.inverse(coeffs, **options)

    return jax.jit(run, static_argnames=("levels", "wavelet"))


jit_dwt_roundtrip = roundtrip("dwt")
jit_pyr_roundtrip = roundtrip("laplacian")


# ---------------------------------------------------------------- DWT

@pytest.mark.parametrize("wavelet, shape", [("db2", (256, 256)), ("haar", (64, 96))])
def test_dwt2_matches_pywt_and_reconstructs_float32(wavelet, shape):
    x = rand(shape, seed=1)
    coeffs, y = jit_dwt_roundtrip(x, wavelet=wavelet, levels=4)
    want = pywt.wavedec2(np.float64(x), wavelet, mode="periodization", level=4)
    assert coeffs[0].dtype == y.dtype == jnp.float32
    assert_coeffs_close(coeffs, want, TOL[np.float32])
    assert rel_err(y, x) <= TOL[np.float32]


def test_dwt2_matches_pywt_and_reconstructs_float64():
    x = rand((256, 256), seed=2, dtype=np.float64)
    want = pywt.wavedec2(x, "db2", mode="periodization", level=4)
    with enable_x64(True):
        coeffs, y = jit_dwt_roundtrip(jnp.asarray(x), wavelet="db2", levels=4)
        assert coeffs[0].dtype == y.dtype == jnp.float64
        assert_coeffs_close(coeffs, want, TOL[np.float64])
        assert rel_err(y, x) <= TOL[np.float64]


def test_db2_filter_matches_pywt():
    np.testing.assert_allclose(T.WAVELETS["db2"], pywt.Wavelet("db2").dec_lo, atol=1e-15)


def test_idwt2_matches_pywt_waverec2():
    x = rand((256, 256), seed=3, dtype=np.float64)
    coeffs = pywt.wavedec2(x, "db2", mode="periodization", level=4)
    # Perturb so that this is not just perfect reconstruction of x.
    coeffs = [coeffs[0] * 0.5] + [tuple(2.0 * c for c in d) for d in coeffs[1:]]
    want = pywt.waverec2(coeffs, "db2", mode="periodization")
    got32 = jit_idwt2(jax.tree.map(np.float32, coeffs), wavelet="db2")
    assert rel_err(got32, want) <= TOL[np.float32]
    with enable_x64(True):
        got64 = jit_idwt2(jax.tree.map(jnp.asarray, coeffs), wavelet="db2")
        assert got64.dtype == jnp.float64
        assert rel_err(got64, want) <= TOL[np.float64]


@settings(max_examples=3, deadline=None, database=None, derandomize=True)
@given(levels=st.integers(1, 4), kh=st.integers(1, 5), kw=st.integers(1, 5),
       seed=st.integers(0, 2**16))
def test_dwt_random_sizes(levels, kh, kw, seed):
    x = rand((kh * 2**levels, kw * 2**levels), seed=seed)
    coeffs, y = jit_dwt_roundtrip(x, wavelet="db2", levels=levels)
    with warnings.catch_warnings():  # pywt warns that small sizes see boundary effects
        warnings.simplefilter("ignore")
        want = pywt.wavedec2(np.float64(x), "db2", mode="periodization", level=levels)
    assert coeffs[0].shape == (kh, kw)
    assert_coeffs_close(coeffs, want, TOL[np.float32])
    assert rel_err(y, x) <= TOL[np.float32]


def test_dwt2_errors():
    with pytest.raises(ValueError, match=r"\(250, 256\)"):
        T.dwt2(jnp.zeros((250, 256)), levels=4)
    with pytest.raises(ValueError, match="shape"):
        T.dwt2(jnp.zeros((4, 16, 16)), levels=2)
    with pytest.raises(ValueError, match="unknown wavelet"):
        T.dwt2(jnp.zeros((16, 16)), wavelet="sym99", levels=2)
    with pytest.raises(ValueError, match="levels"):
        T.dwt2(jnp.zeros((16, 16)), levels=0)
    with pytest.raises(TypeError, match="float"):
        T.dwt2(jnp.zeros((16, 16), jnp.int32), levels=2)
    c = jax.eval_shape(functools.partial(T.dwt2, levels=2), jnp.zeros((16, 16)))
    with pytest.raises(ValueError, match="approximation shape"):
        jax.eval_shape(T.idwt2, [c[0], c[2]])


# ---------------------------------------------------------------- Laplacian pyramid

@pytest.mark.parametrize("shape, float64", [((256, 256), False), ((250, 250), False),
                                            ((97, 131), False), ((97, 131), True)])
def test_laplacian_matches_oracle_and_reconstructs(shape, float64):
    dtype = np.float64 if float64 else np.float32
    x = rand(shape, seed=5, dtype=dtype)
    want = np_pyramid(x, 4)
    with enable_x64(float64):
        pyr, y = jit_pyr_roundtrip(jnp.asarray(x), levels=4)
        assert len(pyr) == 5
        for g, w in zip(pyr, want):
            assert g.shape == w.shape and g.dtype == dtype
            assert rel_err(g, w) <= TOL[dtype]
        assert y.dtype == dtype
        assert rel_err(y, x) <= TOL[dtype]
    np.testing.assert_allclose(np_reconstruct(want), x, atol=1e-12)  # the oracle is sound


def test_laplacian_shapes_finest_first():
    pyr = jax.eval_shape(T.laplacian_pyramid, jnp.zeros((250, 97)))
    assert [p.shape for p in pyr] == [(250, 97), (125, 49), (63, 25), (32, 13), (16, 7)]


@settings(max_examples=3, deadline=None, database=None, derandomize=True)
@given(levels=st.integers(1, 4), h=st.integers(17, 70), w=st.integers(17, 70),
       seed=st.integers(0, 2**16))
def test_laplacian_random_sizes(levels, h, w, seed):
    x = rand((h, w), seed=seed)
    pyr, y = jit_pyr_roundtrip(x, levels=levels)
    want = np_pyramid(x, levels)
    assert [p.shape for p in pyr] == [p.shape for p in want]
    assert max(rel_err(g, w) for g, w in zip(pyr, want)) <= TOL[np.float32]
    assert rel_err(y, x) <= TOL[np.float32]


def test_laplacian_errors():
    # 16 -> 8 -> 4 -> 2: the level-3 image, 2x2, is too small to reduce.
    with pytest.raises(ValueError, match=r"\(16, 16\)"):
        T.laplacian_pyramid(jnp.zeros((16, 16)), levels=4)
    jax.eval_shape(T.laplacian_pyramid, jnp.zeros((17, 17)))  # 17 -> 9 -> 5 -> 3 is fine
    with pytest.raises(ValueError, match="shape"):
        T.laplacian_pyramid(jnp.zeros((3, 32, 32)), levels=2)
    pyr = jax.eval_shape(functools.partial(T.laplacian_pyramid, levels=2), jnp.zeros((32, 32)))
    with pytest.raises(ValueError, match="halve"):
        jax.eval_shape(T.reconstruct_laplacian_pyramid, [pyr[0], pyr[2]])


# ---------------------------------------------------------------- fusion rule

@pytest.mark.parametrize("transform, shape", [("laplacian", (97, 131)), ("dwt", (256, 256))])
def test_fuse_matches_numpy_oracle_float64(transform, shape):
    a = rand(shape, seed=7, dtype=np.float64)
    b = rand(shape, seed=8, dtype=np.float64) ** 2
    if transform == "dwt":
        want = np_fuse_dwt(a, b, 4, "db2")
    else:
        want = np_fuse_laplacian(a, b, 4)
    with enable_x64(True):
        got = jit_fuse(jnp.asarray(a), jnp.asarray(b), transform=transform, levels=4)
        assert got.dtype == jnp.float64
        assert rel_err(got, want) <= TOL[np.float64]


def test_fuse_rule_neutral_ties_take_a_and_average_lowpass():
    rng = np.random.default_rng(0)
    c = [rng.standard_normal((4, 4), np.float32),
         tuple(rng.standard_normal((4, 4), np.float32) for _ in range(3))]
    # fuse(c, c) == c exactly
    for g, w in zip(jax.tree.leaves(T.fuse_coefficients(c, c, transform="dwt")),
                    jax.tree.leaves(c)):
        np.testing.assert_array_equal(g, w)
    ca = [np.full((4, 4), 1.0, np.float32),
          tuple(np.full((4, 4), v, np.float32) for v in (1.0, -2.0, 0.0))]
    cb = [np.full((4, 4), 3.0, np.float32),
          tuple(np.full((4, 4), v, np.float32) for v in (-1.0, 2.0, -0.0))]
    fused = T.fuse_coefficients(ca, cb, transform="dwt")
    np.testing.assert_array_equal(fused[0], 2.0)
    for got, want in zip(fused[1], ca[1]):  # |a| == |b| -> a
        np.testing.assert_array_equal(got, want)
    assert not np.any(np.signbit(fused[1][2]))


@pytest.mark.parametrize("transform", ["laplacian", "dwt"])
def test_fuse_jit_vmap_equivalence_and_self(transform):
    a = rand((4, 64, 64), seed=14)
    b = rand((4, 64, 64), seed=15)
    batched = jax.jit(jax.vmap(functools.partial(T.fuse_multiscale, transform=transform,
                                                 levels=4)))
    got = np.asarray(batched(a, b))
    want = np.stack([np.asarray(jit_fuse(a[i], b[i], transform=transform, levels=4))
                     for i in range(4)])
    assert got.dtype == np.float32
    assert got.tobytes() == want.tobytes()
    # fuse(x, x) == x up to the transform's round trip.
    assert rel_err(jit_fuse(a[0], a[0], transform=transform, levels=4), a[0]) <= TOL[np.float32]


def test_fuse_wrappers_and_custom_transform_same_program():
    a, b = jnp.zeros((64, 64)), jnp.zeros((64, 64))

    def program(f, **kw):
        return str(jax.make_jaxpr(functools.partial(f, **kw))(a, b))

    assert program(T.fuse_dwt, levels=3, wavelet="haar") == program(
        T.fuse_multiscale, transform="dwt", levels=3, wavelet="haar")
    assert program(T.fuse_laplacian, levels=3) == program(
        T.fuse_multiscale, transform="laplacian", levels=3)
    assert program(T.fuse_multiscale) == program(T.fuse_laplacian)  # default
    # A new transform plugs in as one MultiscaleTransform value.
    haar = T.MultiscaleTransform(
        forward=functools.partial(T.dwt2, wavelet="haar"),
        inverse=functools.partial(T.idwt2, wavelet="haar"),
        split=lambda c: (c[0], c[1:]), merge=lambda low, high: [low, *high])
    assert program(T.fuse_multiscale, transform=haar, levels=3) == program(
        T.fuse_dwt, levels=3, wavelet="haar")


def test_fuse_errors():
    with pytest.raises(ValueError, match=r"\(64, 64\) and \(64, 32\)"):
        T.fuse_multiscale(jnp.zeros((64, 64)), jnp.zeros((64, 32)))
    with pytest.raises(ValueError, match="unknown transform"):
        T.fuse_multiscale(jnp.zeros((64, 64)), jnp.zeros((64, 64)), transform="curvelet9")


def test_fuse_compiles_once():
    traces = []

    def fuse(a, b):
        traces.append(1)
        return T.fuse_multiscale(a, b, transform="dwt", levels=2)

    f = jax.jit(fuse)
    f(rand((16, 16), 1), rand((16, 16), 2)).block_until_ready()
    f(rand((16, 16), 3), rand((16, 16), 4)).block_until_ready()
    assert len(traces) == 1


def _loss(a, b, transform):
    return jnp.sum(T.fuse_multiscale(a, b, transform=transform, levels=4) ** 2)


_grad_loss = jax.jit(jax.grad(_loss, argnums=(0, 1)), static_argnames=("transform",))


@pytest.mark.parametrize("transform", ["laplacian", "dwt"])
def test_fuse_gradients_finite(transform):
    random = rand((64, 64), seed=16), rand((64, 64), seed=17)
    gray = np.full((64, 64), 0.5, np.float32)  # ties everywhere, zero high-pass bands
    black = np.zeros((64, 64), np.float32)
    for a, b in (random, (gray, gray), (black, black), (black, gray)):
        ga, gb = _grad_loss(a, b, transform)
        assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gb))
    ga, gb = _grad_loss(*random, transform)
    assert np.any(ga != 0) and np.any(gb != 0)
# ---------------------------------------------------------------- public API

def test_public_api_options_keyword_only():
    for name in T.__all__:
        obj = getattr(T, name)
        if name == "dmaxflat":  # its order is the filter's defining argument, not an option
            continue
        assert obj is not None, name
        if not inspect.isfunction(obj):
            continue
        params = list(inspect.signature(obj).parameters.values())
        for p in params:
            if p.default is not inspect.Parameter.empty:
                assert p.kind is inspect.Parameter.KEYWORD_ONLY, f"{name}({p.name}) positional"
    assert set(T.TRANSFORMS) >= {"laplacian", "dwt"}
    assert set(T.WAVELETS) >= {"haar", "db2"}
