"""jaxfuse.volume.resample against scipy.ndimage.map_coordinates (order 1, mode "constant") and
nibabel.processing.resample_from_to, plus identity, jit/vmap, gradients, memory and errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from mni_phantom import T1, require_mni
from scipy import ndimage

from jaxfuse.volume.resample import (
    CHUNK_VOXELS,
    _resample,
    field_of_view,
    grid_to_grid,
    resample,
    resample_to,
)


def relative_error(ours, ref) -> float:
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    return float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))


def scipy_resample(array, voxel_map, out_shape):
    """The float64 oracle: map_coordinates at voxel_map @ t for every output index t."""
    m = np.asarray(voxel_map, np.float64)
    d = len(out_shape)
    index = np.indices(out_shape).reshape(d, -1).astype(np.float64)
    coords = m[:d, :d] @ index + m[:d, d:]
    out = ndimage.map_coordinates(np.asarray(array, np.float64), coords, order=1, mode="constant", cval=0.0)
    return out.reshape(out_shape), coords.reshape((d, *out_shape))


def near_edge(coords, shape, tol=1e-4):
    """Output voxels whose source coordinate is within ``tol`` of the field-of-view edge, where a
    float32 rounding of the coordinate may flip scipy's inside/outside decision."""
    mask = np.zeros(coords.shape[1:], bool)
    for x, n in zip(coords, shape):
        mask |= (np.abs(x) < tol) | (np.abs(x - (n - 1)) < tol)
    return mask


def random_map(rng, kind, src_shape, out_shape):
    d = len(src_shape)
    linear = np.eye(d)
    if kind in ("rotation", "oblique"):
        q, r = np.linalg.qr(rng.normal(size=(d, d)))
        linear = q * np.sign(np.diag(r))
    if kind in ("scaling", "oblique"):
        linear = linear @ np.diag(rng.uniform(0.4, 2.2, d))
    if kind == "oblique":
        linear = linear @ (np.eye(d) + np.triu(rng.uniform(-0.3, 0.3, (d, d)), 1))
    # Output centre onto the source centre, moved by up to 30% of the source: partial overlap.
    shift = rng.uniform(-0.3, 0.3, d) * np.array(src_shape)
    if kind == "shift":
        shift += rng.uniform(-0.5, 0.5, d)
    centre_src = (np.array(src_shape) - 1) / 2 + shift
    centre_out = (np.array(out_shape) - 1) / 2
    m = np.eye(d + 1)
    m[:d, :d] = linear
    m[:d, d] = centre_src - linear @ centre_out
    return m.astype(np.float32)


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("kind", ["rotation", "scaling", "shift", "oblique"])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_scipy_map_coordinates(d, kind, seed):
    rng = np.random.default_rng(100 * seed + 10 * d + len(kind))
    src_shape = tuple(rng.integers(9, 40 if d == 2 else 19, d))
    out_shape = tuple(rng.integers(9, 40 if d == 2 else 19, d))
    array = (rng.random(src_shape) * 100 - 20).astype(np.float32)
    m = random_map(rng, kind, src_shape, out_shape)
    ref, coords = scipy_resample(array, m, out_shape)
    ours = np.asarray(resample(array, m, out_shape=out_shape))
    assert ours.shape == out_shape and ours.dtype == np.float32
    ambiguous = near_edge(coords, src_shape)
    assert ambiguous.mean() < 1e-3
    assert 0.05 < (ref != 0).mean() < 1.0 or kind == "scaling"  # both inside and outside are exercised
    assert relative_error(ours[~ambiguous], ref[~ambiguous]) <= 1e-4
    fov = np.asarray(field_of_view(src_shape, m, out_shape=out_shape))
    inside = np.all([(x >= 0) & (x <= n - 1) for x, n in zip(coords, src_shape)], axis=0)
    np.testing.assert_array_equal(fov[~ambiguous], inside[~ambiguous])


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_field_of_view_edges_follow_scipy_constant_mode(axis):
    """Coordinates -1, -0.75, ..., n - 1 + 0.75 exactly (float32-exact map): 0 outside [0, n - 1],
    including the outer half of the edge voxels, as scipy's "constant" mode does."""
    src_shape = (5, 6, 7)
    n = src_shape[axis]
    out_shape = [3, 3, 3]
    out_shape[axis] = 4 * (n + 1) + 1  # x = 0.25 t - 1 runs from -1 to n
    m = np.eye(4, dtype=np.float32)
    m[axis, axis] = 0.25
    m[axis, 3] = -1.0
    for a in range(3):
        if a != axis:
            m[a, 3] = 1.0
    array = np.random.default_rng(axis).uniform(1, 2, src_shape).astype(np.float32)
    ours = np.moveaxis(np.asarray(resample(array, m, out_shape=tuple(out_shape))), axis, 0)[:, 0, 0]
    ref = np.moveaxis(scipy_resample(array, m, tuple(out_shape))[0], axis, 0)[:, 0, 0]
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=0)
    x = 0.25 * np.arange(out_shape[axis]) - 1
    assert np.all(ours[(x < 0) | (x > n - 1)] == 0)  # -1 .. -0.25 and n - 0.75 .. n
    assert np.all(ours[(x >= 0) & (x <= n - 1)] > 0)  # 0 and n - 1 themselves are inside
    # jax.scipy's "constant" mode blends towards cval at -0.25 instead; we must not.
    jax_value = jax.scipy.ndimage.map_coordinates(jnp.asarray(array), [jnp.full(1, 1.0)] * 3, order=1, mode="constant")
    assert jax_value.shape == (1,)
    idx = [1, 1, 1]
    idx[axis] = -0.25
    blended = jax.scipy.ndimage.map_coordinates(
        jnp.asarray(array), [jnp.full(1, v) for v in idx], order=1, mode="constant"
    )
    assert float(blended[0]) > 0 and ours[3] == 0


