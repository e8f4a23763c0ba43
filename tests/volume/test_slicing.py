"""jaxfuse.volume.slicing: SPEC section 7's slice layout checked through world coordinates, the
RAS+ reorientation vs nibabel-built LPS/permuted copies of the MNI template, round trips."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import nibabel as nib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mni_phantom import T1, require_mni
from nibabel.orientations import aff2axcodes, apply_orientation, axcodes2ornt, inv_ornt_aff, ornt_transform

from jaxfuse.volume.slicing import AXES, from_canonical, slices_to_volume, to_canonical, volume_to_slices


def stored_as(data, affine, codes):
    """``data``/``affine`` (RAS-stored) re-stored with axis codes ``codes``, using nibabel only."""
    transform = ornt_transform(axcodes2ornt(aff2axcodes(affine)), axcodes2ornt(codes))
    return apply_orientation(data, transform), affine @ inv_ornt_aff(transform, data.shape[:3])


def rotation(degrees, axis):
    c, s = np.cos(np.deg2rad(degrees)), np.sin(np.deg2rad(degrees))
    a, b = [i for i in range(3) if i != axis]
    r = np.eye(4)
    r[a, a], r[a, b], r[b, a], r[b, b] = c, -s, s, c
    return r


def world_volume(shape, affine):
    """``[*shape, 3]``: each voxel's world (RAS mm) position, computed from the affine."""
    index = np.indices(shape).reshape(3, -1)
    world = affine[:3, :3] @ index + affine[:3, 3:]
    return np.moveaxis(world.reshape(3, *shape), 0, -1)


#: SPEC section 7: for each slice axis, which world axis (0 = R, 1 = A, 2 = S) and direction
#: (+1 increasing, -1 decreasing) the slice index, the rows and the columns run along.
LAYOUT = {
    "axial": ((2, +1), (1, -1), (0, -1)),  # slices inferior -> superior, rows A -> P, cols R -> L
    "coronal": ((1, +1), (2, -1), (0, -1)),  # slices P -> A, rows S -> I, cols R -> L
    "sagittal": ((0, +1), (2, -1), (1, -1)),  # slices L -> R, rows S -> I, cols A -> P
}


@pytest.mark.parametrize("codes", [("R", "A", "S"), ("L", "P", "S"), ("P", "I", "R"), ("S", "L", "A"), ("A", "S", "L")])
@pytest.mark.parametrize("oblique", [0.0, 12.0])
def test_slices_run_along_the_spec_directions(codes, oblique):
    """Each pixel carries its world position; along each slice axis the right coordinate must move
    the right way, whatever the storage order, also for a 12-degree oblique grid."""
    base = np.diag([1.2, 0.9, 2.0, 1.0])
    base[:3, 3] = [-5.0, 7.0, 3.0]
    ras_shape = (5, 6, 7)
    data, affine = stored_as(np.zeros(ras_shape), rotation(oblique, 1) @ rotation(oblique / 2, 2) @ base, codes)
    assert aff2axcodes(affine) == codes
    canonical, canonical_affine, _ = to_canonical(world_volume(data.shape, affine), affine)
    assert aff2axcodes(canonical_affine) == ("R", "A", "S")
    np.testing.assert_allclose(canonical, world_volume(canonical.shape[:3], canonical_affine), atol=1e-9)
    for axis, ((n_ax, n_dir), (r_ax, r_dir), (c_ax, c_dir)) in LAYOUT.items():
        slices = volume_to_slices(canonical, axis=axis)
        assert np.all(n_dir * np.diff(slices[..., n_ax], axis=0) > 0), axis
        assert np.all(r_dir * np.diff(slices[..., r_ax], axis=1) > 0), axis
        assert np.all(c_dir * np.diff(slices[..., c_ax], axis=2) > 0), axis


@pytest.mark.parametrize("codes", [("R", "A", "S"), ("L", "P", "S"), ("I", "R", "P")])
def test_corner_markers_land_where_the_spec_says(codes):
    ras_shape = (4, 5, 6)
    ras = np.zeros(ras_shape)
    ras[-1, -1, -1] = 1  # patient right-anterior-superior corner
    ras[0, 0, 0] = 2  # left-posterior-inferior
    ras[-1, -1, 0] = 3  # right-anterior-inferior
    data, affine = stored_as(ras, np.diag([2.0, 2.0, 2.0, 1.0]), codes)
    vol = to_canonical(data, affine)[0]
    axial = volume_to_slices(vol, axis="axial")  # [K, J, I]
    coronal = volume_to_slices(vol, axis="coronal")  # [J, K, I]
    sagittal = volume_to_slices(vol, axis="sagittal")  # [I, K, J]
    assert axial.shape == (6, 5, 4) and coronal.shape == (5, 6, 4) and sagittal.shape == (4, 6, 5)
    # RAS corner: top axial slice, first row (anterior), first column (patient right)
    assert axial[-1, 0, 0] == 1 and coronal[-1, 0, 0] == 1 and sagittal[-1, 0, 0] == 1
    # LPI corner: bottom slice, last row (posterior / inferior), last column (left / posterior)
    assert axial[0, -1, -1] == 2 and coronal[0, -1, -1] == 2 and sagittal[0, -1, -1] == 2
    # RAI: axial bottom slice top-left; coronal front slice bottom-left; sagittal right slice bottom-left
    assert axial[0, 0, 0] == 3 and coronal[-1, -1, 0] == 3 and sagittal[-1, -1, 0] == 3
    assert axial.sum() == coronal.sum() == sagittal.sum() == 6


