"""Curvelet transform (wrapping, Candes et al. 2006): tight frame, adjoint, directions, layout.

Reconstruction, jit/vmap, compile-once, fusion identity, gradients and the generic bad inputs:
test_contract.py.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxfuse.multiscale.curvelet import CURVELET, CurveletCoefficients, curvelet_transform, inverse_curvelet_transform
from jaxfuse.multiscale.rule import fuse_coefficients

# One compiled forward/inverse per (shape, dtype), shared by all tests.
forward = jax.jit(curvelet_transform, static_argnames=("levels", "angles"))
inverse = jax.jit(inverse_curvelet_transform)

SHAPES = [(256, 256), (128, 96)]


def _image(shape, dtype=np.float32, seed=0):
    return jnp.asarray(np.random.default_rng(seed).random(shape), dtype)


def _energy(coeffs):
    """sum |c|**2 over every band, accumulated in float64 by NumPy."""
    return sum(float(np.sum(np.abs(np.asarray(leaf)) ** 2)) for leaf in jax.tree.leaves(coeffs))


def test_dtypes_real_bands_complex_wedges():
    for real, complex_ in ((jnp.float32, jnp.complex64), (jnp.float64, jnp.complex128)):
        with jax.enable_x64(real == jnp.float64):
            c = jax.eval_shape(curvelet_transform, jax.ShapeDtypeStruct(SHAPES[1], real))
            assert c.coarse.dtype == c.fine.dtype == real
            assert all(w.dtype == complex_ for scale in c.detail for w in scale)
            assert jax.eval_shape(inverse_curvelet_transform, c).dtype == real


@pytest.mark.parametrize("shape", SHAPES)
def test_tight_frame_energy_float64(shape):
    with jax.enable_x64(True):
        x = _image(shape, np.float64)
        c = forward(x)
        assert all(w.dtype == jnp.complex128 for scale in c.detail for w in scale)
        assert abs(_energy(c) / float(jnp.sum(x**2)) - 1) <= 1e-10


@pytest.mark.parametrize("shape", SHAPES)
def test_tight_frame_energy(shape):
    x = _image(shape, seed=1) - 0.5
    assert abs(_energy(forward(x)) / float(jnp.sum(x**2)) - 1) <= 1e-5


def _random_like(coeffs, rng):
    def draw(leaf):
        z = rng.standard_normal(leaf.shape)
        if jnp.iscomplexobj(leaf):
            z = z + 1j * rng.standard_normal(leaf.shape)
        return jnp.asarray(z, leaf.dtype)
    return jax.tree.map(draw, coeffs)


def test_inverse_is_adjoint():
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.standard_normal((128, 96)), jnp.float32)
    tx = forward(x)
    c = _random_like(tx, rng)
    # Real inner products: <Tx, c> = Re sum conj(Tx) c over all bands, <x, T*c> = sum x T*c.
    lhs = sum(float(jnp.sum(jnp.real(jnp.conj(a) * b)))
              for a, b in zip(jax.tree.leaves(tx), jax.tree.leaves(c)))
    rhs = float(jnp.sum(x * inverse(c)))
    assert lhs == pytest.approx(rhs, rel=1e-4)
    # JAX's VJP is the plain transpose of the linear map; the adjoint is the VJP of conj(c).
    adjoint = jax.jit(lambda x, c: jax.vjp(curvelet_transform, x)[1](c)[0])
    via_vjp = adjoint(x, jax.tree.map(jnp.conj, c))
    np.testing.assert_allclose(via_vjp, inverse(c), atol=1e-5 * float(jnp.abs(via_vjp).max()))


@pytest.mark.parametrize("theta", [0.0, math.pi / 6, 3 * math.pi / 8, 2.0])
def test_directional_selectivity(theta):
    n = 256
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    hann = np.outer(np.hanning(n), np.hanning(n))  # no leakage from the image border
    grating = hann * np.cos(2 * np.pi * 0.15 * (xx * np.cos(theta) + yy * np.sin(theta)))
    c = forward(jnp.asarray(grating, jnp.float32))
    total = _energy(c)
    matched, best = 0.0, (-1.0, None)
    for s, scale in enumerate(c.detail):
        spacing = 2 * math.pi / c.layout.wedge_counts[s]
        for wedge, angle in zip(scale, c.layout.wedge_angles[s]):
            e = float(jnp.sum(jnp.abs(wedge) ** 2))
            distance = abs((angle - theta + math.pi / 2) % math.pi - math.pi / 2)  # mod pi
            if distance <= spacing:
                matched += e
            best = max(best, (e, distance / spacing))
    assert matched / total > 0.9
    assert best[1] <= 1.0  # the strongest wedge points along the grating's wave vector


def test_angles_per_scale():
    image = jax.ShapeDtypeStruct((256, 256), jnp.float32)
    c = jax.eval_shape(functools.partial(curvelet_transform, levels=4, angles=16), image)
    assert c.layout.wedge_counts == (16, 32, 32)
    c = jax.eval_shape(functools.partial(curvelet_transform, levels=5, angles=8), image)
    assert c.layout.wedge_counts == (8, 16, 16, 32)  # doubling every other scale
    assert c.fine.shape == (256, 256)
    for s, count in enumerate(c.layout.wedge_counts):
        angles = np.asarray(c.layout.wedge_angles[s])
        assert len(c.detail[s]) == len(angles) == count
        assert np.all(np.diff(angles) > 0) and angles[0] >= 0 and angles[-1] < 2 * math.pi
        # Wedges come in opposite pairs (theta, theta + pi), a quarter of them per side.
        np.testing.assert_allclose(np.sort((angles + math.pi) % (2 * math.pi)), angles,
                                   atol=1e-12)
        assert np.sum(np.abs(np.cos(angles)) > np.abs(np.sin(angles))) == count // 2
        assert [w.shape for w in c.detail[s]] == list(c.layout.wedge_shapes[s])


def test_fusion_rule_on_coefficients():
    # Zero image vs textured image: the coarse band is averaged, every wedge and the finest
    # band keep the textured image's coefficient (the larger |c|, complex magnitude).
    x = _image((128, 96), seed=6)
    c_x, c_0 = forward(x), forward(jnp.zeros_like(x))
    fused = fuse_coefficients(c_0, c_x, transform=CURVELET)
    assert isinstance(fused, CurveletCoefficients) and fused.layout == c_x.layout
    np.testing.assert_allclose(fused.coarse, c_x.coarse / 2, atol=1e-6)
    for a, b in zip(jax.tree.leaves((fused.detail, fused.fine)),
                    jax.tree.leaves((c_x.detail, c_x.fine))):
        np.testing.assert_array_equal(a, b)


def test_errors():
    with pytest.raises(ValueError, match="angles"):
        curvelet_transform(jnp.zeros((64, 64)), angles=10)
    c = jax.eval_shape(curvelet_transform, jax.ShapeDtypeStruct((64, 64), jnp.float32))
    bad = CurveletCoefficients(coarse=jax.ShapeDtypeStruct((3, 3), jnp.float32),
                               detail=c.detail, fine=c.fine, layout=c.layout)
    with pytest.raises(ValueError, match="layout"):
        jax.eval_shape(inverse_curvelet_transform, bad)
