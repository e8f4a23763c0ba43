"""The classic multiscale rule against NumPy/PyWavelets oracles; ties, wrappers, custom transforms.

The rule on every registered transform (split/merge, fuse(x, x) == x, vmap, compile-once,
gradients): test_contract.py.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from multiscale.helpers import TOL, rand, rel_err
from multiscale.oracles import np_fuse_dwt, np_fuse_laplacian

from jaxfuse.multiscale import (
    MultiscaleTransform,
    dwt2,
    fuse_coefficients,
    fuse_dwt,
    fuse_laplacian,
    fuse_multiscale,
    idwt2,
)

jit_fuse = jax.jit(fuse_multiscale, static_argnames=("transform", "levels", "wavelet"))


@pytest.mark.parametrize("transform, shape", [("laplacian", (97, 131)), ("dwt", (256, 256))])
def test_fuse_matches_numpy_oracle_float64(transform, shape):
    a = rand(shape, seed=7, dtype=np.float64)
    b = rand(shape, seed=8, dtype=np.float64) ** 2
    if transform == "dwt":
        want = np_fuse_dwt(a, b, 4, "db2")
    else:
        want = np_fuse_laplacian(a, b, 4)
    with jax.enable_x64(True):
        got = jit_fuse(jnp.asarray(a), jnp.asarray(b), transform=transform, levels=4)
        assert got.dtype == jnp.float64
        assert rel_err(got, want) <= TOL[np.float64]


def test_fuse_rule_neutral_ties_take_a_and_average_lowpass():
    rng = np.random.default_rng(0)
    c = [rng.standard_normal((4, 4), np.float32),
         tuple(rng.standard_normal((4, 4), np.float32) for _ in range(3))]
    # fuse(c, c) == c exactly
    for g, w in zip(jax.tree.leaves(fuse_coefficients(c, c, transform="dwt")),
                    jax.tree.leaves(c)):
        np.testing.assert_array_equal(g, w)
    ca = [np.full((4, 4), 1.0, np.float32),
          tuple(np.full((4, 4), v, np.float32) for v in (1.0, -2.0, 0.0))]
    cb = [np.full((4, 4), 3.0, np.float32),
          tuple(np.full((4, 4), v, np.float32) for v in (-1.0, 2.0, -0.0))]
    fused = fuse_coefficients(ca, cb, transform="dwt")
    np.testing.assert_array_equal(fused[0], 2.0)
    for got, want in zip(fused[1], ca[1]):  # |a| == |b| -> a
        np.testing.assert_array_equal(got, want)
    assert not np.any(np.signbit(fused[1][2]))


def test_fuse_wrappers_and_custom_transform_same_program():
    a, b = jnp.zeros((64, 64)), jnp.zeros((64, 64))

    def program(f, **kw):
        return str(jax.make_jaxpr(functools.partial(f, **kw))(a, b))

    assert program(fuse_dwt, levels=3, wavelet="haar") == program(
        fuse_multiscale, transform="dwt", levels=3, wavelet="haar")
    assert program(fuse_laplacian, levels=3) == program(
        fuse_multiscale, transform="laplacian", levels=3)
    assert program(fuse_multiscale) == program(fuse_laplacian)  # default
    # A new transform plugs in as one MultiscaleTransform value.
    haar = MultiscaleTransform(
        forward=functools.partial(dwt2, wavelet="haar"),
        inverse=functools.partial(idwt2, wavelet="haar"),
        split=lambda c: (c[0], c[1:]), merge=lambda low, high: [low, *high])
    assert program(fuse_multiscale, transform=haar, levels=3) == program(
        fuse_dwt, levels=3, wavelet="haar")


def test_fuse_errors():
    with pytest.raises(ValueError, match=r"\(64, 64\) and \(64, 32\)"):
        fuse_multiscale(jnp.zeros((64, 64)), jnp.zeros((64, 32)))
    with pytest.raises(ValueError, match="unknown transform"):
        fuse_multiscale(jnp.zeros((64, 64)), jnp.zeros((64, 64)), transform="curvelet9")
