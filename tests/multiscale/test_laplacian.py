"""The Laplacian pyramid against an independent float64 SciPy pyramid; sizes and shape errors.

Reconstruction, jit/vmap, compile-once, gradients and the generic bad inputs: test_contract.py.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multiscale.helpers import TOL, rand, rel_err
from multiscale.oracles import np_pyramid, np_reconstruct

from jaxfuse.multiscale import laplacian_pyramid, reconstruct_laplacian_pyramid


@functools.partial(jax.jit, static_argnames=("levels",))
def roundtrip(x, *, levels):
    pyr = laplacian_pyramid(x, levels=levels)
    return pyr, reconstruct_laplacian_pyramid(pyr)


@pytest.mark.parametrize("shape, float64", [((256, 256), False), ((250, 250), False),
                                            ((97, 131), False), ((97, 131), True)])
def test_laplacian_matches_oracle_and_reconstructs(shape, float64):
    dtype = np.float64 if float64 else np.float32
    x = rand(shape, seed=5, dtype=dtype)
    want = np_pyramid(x, 4)
    with jax.enable_x64(float64):
        pyr, y = roundtrip(jnp.asarray(x), levels=4)
        assert len(pyr) == 5
        for g, w in zip(pyr, want):
            assert g.shape == w.shape and g.dtype == dtype
            assert rel_err(g, w) <= TOL[dtype]
        assert y.dtype == dtype
        assert rel_err(y, x) <= TOL[dtype]
    np.testing.assert_allclose(np_reconstruct(want), x, atol=1e-12)  # the oracle is sound


def test_laplacian_shapes_finest_first():
    pyr = jax.eval_shape(laplacian_pyramid, jnp.zeros((250, 97)))
    assert [p.shape for p in pyr] == [(250, 97), (125, 49), (63, 25), (32, 13), (16, 7)]


@settings(max_examples=3, deadline=None, database=None, derandomize=True)
@given(levels=st.integers(1, 4), h=st.integers(17, 70), w=st.integers(17, 70),
       seed=st.integers(0, 2**16))
def test_laplacian_random_sizes(levels, h, w, seed):
    x = rand((h, w), seed=seed)
    pyr, y = roundtrip(x, levels=levels)
    want = np_pyramid(x, levels)
    assert [p.shape for p in pyr] == [p.shape for p in want]
    assert max(rel_err(g, w) for g, w in zip(pyr, want)) <= TOL[np.float32]
    assert rel_err(y, x) <= TOL[np.float32]


def test_laplacian_errors():
    # 16 -> 8 -> 4 -> 2: the level-3 image, 2x2, is too small to reduce.
    with pytest.raises(ValueError, match=r"\(16, 16\)"):
        laplacian_pyramid(jnp.zeros((16, 16)), levels=4)
    jax.eval_shape(laplacian_pyramid, jnp.zeros((17, 17)))  # 17 -> 9 -> 5 -> 3 is fine
    pyr = jax.eval_shape(functools.partial(laplacian_pyramid, levels=2), jnp.zeros((32, 32)))
    with pytest.raises(ValueError, match="halve"):
        jax.eval_shape(reconstruct_laplacian_pyramid, [pyr[0], pyr[2]])