def test_matches_nibabel_resample_from_to_on_mni():
    import nibabel as nib  # a runtime dependency
    from nibabel.processing import resample_from_to

    img = nib.load(require_mni() / T1)  # fails under CI=true when the template is missing
    data = np.asarray(img.dataobj, dtype=np.float32)[::2, ::2, ::2]  # 2 mm source, for speed
    source = nib.Nifti1Image(data, img.affine @ np.diag([2.0, 2.0, 2.0, 1.0]))
    angles = np.deg2rad([12.0, -8.0, 20.0])
    c, s = np.cos(angles), np.sin(angles)
    rx = np.array([[1, 0, 0], [0, c[0], -s[0]], [0, s[0], c[0]]])
    ry = np.array([[c[1], 0, s[1]], [0, 1, 0], [-s[1], 0, c[1]]])
    rz = np.array([[c[2], -s[2], 0], [s[2], c[2], 0], [0, 0, 1]])
    shape = (60, 72, 56)
    target = np.eye(4)
    target[:3, :3] = rz @ ry @ rx * 2.5  # oblique 2.5 mm grid
    centre = (source.affine @ np.r_[(np.array(data.shape) - 1) / 2, 1])[:3] - [0, 0, 45]  # past the bottom
    target[:3, 3] = centre - target[:3, :3] @ ((np.array(shape) - 1) / 2)
    ref = resample_from_to(source, (shape, target), order=1).get_fdata()
    ours = np.asarray(resample_to(data, source_affine=source.affine, target_affine=target, out_shape=shape))
    voxel_map = grid_to_grid(source.affine, target)
    coords = scipy_resample(np.zeros((2, 2, 2)), voxel_map, shape)[1]
    ambiguous = near_edge(coords, data.shape)
    assert ambiguous.mean() < 1e-3
    fov = np.asarray(field_of_view(data.shape, voxel_map, out_shape=shape))
    assert 0.3 < fov.mean() < 0.9  # the grid leaves the source's field of view
    assert relative_error(ours[~ambiguous], ref[~ambiguous]) <= 1e-4


