"""The contract every registered multiscale transform meets, parametrised over ``TRANSFORMS``.

A transform added to :data:`jaxfuse.multiscale.registry.TRANSFORMS` gets this checklist without a
line of test code: perfect reconstruction (float32 and float64), jit equals eager, vmap equals a
loop, one compile per shape, the fusion rule's split/merge, fusing an image with itself, finite
gradients, and clear errors for bad inputs. What is particular to one transform (oracles, golden
values, frame properties, orientations, its own options and sizes) stays in its own test file.

Compiles are shared: one jitted forward+inverse, one batched forward+inverse, one fusion and one
gradient per transform (and shape, dtype), reused across the tests. The checks that need a compile
of their own per transform (float64, batched, eager, gradients) are marked ``slow``; those that
repeat a check on the non-square shape are in the sweep (``pytest -m sweep``).
"""

from __future__ import annotations

import collections
import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from multiscale.helpers import TOL, l2_err, rand, rel_err

from jaxfuse.multiscale import TRANSFORMS, MultiscaleTransform, fuse_coefficients, fuse_multiscale

NAMES = list(TRANSFORMS)
LEVELS = 4
#: The main case (the Harvard images are 256 x 256) and a non-square one; every registered
#: transform must take both at ``levels=4`` (both sides divisible by 16).
SHAPES = [(256, 256), (128, 96)]
#: Too small for 4 levels of any transform (8 is not divisible by 16, reduces below 3x3, ...).
TOO_SMALL = (8, 8)
COMPLEX = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128)}

#: Largest |batched - looped| and |jit - eager| difference allowed per transform (absolute); 0 means
#: bit-identical. The pyramid and the DWT always were bit-identical under vmap and stay so; the
#: contourlet's lifting sums are reassociated when batched.
ATOL = collections.defaultdict(lambda: 1e-6, laplacian=0.0, dwt=0.0)

TRACES: collections.Counter = collections.Counter()


def forward_inverse(name, x):
    """``(coeffs, inverse(coeffs))`` of one image with the registered transform ``name``."""
    spec = TRANSFORMS[name]
    coeffs = spec.forward(x, levels=LEVELS)
    return coeffs, spec.inverse(coeffs)


def _counted(name, fn):
    def run(*args):
        TRACES[fn.__name__, name] += 1
        return fn(name, *args)

    return jax.jit(run)


def _fuse(name, a, b):
    return fuse_multiscale(a, b, transform=name, levels=LEVELS)


def _loss(name, a, b):
    return jnp.sum(_fuse(name, a, b) ** 2)


ROUNDTRIP = {name: _counted(name, forward_inverse) for name in NAMES}
BATCHED = {name: jax.jit(jax.vmap(functools.partial(forward_inverse, name))) for name in NAMES}
FUSE = {name: _counted(name, _fuse) for name in NAMES}
FUSE_BATCHED = {name: jax.jit(jax.vmap(functools.partial(_fuse, name))) for name in NAMES}
GRAD = {name: jax.jit(jax.grad(functools.partial(_loss, name), argnums=(0, 1))) for name in NAMES}


def assert_close(got, want, atol):
    """Bit-identical (same dtype, shape and bytes) when ``atol == 0``, else ``|got - want| <= atol``."""
    got, want = np.asarray(got), np.asarray(want)
    if atol == 0:
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()
    else:
        np.testing.assert_allclose(got, want, rtol=0, atol=atol)


def assert_dtypes(coeffs, dtype):
    """Every coefficient is of the image's float dtype or of the matching complex dtype."""
    dtype = np.dtype(dtype)
    leaves = jax.tree.leaves(coeffs)
    assert leaves
    assert all(leaf.dtype in (dtype, COMPLEX[dtype]) for leaf in leaves), {leaf.dtype for leaf in leaves}


# ------------------------------------------------------------------------ the registry


def test_registry_holds_every_transform():
    assert NAMES == ["laplacian", "dwt", "curvelet", "contourlet", "nsct"]
    assert all(isinstance(spec, MultiscaleTransform) for spec in TRANSFORMS.values())


# ------------------------------------------------------------------------ perfect reconstruction


#: The non-square shape's float64 and batched cases repeat what the square shape checks, each with
#: a compile of its own: in the sweep (``pytest -m sweep``).
CASES = [
    (SHAPES[0], np.float32),
    pytest.param(SHAPES[0], np.float64, marks=pytest.mark.slow),
    (SHAPES[1], np.float32),
    pytest.param(SHAPES[1], np.float64, marks=pytest.mark.sweep),
]


@pytest.mark.parametrize("shape, dtype", CASES)
@pytest.mark.parametrize("name", NAMES)
def test_perfect_reconstruction(name, shape, dtype):
    with jax.enable_x64(dtype == np.float64):
        x = rand(shape, dtype=dtype)
        coeffs, y = ROUNDTRIP[name](x)
        assert y.shape == shape and y.dtype == dtype
        assert_dtypes(coeffs, dtype)
        assert rel_err(y, x) <= TOL[dtype]
        assert l2_err(y, x) <= TOL[dtype]


# ------------------------------------------------------------------------ jit, vmap, compile once


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_jit_equals_eager(name):
    x = rand(SHAPES[1], seed=3)
    jitted = ROUNDTRIP[name](x)
    eager = forward_inverse(name, jnp.asarray(x))
    assert jax.tree.structure(jitted) == jax.tree.structure(eager)
    for a, b in zip(jax.tree.leaves(jitted), jax.tree.leaves(eager)):
        assert_close(a, b, ATOL[name])


