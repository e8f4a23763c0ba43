"""Rigid parametrisation, Gaussian pyramid and moments against SciPy / NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage as ndi
from phantoms import displacement_mm, rigid
from scipy.spatial.transform import Rotation

from jaxfuse.registration import (
    centre_of_mass,
    displacement,
    gaussian_blur,
    gaussian_pyramid,
    rigid_matrix,
    rigid_parameters,
    rms_radius,
    rotation_matrix,
)
from jaxfuse.registration.rigid import scale_parameters, unscale_parameters


def test_rotation_matrix_matches_scipy_extrinsic_xyz():
    rng = np.random.default_rng(0)
    angles = rng.uniform(-0.5, 0.5, (10, 3))
    got = np.asarray(rotation_matrix(jnp.asarray(angles, jnp.float32)))
    want = Rotation.from_euler("xyz", angles).as_matrix()  # extrinsic x, then y, then z: Rz Ry Rx
    np.testing.assert_allclose(got, want, atol=1e-6)
    a = np.asarray(rotation_matrix(jnp.array([[0.3]])))[0]
    np.testing.assert_allclose(a, [[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]], atol=1e-7)


@pytest.mark.parametrize("d", [2, 3])
def test_rigid_matrix_matches_independent_construction_and_round_trips(d):
    rng = np.random.default_rng(d)
    for _ in range(5):
        deg = rng.uniform(-10, 10, 1 if d == 2 else 3)
        t = rng.uniform(-10, 10, d)
        c = rng.uniform(-50, 50, d)
        want = rigid(deg, t, c)
        params = np.concatenate([np.deg2rad(deg), t])
        got = np.asarray(rigid_matrix(jnp.asarray(params, jnp.float32), jnp.asarray(c, jnp.float32)))
        np.testing.assert_allclose(got, want, atol=2e-4)
        np.testing.assert_allclose(rigid_parameters(want, c), params, atol=1e-9)
        # the centre moves by exactly t
        np.testing.assert_allclose(want[:d, :d] @ c + want[:d, d], c + t, atol=1e-9)


def test_rigid_matrix_batches_and_scaling_round_trips():
    p = jnp.asarray(np.random.default_rng(1).normal(size=(4, 6)), jnp.float32)
    m = rigid_matrix(p, jnp.zeros(3))
    assert m.shape == (4, 4, 4)
    np.testing.assert_allclose(np.asarray(m[2]), np.asarray(rigid_matrix(p[2], jnp.zeros(3))), atol=1e-6)
    s = scale_parameters(p, 80.0)
    np.testing.assert_allclose(np.asarray(s[:, :3]), np.asarray(p[:, :3]) * 80.0, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(unscale_parameters(s, 80.0)), np.asarray(p), rtol=1e-6)
    g = jax.grad(lambda q: rigid_matrix(q, jnp.ones(3)).sum())(p[0])
    assert np.all(np.isfinite(np.asarray(g)))


def test_displacement_matches_numpy():
    rng = np.random.default_rng(2)
    a, b = rigid([3, -2, 1], [1, 2, 3], [0, 0, 0]), rigid([0, 1, 0], [0, 0, 1], [5, 5, 5])
    pts = rng.uniform(-80, 80, (100, 3))
    np.testing.assert_allclose(np.asarray(displacement(a, b, pts)), displacement_mm(a, b, pts), rtol=1e-5)


def test_bad_parameter_shapes_raise():
    with pytest.raises(ValueError, match="end in 3"):
        rigid_matrix(jnp.zeros(4), jnp.zeros(2))
    with pytest.raises(ValueError, match="centre"):
        rigid_matrix(jnp.zeros(6), jnp.zeros(2))
    with pytest.raises(ValueError, match="3x3 or 4x4"):
        rigid_parameters(np.eye(5), np.zeros(4))


@pytest.mark.parametrize("sigma", [1.0, 1.5])
def test_gaussian_blur_matches_scipy(sigma):
    x = np.random.default_rng(3).random((20, 17, 11))
    got = np.asarray(gaussian_blur(jnp.asarray(x, jnp.float32), sigma=sigma))
    want = ndi.gaussian_filter(x, sigma, mode="nearest", truncate=3.0)
    np.testing.assert_allclose(got, want, atol=2e-6)


def test_pyramid_levels_and_affines():
    rng = np.random.default_rng(4)
    x = rng.random((33, 40))
    a = np.array([[0.9, 0.1, 5.0], [-0.1, 1.1, -3.0], [0, 0, 1]])
    levels = gaussian_pyramid(jnp.asarray(x, jnp.float32), a, levels=3)
    assert [lv[0].shape for lv in levels] == [(33, 40), (17, 20), (9, 10)]
    np.testing.assert_allclose(
        np.asarray(levels[1][0]), ndi.gaussian_filter(x, 1.0, mode="nearest", truncate=3.0)[::2, ::2], atol=2e-6
    )
    # level-1 voxel k is level-0 voxel 2k: same world point
    k = np.array([3.0, 7.0, 1.0])
    np.testing.assert_allclose(np.asarray(levels[1][1]) @ k, a @ (k * [2, 2, 1]), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(levels[2][1]) @ k, a @ (k * [4, 4, 1]), rtol=1e-6)
    with pytest.raises(ValueError, match="too small"):
        gaussian_pyramid(jnp.zeros((10, 10)), np.eye(3), levels=3)
    with pytest.raises(ValueError, match="affine"):
        gaussian_pyramid(jnp.zeros((40, 40)), np.eye(4), levels=2)


def test_centre_of_mass_and_radius_match_scipy():
    rng = np.random.default_rng(5)
    x = ndi.gaussian_filter(rng.random((30, 24, 20)), 2) ** 4
    a = np.diag([2.0, 2.5, 3.0, 1.0])
    a[:3, 3] = [-10.0, 4.0, 7.0]
    w = np.maximum(x - 0.1 * x.max(), 0)
    want = a[:3, :3] @ np.array(ndi.center_of_mass(w)) + a[:3, 3]
    got = np.asarray(centre_of_mass(jnp.asarray(x, jnp.float32), a))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    pts = (a[:3, :3] @ np.indices(x.shape).reshape(3, -1) + a[:3, 3:]).T
    r_want = np.sqrt(np.sum(w.ravel() * np.sum((pts - want) ** 2, 1)) / w.sum())
    np.testing.assert_allclose(float(rms_radius(jnp.asarray(x, jnp.float32), a, got)), r_want, rtol=1e-4)
    # no positive voxel: the geometric centre
    np.testing.assert_allclose(np.asarray(centre_of_mass(jnp.zeros((5, 7)), np.eye(3))), [2.0, 3.0], atol=1e-6)


@pytest.mark.parametrize("d", [2, 3])
def test_sample_points_match_scipy_map_coordinates(d):
    from jaxfuse.registration import _warp

    rng = np.random.default_rng(10 + d)
    shape = (17, 13) if d == 2 else (9, 11, 7)
    array = rng.random(shape)
    points = rng.uniform(-1.5, np.array(shape) + 0.5, (500, d))
    points[:d] = np.array(shape) - 1  # exactly on the far edge: inside
    points[d : 2 * d] = 0.0
    want = ndi.map_coordinates(array, points.T, order=1, mode="constant", cval=0.0)
    got = np.asarray(_warp.sample_points(jnp.asarray(array, jnp.float32), jnp.asarray(points, jnp.float32)))
    np.testing.assert_allclose(got, want, atol=2e-6)
    inside = np.all((points >= 0) & (points <= np.array(shape) - 1), axis=1)
    np.testing.assert_array_equal(np.asarray(_warp.points_inside(jnp.asarray(points), shape)), inside.astype(float))


def test_jittered_sample_points_are_deterministic_inside_their_cells():
    from jaxfuse.registration import register as register_module

    shape = (256, 256)
    lattice = np.asarray(register_module._sample_points(shape, 16384, 0.0, jnp.float32))
    assert lattice.shape == (16384, 2)
    np.testing.assert_array_equal(lattice % 2, np.zeros_like(lattice))  # stride 2, offset 0
    jittered = np.asarray(register_module._sample_points(shape, 16384, 1.0, jnp.float32))
    points = jax.jit(register_module._sample_points, static_argnums=(0, 1, 2, 3))
    again = np.asarray(points(shape, 16384, 1.0, jnp.float32))
    np.testing.assert_array_equal(jittered, again)
    offset = jittered - lattice
    assert np.all(offset >= -1.0) and np.all(offset < 1.0)  # within half a stride
    assert np.all(jittered >= 0) and np.all(jittered <= 255)
    frac = jittered % 1.0
    assert 0.4 < frac.mean() < 0.6 and frac.std() > 0.25  # sub-pixel positions spread out, not on centres