def test_grid_to_grid_is_target_to_source_through_world():
    rng = np.random.default_rng(3)
    source, target = np.eye(4), np.eye(4)
    source[:3] = rng.normal(size=(3, 4))
    target[:3] = rng.normal(size=(3, 4))
    m = grid_to_grid(source, target)
    assert m.dtype == np.float64 and m.shape == (4, 4)
    t = np.r_[rng.normal(size=3), 1.0]
    np.testing.assert_allclose(source @ (m @ t), target @ t, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(m, np.linalg.inv(source) @ target, rtol=1e-12, atol=1e-12)
    array = rng.random((6, 7, 8)).astype(np.float32)
    target_vox = np.diag([0.7, 0.9, 1.1, 1.0])
    target_vox[:3, 3] = [0.5, -0.5, 1.0]
    np.testing.assert_array_equal(
        resample_to(array, source_affine=np.eye(4), target_affine=target_vox, out_shape=(5, 5, 5)),
        resample(array, target_vox, out_shape=(5, 5, 5)),
    )


@pytest.mark.parametrize("shape", [(7, 9), (5, 6, 7)])
def test_identity_and_integer_shift(shape):
    array = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    d = len(shape)
    np.testing.assert_array_equal(resample(array, np.eye(d + 1), out_shape=shape), array)
    shift = np.eye(d + 1)
    shift[:d, d] = 2  # out[t] = array[t + 2]
    expected = np.zeros(shape, np.float32)
    expected[(slice(0, -2),) * d] = array[(slice(2, None),) * d]
    np.testing.assert_array_equal(resample(array, shift, out_shape=shape), expected)


def test_integer_and_float64_inputs():
    array = np.arange(24, dtype=np.uint8).reshape(4, 6)
    out = resample(array, np.eye(3), out_shape=(4, 6))
    assert out.dtype == jnp.float32
    np.testing.assert_array_equal(out, array)
    rng = np.random.default_rng(2)
    a64 = rng.random((9, 8, 7))
    m = random_map(rng, "oblique", (9, 8, 7), (6, 6, 6)).astype(np.float64)
    with jax.enable_x64(True):
        out = resample(a64, m, out_shape=(6, 6, 6))
        assert out.dtype == jnp.float64
        ref, coords = scipy_resample(a64, m, (6, 6, 6))
        keep = ~near_edge(coords, a64.shape, tol=1e-12)
        assert relative_error(np.asarray(out)[keep], ref[keep]) <= 1e-12


def test_chunked_equals_unchunked_and_eager():
    rng = np.random.default_rng(4)
    array = rng.random((12, 10, 9)).astype(np.float32)
    out_shape = (12, 8, 7)
    m = random_map(rng, "oblique", array.shape, out_shape)
    whole = resample(array, m, out_shape=out_shape)
    # one slice per step; batches of 4 slices (the largest divisor of 12 that is <= 300 // 56)
    for chunk in (1, 300):
        chunked = resample(array, m, out_shape=out_shape, chunk_voxels=chunk)
        np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-6)  # XLA may fuse differently
    with jax.disable_jit():
        eager = resample(array, m, out_shape=out_shape)
    np.testing.assert_allclose(eager, whole, rtol=1e-6, atol=1e-6)
    outer = jax.jit(lambda a, v: resample(a, v, out_shape=out_shape))
    np.testing.assert_array_equal(outer(array, m), whole)


def test_second_call_does_not_recompile():
    rng = np.random.default_rng(5)
    a, b = rng.random((2, 8, 8, 8)).astype(np.float32)
    m = np.eye(4, dtype=np.float32)
    resample(a, m, out_shape=(6, 6, 6))
    before = _resample._cache_size()
    resample(b, m * 1.0, out_shape=[6, 6, 6])  # other values, out_shape as a list
    assert _resample._cache_size() == before