@pytest.mark.slow
@pytest.mark.parametrize("shape", [SHAPES[0], pytest.param(SHAPES[1], marks=pytest.mark.sweep)])
@pytest.mark.parametrize("name", NAMES)
def test_vmap_equals_loop(name, shape):
    xs = np.stack([rand(shape, seed=10 + i) for i in range(3)])
    batched = BATCHED[name](xs)
    assert rel_err(batched[1], xs) <= TOL[np.float32]
    assert l2_err(batched[1], xs) <= TOL[np.float32]
    for i, x in enumerate(xs):
        single = ROUNDTRIP[name](x)
        assert jax.tree.structure(single) == jax.tree.structure(batched)
        for a, b in zip(jax.tree.leaves(single), jax.tree.leaves(batched)):
            assert b.shape == (3, *a.shape)
            assert_close(b[i], a, ATOL[name])


@pytest.mark.parametrize("name", NAMES)
def test_second_call_does_not_recompile(name):
    shape = SHAPES[0]
    ROUNDTRIP[name](rand(shape, seed=1))
    FUSE[name](rand(shape, seed=1), rand(shape, seed=2))
    before = TRACES.copy()
    ROUNDTRIP[name](rand(shape, seed=3))  # same shape and dtype, new values
    FUSE[name](rand(shape, seed=3), rand(shape, seed=4)).block_until_ready()
    assert TRACES == before
    assert before["forward_inverse", name] >= 1 and before["_fuse", name] >= 1


# ------------------------------------------------------------------------ the fusion rule


@pytest.mark.parametrize("name", NAMES)
def test_split_merge_and_the_rule_on_coefficients(name):
    spec = TRANSFORMS[name]
    ca, _ = ROUNDTRIP[name](rand(SHAPES[0], seed=4))
    cb, _ = ROUNDTRIP[name](rand(SHAPES[0], seed=5))
    low, high = spec.split(ca)
    assert jax.tree.leaves(low) and jax.tree.leaves(high)
    merged = spec.merge(low, high)
    assert jax.tree.structure(merged) == jax.tree.structure(ca)
    assert all(m is c for m, c in zip(jax.tree.leaves(merged), jax.tree.leaves(ca)))
    fused = fuse_coefficients(ca, cb, transform=name)
    assert jax.tree.structure(fused) == jax.tree.structure(ca)
    (low_a, high_a), (low_b, high_b), (low_f, high_f) = spec.split(ca), spec.split(cb), spec.split(fused)
    for f, x, y in zip(jax.tree.leaves(low_f), jax.tree.leaves(low_a), jax.tree.leaves(low_b)):
        np.testing.assert_array_equal(f, (np.asarray(x) + np.asarray(y)) / 2)
    for f, x, y in zip(jax.tree.leaves(high_f), jax.tree.leaves(high_a), jax.tree.leaves(high_b)):
        x, y = np.asarray(x), np.asarray(y)
        np.testing.assert_array_equal(f, np.where(np.abs(x) >= np.abs(y), x, y))


@pytest.mark.parametrize("name", NAMES)
def test_fuse_with_itself_is_identity(name):
    x = rand(SHAPES[0], seed=3)
    y = FUSE[name](x, x)
    assert y.shape == x.shape and y.dtype == jnp.float32
    assert rel_err(y, x) <= TOL[np.float32]
    assert l2_err(y, x) <= TOL[np.float32]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_fuse_vmap_equals_loop(name):
    a = np.stack([rand(SHAPES[0], seed=14 + i) for i in range(3)])
    b = np.stack([rand(SHAPES[0], seed=24 + i) for i in range(3)])
    got = FUSE_BATCHED[name](a, b)
    assert got.shape == a.shape and got.dtype == jnp.float32
    for i in range(3):
        assert_close(got[i], FUSE[name](a[i], b[i]), ATOL[name])


def _gradient_pairs(shape):
    """Random images, then flat ones (ties everywhere, zero high-pass bands), then a mixed pair."""
    random = rand(shape, seed=16), rand(shape, seed=17)
    gray = np.full(shape, 0.5, np.float32)
    black = np.zeros(shape, np.float32)
    a, b = rand(shape, seed=6), rand(shape, seed=7)
    a[:32] = 0.0  # black
    b[-32:] = 1.0  # white
    b[:, :32] = 0.5  # gray
    return {"random": random, "gray": (gray, gray), "black": (black, black),
            "black-gray": (black, gray), "mixed": (a, b)}


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_fusion_gradients_are_finite(name):
    for kind, (a, b) in _gradient_pairs(SHAPES[0]).items():
        ga, gb = GRAD[name](a, b)
        for g in (ga, gb):
            assert g.shape == SHAPES[0], kind
            assert np.all(np.isfinite(g)), kind
            if kind in ("random", "mixed"):
                assert np.any(g != 0), kind


# ------------------------------------------------------------------------ bad inputs


@pytest.mark.parametrize("name", NAMES)
def test_bad_inputs_raise(name):
    forward = TRANSFORMS[name].forward
    good = np.zeros(SHAPES[1], np.float32)
    for bad in (np.zeros((2, *SHAPES[1]), np.float32), np.zeros(SHAPES[1][:1], np.float32)):
        with pytest.raises(ValueError, match=re.escape(f"got shape {bad.shape}")):
            forward(bad, levels=LEVELS)
    for levels in (0, -1, True, 2.0):
        with pytest.raises(ValueError, match="levels"):
            forward(good, levels=levels)
    with pytest.raises(ValueError, match=re.escape(str(TOO_SMALL))):
        forward(np.zeros(TOO_SMALL, np.float32), levels=LEVELS)
    for dtype in (np.int32, np.uint8):
        with pytest.raises(TypeError, match="float"):
            forward(good.astype(dtype), levels=LEVELS)
    with pytest.raises(TypeError):
        forward(good, LEVELS)  # options are keyword-only