def test_spec_formulas_literally():
    vol = np.random.default_rng(0).random((4, 5, 6, 3))
    axial, coronal, sagittal = (volume_to_slices(vol, axis=a) for a in ("axial", "coronal", "sagittal"))
    for k in range(6):
        np.testing.assert_array_equal(axial[k], vol[::-1, ::-1, k].transpose(1, 0, 2))
    for j in range(5):
        np.testing.assert_array_equal(coronal[j], vol[::-1, j, ::-1].transpose(1, 0, 2))
    for i in range(4):
        np.testing.assert_array_equal(sagittal[i], vol[i, ::-1, ::-1].transpose(1, 0, 2))
    np.testing.assert_array_equal(volume_to_slices(vol[..., 0], axis="axial")[2], vol[::-1, ::-1, 2, 0].T)


def test_mni_lps_and_permuted_copies_give_identical_canonical_data():
    img = nib.load(require_mni() / T1)  # fails under CI=true when the template is missing
    data = np.asarray(img.dataobj)
    assert aff2axcodes(img.affine) == ("R", "A", "S")
    for codes in [("L", "P", "S"), ("P", "I", "R"), ("S", "R", "A")]:
        stored, affine = stored_as(data, img.affine, codes)
        assert aff2axcodes(affine) == codes
        canonical, canonical_affine, ornt = to_canonical(stored, affine)
        np.testing.assert_array_equal(canonical, data)
        np.testing.assert_allclose(canonical_affine, img.affine, atol=1e-9)
        np.testing.assert_array_equal(from_canonical(canonical, ornt), stored)
        # and nibabel's own as_closest_canonical agrees
        ref = nib.as_closest_canonical(nib.Nifti1Image(stored, affine))
        np.testing.assert_array_equal(np.asarray(ref.dataobj), canonical)


def test_works_on_jax_arrays_and_under_jit():
    vol = np.random.default_rng(1).random((3, 4, 5, 2)).astype(np.float32)
    for axis in AXES:
        ref = volume_to_slices(vol, axis=axis)
        out = volume_to_slices(jnp.asarray(vol), axis=axis)
        assert isinstance(out, jax.Array)
        np.testing.assert_array_equal(out, ref)
        jitted = jax.jit(lambda v, a=axis: slices_to_volume(volume_to_slices(v, axis=a), axis=a))
        np.testing.assert_array_equal(jitted(vol), vol)


shapes = st.tuples(*[st.integers(1, 6)] * 3)


@settings(max_examples=60, deadline=None)
@given(
    shape=shapes, channels=st.sampled_from([None, 1, 3]), axis=st.sampled_from(sorted(AXES)), seed=st.integers(0, 99)
)
def test_slices_round_trip(shape, channels, axis, seed):
    full = shape if channels is None else (*shape, channels)
    vol = np.random.default_rng(seed).integers(0, 1000, full)
    slices = volume_to_slices(vol, axis=axis)
    held = AXES[axis]
    low, high = (a for a in range(3) if a != held)
    assert slices.shape == (shape[held], shape[high], shape[low], *full[3:])
    np.testing.assert_array_equal(slices_to_volume(slices, axis=axis), vol)


@settings(max_examples=60, deadline=None)
@given(
    shape=shapes,
    perm=st.permutations([0, 1, 2]),
    flips=st.tuples(*[st.sampled_from([-1.0, 1.0])] * 3),
    sizes=st.tuples(*[st.floats(0.3, 4.0)] * 3),
    channels=st.sampled_from([None, 3]),
)
def test_orientation_round_trip(shape, perm, flips, sizes, channels):
    affine = np.eye(4)
    affine[:3, :3] = np.eye(3)[:, perm] * np.array(flips)[None, :] * np.array(sizes)[None, :]
    affine[:3, 3] = [10.0, -20.0, 5.0]
    full = shape if channels is None else (*shape, channels)
    data = np.arange(np.prod(full)).reshape(full)
    canonical, canonical_affine, ornt = to_canonical(data, affine)
    assert aff2axcodes(canonical_affine) == ("R", "A", "S")
    assert np.all(np.diag(canonical_affine)[:3] > 0)
    # every voxel keeps its world position
    for index in [(0, 0, 0), tuple(n - 1 for n in canonical.shape[:3])]:
        world = canonical_affine @ np.r_[index, 1.0]
        original = np.linalg.solve(affine, world)[:3]
        np.testing.assert_allclose(original, np.round(original), atol=1e-9)
        np.testing.assert_array_equal(canonical[index], data[tuple(np.round(original).astype(int))])
    np.testing.assert_array_equal(from_canonical(canonical, ornt), data)


def test_errors():
    with pytest.raises(ValueError, match=r"\[I, J, K\] or \[I, J, K, C\].*\(4, 5\)"):
        volume_to_slices(np.zeros((4, 5)), axis="axial")
    with pytest.raises(ValueError, match="axis must be one of axial, coronal, sagittal, got 'transverse'"):
        volume_to_slices(np.zeros((4, 5, 6)), axis="transverse")
    with pytest.raises(ValueError, match="slices must be"):
        slices_to_volume(np.zeros((2, 3, 4, 5, 6)), axis="axial")
    with pytest.raises(ValueError, match=r"affine must be a finite \[4, 4\].*\(3, 3\)"):
        to_canonical(np.zeros((2, 2, 2)), np.eye(3))
    with pytest.raises(ValueError, match="no clear orientation"):
        to_canonical(np.zeros((2, 2, 2)), np.diag([1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="ornt must permute"):
        from_canonical(np.zeros((2, 2, 2)), [[0, 1], [0, 1], [2, 1]])
    with pytest.raises(ValueError, match="ornt must be a finite"):
        from_canonical(np.zeros((2, 2, 2)), np.zeros((4, 2)))