def test_vmap_equals_loop():
    rng = np.random.default_rng(6)
    arrays = rng.random((3, 10, 9, 8)).astype(np.float32)
    maps = np.stack([random_map(rng, "oblique", (10, 9, 8), (7, 6, 5)) for _ in range(3)])
    f = lambda a, v: resample(a, v, out_shape=(7, 6, 5))
    loop = np.stack([f(a, v) for a, v in zip(arrays, maps)])
    np.testing.assert_allclose(jax.vmap(f)(arrays, maps), loop, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        jax.vmap(f, in_axes=(0, None))(arrays, maps[0]), np.stack([f(a, maps[0]) for a in arrays]), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        jax.vmap(f, in_axes=(None, 0))(arrays[0], maps), np.stack([f(arrays[0], v) for v in maps]), rtol=1e-6, atol=1e-6
    )
    chunked = lambda a, v: resample(a, v, out_shape=(7, 6, 5), chunk_voxels=30)
    np.testing.assert_allclose(jax.vmap(chunked)(arrays, maps), loop, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("src_shape, out_shape", [((5, 6), (4, 5)), ((4, 3, 5), (3, 4, 3))])
def test_jacobian_wrt_array_is_scipy_interpolation_matrix(src_shape, out_shape):
    """The array Jacobian, column by column, is scipy's map_coordinates of each unit image."""
    rng = np.random.default_rng(7)
    m = random_map(rng, "oblique", src_shape, out_shape)
    size = int(np.prod(src_shape))
    columns = [scipy_resample(np.eye(size)[j].reshape(src_shape), m, out_shape)[0].ravel() for j in range(size)]
    expected = np.stack(columns, axis=1)
    for chunk in (CHUNK_VOXELS, 4):  # one vmap; one slice at a time
        jac = jax.jit(jax.jacobian(lambda a, c=chunk: resample(a, m, out_shape=out_shape, chunk_voxels=c)))
        np.testing.assert_allclose(np.asarray(jac(jnp.zeros(src_shape))).reshape(expected.shape), expected, atol=2e-6)


@pytest.mark.parametrize("chunk", [CHUNK_VOXELS, 40])
def test_gradient_wrt_voxel_map_matches_scipy_finite_differences(chunk):
    rng = np.random.default_rng(8)
    src_shape, out_shape = (14, 13, 12), (8, 7, 6)
    smooth = ndimage.gaussian_filter(rng.random(src_shape), 1.5) * 10
    weights = rng.normal(size=out_shape)
    m = np.eye(4)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    m[:3, :3] = q * 0.9
    m[:3, 3] = (np.array(src_shape) - 1) / 2 - m[:3, :3] @ ((np.array(out_shape) - 1) / 2)
    coords = scipy_resample(smooth, m, out_shape)[1]
    assert all(x.min() > 1 and x.max() < n - 2 for x, n in zip(coords, src_shape))  # FOV edge not crossed

    def scipy_loss(mat):
        return float(np.sum(weights * scipy_resample(smooth, mat, out_shape)[0]))

    h = 1e-6
    fd = np.zeros((4, 4))
    for i in range(3):
        for j in range(4):
            e = np.zeros((4, 4))
            e[i, j] = h
            fd[i, j] = (scipy_loss(m + e) - scipy_loss(m - e)) / (2 * h)

    def loss(mat, a, w):
        return jnp.sum(w * resample(a, mat, out_shape=out_shape, chunk_voxels=chunk))

    with jax.enable_x64(True):
        g64 = np.asarray(jax.grad(loss)(jnp.asarray(m), jnp.asarray(smooth), jnp.asarray(weights)))
    np.testing.assert_allclose(g64, fd, rtol=1e-5, atol=1e-5 * np.abs(fd).max())
    g32 = np.asarray(
        jax.jit(jax.grad(loss))(m.astype(np.float32), smooth.astype(np.float32), weights.astype(np.float32))
    )
    assert np.all(np.isfinite(g32))
    np.testing.assert_allclose(g32, fd, rtol=2e-3, atol=2e-3 * np.abs(fd).max())
    assert np.all(g32[3] == 0)


def test_gradients_finite_at_integer_points_and_outside():
    """Identity map (every sample on a voxel centre), points on and beyond the FOV edge."""
    rng = np.random.default_rng(9)
    array = jnp.asarray(rng.random((6, 7, 8)), jnp.float32)
    shifted = np.eye(4, dtype=np.float32)
    shifted[:3, 3] = [-2.0, 0.0, 3.0]
    far = np.eye(4, dtype=np.float32)
    far[:3, 3] = 50.0  # entirely outside: zero output, zero (not NaN) gradient
    grads = jax.jit(jax.grad(lambda a, v: jnp.sum(resample(a, v, out_shape=(9, 9, 9)) ** 2), argnums=(0, 1)))
    for m in (np.eye(4, dtype=np.float32), shifted, far):
        ga, gm = grads(array, m)
        assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gm))
    np.testing.assert_array_equal(gm, np.zeros((4, 4)))
    np.testing.assert_array_equal(ga, np.zeros(array.shape))


