"""The periodized DWT against PyWavelets (coefficients and reconstruction); its own errors.

Reconstruction at the contract's shapes, jit/vmap, compile-once, gradients and the generic bad
inputs (wrong ndim, levels, dtype): test_contract.py.
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import pywt
from hypothesis import given, settings
from hypothesis import strategies as st
from multiscale.helpers import TOL, rand, rel_err

from jaxfuse.multiscale import WAVELETS, dwt2, idwt2

jit_idwt2 = jax.jit(idwt2, static_argnames=("wavelet",))


@functools.partial(jax.jit, static_argnames=("levels", "wavelet"))
def roundtrip(x, *, levels, wavelet):
    coeffs = dwt2(x, levels=levels, wavelet=wavelet)
    return coeffs, idwt2(coeffs, wavelet=wavelet)


def assert_coeffs_close(got, want, tol):
    assert len(got) == len(want)
    assert rel_err(got[0], want[0]) <= tol
    for g, w in zip(got[1:], want[1:]):
        assert len(g) == 3
        for gc, wc in zip(g, w):
            assert gc.shape == wc.shape
            assert rel_err(gc, wc) <= tol


@pytest.mark.parametrize("wavelet, shape", [("db2", (256, 256)), ("haar", (64, 96))])
def test_dwt2_matches_pywt_and_reconstructs_float32(wavelet, shape):
    x = rand(shape, seed=1)
    coeffs, y = roundtrip(x, wavelet=wavelet, levels=4)
    want = pywt.wavedec2(np.float64(x), wavelet, mode="periodization", level=4)
    assert coeffs[0].dtype == y.dtype == jnp.float32
    assert_coeffs_close(coeffs, want, TOL[np.float32])
    assert rel_err(y, x) <= TOL[np.float32]


def test_dwt2_matches_pywt_and_reconstructs_float64():
    x = rand((256, 256), seed=2, dtype=np.float64)
    want = pywt.wavedec2(x, "db2", mode="periodization", level=4)
    with jax.enable_x64(True):
        coeffs, y = roundtrip(jnp.asarray(x), wavelet="db2", levels=4)
        assert coeffs[0].dtype == y.dtype == jnp.float64
        assert_coeffs_close(coeffs, want, TOL[np.float64])
        assert rel_err(y, x) <= TOL[np.float64]


def test_db2_filter_matches_pywt():
    np.testing.assert_allclose(WAVELETS["db2"], pywt.Wavelet("db2").dec_lo, atol=1e-15)
    assert set(WAVELETS) >= {"haar", "db2"}


def test_idwt2_matches_pywt_waverec2():
    x = rand((256, 256), seed=3, dtype=np.float64)
    coeffs = pywt.wavedec2(x, "db2", mode="periodization", level=4)
    # Perturb so that this is not just perfect reconstruction of x.
    coeffs = [coeffs[0] * 0.5] + [tuple(2.0 * c for c in d) for d in coeffs[1:]]
    want = pywt.waverec2(coeffs, "db2", mode="periodization")
    got32 = jit_idwt2(jax.tree.map(np.float32, coeffs), wavelet="db2")
    assert rel_err(got32, want) <= TOL[np.float32]
    with jax.enable_x64(True):
        got64 = jit_idwt2(jax.tree.map(jnp.asarray, coeffs), wavelet="db2")
        assert got64.dtype == jnp.float64
        assert rel_err(got64, want) <= TOL[np.float64]


@settings(max_examples=3, deadline=None, database=None, derandomize=True)
@given(levels=st.integers(1, 4), kh=st.integers(1, 5), kw=st.integers(1, 5),
       seed=st.integers(0, 2**16))
def test_dwt_random_sizes(levels, kh, kw, seed):
    x = rand((kh * 2**levels, kw * 2**levels), seed=seed)
    coeffs, y = roundtrip(x, wavelet="db2", levels=levels)
    with warnings.catch_warnings():  # pywt warns that small sizes see boundary effects
        warnings.simplefilter("ignore")
        want = pywt.wavedec2(np.float64(x), "db2", mode="periodization", level=levels)
    assert coeffs[0].shape == (kh, kw)
    assert_coeffs_close(coeffs, want, TOL[np.float32])
    assert rel_err(y, x) <= TOL[np.float32]


def test_dwt2_errors():
    with pytest.raises(ValueError, match=r"\(250, 256\)"):
        dwt2(jnp.zeros((250, 256)), levels=4)
    with pytest.raises(ValueError, match="unknown wavelet"):
        dwt2(jnp.zeros((16, 16)), wavelet="sym99", levels=2)
    c = jax.eval_shape(functools.partial(dwt2, levels=2), jnp.zeros((16, 16)))
    with pytest.raises(ValueError, match="approximation shape"):
        jax.eval_shape(idwt2, [c[0], c[2]])