def test_memory_is_bounded_for_a_large_output():
    """512x512x400 float32 output (400 MiB): compiled temporaries well under one output buffer."""
    src = jax.ShapeDtypeStruct((256, 256, 200), jnp.float32)
    mat = jax.ShapeDtypeStruct((4, 4), jnp.float32)
    for out_shape in [(512, 512, 400), (509, 512, 400)]:  # 509 is prime: batches of one slice
        analysis = _resample.lower(src, mat, out_shape, False, CHUNK_VOXELS).compile().memory_analysis()
        if analysis is None:
            pytest.skip("this backend reports no memory analysis")
        out_bytes = 4 * int(np.prod(out_shape))
        assert analysis.output_size_in_bytes == out_bytes
        assert analysis.temp_size_in_bytes < 0.25 * out_bytes, analysis


def test_bad_inputs_raise_with_shapes():
    a2, a3 = np.zeros((4, 5)), np.zeros((4, 5, 6))
    with pytest.raises(ValueError, match=r"2-D or 3-D.*\(4,\)"):
        resample(np.zeros(4), np.eye(2), out_shape=(4,))
    with pytest.raises(ValueError, match=r"2-D or 3-D.*\(2, 3, 4, 5\)"):
        resample(np.zeros((2, 3, 4, 5)), np.eye(5), out_shape=(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"\[3, 3\].*\(4, 5\).*\(4, 4\)"):
        resample(a2, np.eye(4), out_shape=(4, 5))
    with pytest.raises(ValueError, match=r"\[4, 4\].*\(4, 5, 6\).*\(3, 4\)"):
        resample(a3, np.eye(4)[:3], out_shape=(4, 5, 6))
    with pytest.raises(ValueError, match="out_shape must be 3 positive ints"):
        resample(a3, np.eye(4), out_shape=(4, 5))
    with pytest.raises(ValueError, match="out_shape must be 3 positive ints"):
        resample(a3, np.eye(4), out_shape=(4, 0, 6))
    with pytest.raises(ValueError, match="out_shape must be a sequence of ints"):
        resample(a3, np.eye(4), out_shape=(4, 5.0, 6))
    bad = np.eye(4)
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        resample(a3, bad, out_shape=(4, 5, 6))
    bad = np.eye(4)
    bad[3, 0] = 1
    with pytest.raises(ValueError, match="last row"):
        resample(a3, bad, out_shape=(4, 5, 6))
    with pytest.raises(ValueError, match="real"):
        resample(a2.astype(complex), np.eye(3), out_shape=(4, 5))
    with pytest.raises(ValueError, match="chunk_voxels"):
        resample(a2, np.eye(3), out_shape=(4, 5), chunk_voxels=0)
    with pytest.raises(ValueError, match=r"source \(4, 4\) and target \(3, 3\)"):
        grid_to_grid(np.eye(4), np.eye(3))
    with pytest.raises(ValueError, match="singular"):
        grid_to_grid(np.diag([1.0, 0.0, 1.0, 1.0]), np.eye(4))
    with pytest.raises(ValueError, match="source_shape"):
        field_of_view((4,), np.eye(2), out_shape=(4,))
