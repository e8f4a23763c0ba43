"""Tests for :func:`jaxfuse.volume.fuse.fuse_volumes` (SPEC section 7) on real anatomy.

The MRI is the MNI152 T1 template block-averaged to 2 mm (98 x 116 x 94; 4 mm for the every-method
test), the PET an FDG-like simulation from the template's gray/white-matter maps on its own oblique
2.5 x 2.5 x 3 mm grid, written as int16 with ``scl_slope`` (tests/mni_phantom.py). Oracles are
independent of the code under test: SciPy's ``map_coordinates`` for the resampling, ``np.percentile``
for the windows, world coordinates (not array formulas) for the slice layout, and ``jaxfuse.fuse``
on one slice for the batching.
"""

from __future__ import annotations

import jax.numpy as jnp
import nibabel as nib
import numpy as np
import pytest
from mni_phantom import mni, reoriented, save_float, save_int16, simulate_pet
from scipy import ndimage

import jaxfuse
from jaxfuse.io import Volume, read_volume
from jaxfuse.io.images import ImageError
from jaxfuse.methods import METHODS, batch_fuser
from jaxfuse.volume.batches import chunk_starts, kernel_inputs, slice_fuser, slice_layout
from jaxfuse.volume.colormap import colormap_table
from jaxfuse.volume.fuse import FusedVolume, fuse_volumes
from jaxfuse.volume.slicing import volume_to_slices

BATCH = 32  # 94 axial slices: calls at 0, 32 and 62 (the last overlapping the one before)


class Recorder:
    """A fuser that records the slices the kernel receives and passes them to ``inner``."""

    def __init__(self, inner=None):
        self.inner = inner if inner is not None else batch_fuser("vgg19")
        self.mri, self.pet = [], []

    def __call__(self, mri, pet):
        self.mri.append(np.asarray(mri))
        self.pet.append(np.asarray(pet))
        return self.inner(mri, pet)

    def inputs(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The inputs of slices ``0 .. count - 1``, put together from the (same-sized) calls."""
        starts = chunk_starts(count, len(self.mri[0]))
        assert len(starts) == len(self.mri)
        mri = np.empty((count,) + self.mri[0].shape[1:], self.mri[0].dtype)
        pet = np.empty((count,) + self.pet[0].shape[1:], self.pet[0].dtype)
        for start, m, p in zip(starts, self.mri, self.pet):
            mri[start : start + len(m)], pet[start : start + len(p)] = m, p
        return mri, pet


def gray_echo(mri, pet):
    """A stand-in kernel: the MRI input as a gray RGB image (so the output shows where inputs went)."""
    return jnp.repeat(jnp.round(255 * mri).astype(jnp.uint8)[..., None], 3, axis=-1)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """``(mri_path, pet_path)`` 2 mm RAS MRI (float32) and int16 oblique PET, plus the arrays."""
    t1, gm, wm, affine = mni(2)
    pet, pet_affine = simulate_pet(gm, wm, affine)
    folder = tmp_path_factory.mktemp("pair")
    return {
        "mri": save_float(folder / "t1.nii.gz", t1, affine),
        "pet": save_int16(folder / "pet.nii.gz", pet, pet_affine),
        "folder": folder,
    }


@pytest.fixture(scope="module")
def fused_ras(pair):
    recorder = Recorder()
    result = fuse_volumes(pair["mri"], pair["pet"], batch_slices=BATCH, fuser=recorder)
    return result, recorder


@pytest.fixture(scope="module")
def fused_plain(pair, fused_ras):
    """The same fusion through ``method="vgg19"`` (no recorder); equal to ``fused_ras`` byte for byte."""
    result = fuse_volumes(pair["mri"], pair["pet"], batch_slices=BATCH)
    np.testing.assert_array_equal(result.rgb, fused_ras[0].rgb)
    return result


def _pet_oracle(mri_path, pet_path):
    """float64 PET on the MRI's voxel grid (SciPy, order 1) and the field-of-view hull mask."""
    mri, pet = nib.load(mri_path), nib.load(pet_path)
    grid = np.linalg.inv(pet.affine) @ mri.affine
    index = np.indices(mri.shape, dtype=np.float64).reshape(3, -1)
    coords = grid[:3, :3] @ index + grid[:3, 3:]
    values = ndimage.map_coordinates(pet.get_fdata(), coords, order=1, mode="constant", cval=0.0)
    inside = np.all((coords >= 0) & (coords <= np.asarray(pet.shape)[:, None] - 1), axis=0)
    return values.reshape(mri.shape), inside.reshape(mri.shape)


def _axial_stack(volume):
    """SPEC section 7's axial slices of a canonical (RAS) volume: ``vol[::-1, ::-1, k].T`` for each k."""
    return np.stack([volume[::-1, ::-1, k].T for k in range(volume.shape[2])])


# --------------------------------------------------------------------------- geometry and values


def test_output_is_on_the_mri_grid_and_kernel_inputs_match_the_oracle(pair, fused_ras):
    result, recorder = fused_ras
    mri = nib.load(pair["mri"])
    assert isinstance(result, FusedVolume)
    assert result.rgb.shape == mri.shape + (3,) and result.rgb.dtype == np.uint8
    np.testing.assert_array_equal(result.affine, mri.affine)

    values, inside = _pet_oracle(pair["mri"], pair["pet"])
    assert 0.5 < inside.mean() < 0.98  # part of the MRI lies outside the PET's field of view
    low, high = np.percentile(values[inside], [0.0, 99.5])
    np.testing.assert_allclose(result.pet_window, (low, high), rtol=1e-4, atol=1e-3 * high)
    t1 = mri.get_fdata()
    np.testing.assert_allclose(result.mri_window, (t1.min(), t1.max()), rtol=1e-6)

    got_mri, got_pet = recorder.inputs(mri.shape[2])
    want_mri = _axial_stack((t1 - t1.min()) / (t1.max() - t1.min()))
    np.testing.assert_allclose(got_mri, want_mri, atol=2e-6)
    level = np.round(255 * np.clip((values - low) / (high - low), 0, 1)).astype(int)
    want_pet = colormap_table("pet")[_axial_stack(level)]
    same = np.all(got_pet == want_pet, axis=-1)
    assert same.mean() > 0.999  # float32 vs float64 can move a value across a rounding edge
    near = np.all(got_pet == colormap_table("pet")[np.clip(_axial_stack(level) + 1, 0, 255)], axis=-1) | np.all(
        got_pet == colormap_table("pet")[np.clip(_axial_stack(level) - 1, 0, 255)], axis=-1
    )
    assert np.all(same | near)
    outside = _axial_stack(~inside & (values == 0))
    assert np.all(got_pet[outside] == colormap_table("pet")[0])  # zero outside the field of view, before windowing


def test_a_slice_fused_in_its_volume_equals_it_fused_alone(fused_ras):
    result, recorder = fused_ras
    slices = result.slices()
    mri_in, pet_in = recorder.inputs(slices.shape[0])
    for k in (0, 40, BATCH - 1, BATCH, 63, slices.shape[0] - 1):  # first, middle, the overlap, the last call
        alone = np.asarray(jaxfuse.fuse(mri_in[k], pet_in[k], output_dtype=jnp.uint8))
        np.testing.assert_array_equal(slices[k], alone, err_msg=f"slice {k}")
    assert slices[40].std() > 10  # real content, not a blank slice


@pytest.mark.parametrize("codes", ["LPS", "PIR", "SAL"])
def test_mri_stored_in_another_voxel_order_gives_the_same_fused_voxels(pair, fused_plain, codes, tmp_path):
    mri = nib.load(pair["mri"])
    data, affine = reoriented(mri.get_fdata(), mri.affine, codes)
    path = save_float(tmp_path / f"t1_{codes}.nii.gz", data, affine)
    result = fuse_volumes(path, pair["pet"], batch_slices=BATCH)
    np.testing.assert_array_equal(result.affine, affine)
    assert result.rgb.shape == data.shape + (3,)
    back, back_affine = reoriented(result.rgb, affine, "RAS")
    np.testing.assert_allclose(back_affine, mri.affine, atol=1e-9)
    np.testing.assert_array_equal(back, fused_plain.rgb)


def test_inputs_as_paths_nibabel_images_and_volumes_agree(pair, fused_plain):
    from_images = fuse_volumes(nib.load(pair["mri"]), nib.load(pair["pet"]), batch_slices=BATCH)
    volume = read_volume(pair["pet"])
    from_volumes = fuse_volumes(read_volume(pair["mri"]), volume, batch_slices=BATCH)
    np.testing.assert_array_equal(from_images.rgb, fused_plain.rgb)
    np.testing.assert_array_equal(from_volumes.rgb, fused_plain.rgb)


def test_saved_nifti_is_rgb24_with_the_mri_affine_and_a_description(fused_plain, tmp_path):
    result = fused_plain
    result.save(tmp_path / "fused.nii.gz")
    back = nib.load(tmp_path / "fused.nii.gz")
    assert back.get_data_dtype() == np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])
    np.testing.assert_allclose(back.affine, result.affine, atol=1e-5)
    rgb = np.asarray(back.dataobj)
    np.testing.assert_array_equal(np.stack([rgb["R"], rgb["G"], rgb["B"]], axis=-1), result.rgb)
    description = bytes(back.header["descrip"]).rstrip(b"\0").decode()
    assert description.startswith("jaxfuse vgg19 axial") and "PET pet" in description
    image = result.to_nifti()
    assert image.get_data_dtype() == back.get_data_dtype() and image.shape == result.rgb.shape[:3]


# ------------------------------------------------------------------------------- layout (markers)


def _marker_volume(codes: str):
    """A 2 mm MRI, zero but for one voxel at an asymmetric world point (right, anterior, superior
    of centre), stored with axis codes ``codes``; and a uniform PET covering it."""
    shape = (20, 24, 16)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-19.0, -23.0, -15.0]  # voxel (i, j, k) at x = 2i - 19, y = 2j - 23, z = 2k - 15
    data = np.zeros(shape, np.float32)
    data[14, 17, 11] = 100.0  # world (9, 11, 7) mm
    data, affine = reoriented(data, affine, codes)
    pet_affine = np.diag([3.0, 3.0, 3.0, 1.0])
    pet_affine[:3, 3] = [-30.0, -30.0, -30.0]
    pet = np.full((21, 21, 21), 5.0, np.float32)
    return Volume(data=data, affine=affine, path=f"marker_{codes}"), Volume(data=pet, affine=pet_affine, path="pet")


# For each axis: the world axis held constant, and the world axes (sign: +1 if the row/column index
# grows with the coordinate) of the slice rows and columns, in SPEC section 7's words.
LAYOUT = {
    "axial": (2, (1, -1), (0, -1)),  # rows anterior -> posterior, columns patient right -> left
    "coronal": (1, (2, -1), (0, -1)),  # rows superior -> inferior, columns right -> left
    "sagittal": (0, (2, -1), (1, -1)),  # rows superior -> inferior, columns anterior -> posterior
}


@pytest.mark.parametrize("codes", ["RAS", "LPS", "PIR"])
@pytest.mark.parametrize("axis", list(LAYOUT))
def test_slice_layout_is_radiological_per_spec(codes, axis):
    mri, pet = _marker_volume(codes)
    recorder = Recorder(inner=gray_echo)
    result = fuse_volumes(mri, pet, axis=axis, fuser=recorder, batch_slices=8)
    world_lo, world_hi = np.array([-19.0, -23.0, -15.0]), np.array([19.0, 23.0, 15.0])
    marker = np.array([9.0, 11.0, 7.0])
    constant, (row_axis, _), (col_axis, _) = LAYOUT[axis]
    count = int(round((world_hi[constant] - world_lo[constant]) / 2)) + 1
    mri_in, _ = recorder.inputs(count)
    # slices run from the low to the high world coordinate; rows and columns from the high end
    want = ((marker[constant] - world_lo[constant]) / 2, (world_hi[row_axis] - marker[row_axis]) / 2,
            (world_hi[col_axis] - marker[col_axis]) / 2)
    assert np.argwhere(mri_in > 0.5).tolist() == [[int(w) for w in want]]
    np.testing.assert_allclose(result.slice_positions()[int(want[0])], marker[constant])
    # back in the MRI's own voxel order: the bright output voxel is the marker's voxel
    np.testing.assert_array_equal(np.argwhere(result.rgb[..., 0] > 128), np.argwhere(mri.data > 0))


# ------------------------------------------------------------------------------------ windows


def test_windows_are_per_volume_never_per_slice(tmp_path):
    shape = (16, 18, 12)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    z = np.arange(shape[2], dtype=np.float32)
    mri = np.broadcast_to(10.0 + 5.0 * z, shape).copy()  # brighter towards the top
    pet = np.broadcast_to(100.0 * (1.0 + z), shape).copy()
    pet[3, 4, 5] = 1e6  # one hot voxel: above p99.5, so it saturates instead of darkening all
    recorder = Recorder(inner=gray_echo)
    result = fuse_volumes(
        Volume(data=mri, affine=affine, path="mri"), Volume(data=pet, affine=affine, path="pet"),
        pet_cmap="gray", fuser=recorder, batch_slices=5,
    )
    low, high = np.percentile(pet, [0.0, 99.5])
    assert result.pet_window == pytest.approx((low, high), rel=1e-6)
    assert result.mri_window == pytest.approx((10.0, 65.0))
    mri_in, pet_in = recorder.inputs(shape[2])
    for k in range(shape[2]):  # slice k holds one MRI value and (but one voxel) one PET value
        assert mri_in[k].max() == pytest.approx((5.0 * k) / 55.0, abs=1e-6)
        level = np.round(255 * np.clip((100.0 * (1 + k) - low) / (high - low), 0, 1))
        assert np.median(pet_in[k]) == level
    assert pet_in[0].max() < 60 and pet_in[5].max() == 255  # a per-slice window would brighten slice 0


def test_windows_in_image_units_and_percentiles(pair):
    fixed = fuse_volumes(pair["mri"], pair["pet"], pet_window="1000,5000", mri_window=(20, 200), batch_slices=BATCH)
    assert fixed.pet_window == (1000.0, 5000.0) and fixed.mri_window == (20.0, 200.0)
    robust = fuse_volumes(pair["mri"], pair["pet"], mri_window="p2,p98", batch_slices=BATCH)
    t1 = nib.load(pair["mri"]).get_fdata()
    np.testing.assert_allclose(robust.mri_window, np.percentile(t1, [2, 98]), rtol=1e-5)
    assert not np.array_equal(robust.rgb, fixed.rgb)


# ------------------------------------------------------------------------------------ methods


@pytest.fixture(scope="module")
def coarse_pair():
    t1, gm, wm, affine = mni(4)  # 49 x 58 x 47: slices 58 x 49, not multiples of 16
    pet, pet_affine = simulate_pet(gm, wm, affine, voxel_mm=5.0)
    return Volume(data=t1.astype(np.float32), affine=affine, path="t1"), Volume(
        data=pet.astype(np.float32), affine=pet_affine, path="pet"
    )


# Their programs take 5-30 s to compile (li2018: 30 s to run VGG19 to relu4_1) on a 2-core machine.
# The volume path is the same for every method (slices batched through the method's slice fuser),
# and tests/test_methods.py checks these methods' batches slice by slice, so by default the volume
# path runs with the others only; `pytest -m sweep` adds these.
SWEEP_METHODS = {"curvelet", "contourlet", "nsct", "li2018"}


@pytest.mark.parametrize(
    "method", [pytest.param(m, marks=pytest.mark.sweep) if m in SWEEP_METHODS else m for m in METHODS]
)
def test_every_method_fuses_a_volume(coarse_pair, method):
    mri, pet = coarse_pair
    recorder = Recorder(inner=lambda m, p: p)  # only to see the inputs; the method runs below
    fuse_volumes(mri, pet, axis="coronal", fuser=recorder, batch_slices=64)
    result = fuse_volumes(mri, pet, method=method, axis="coronal", batch_slices=64)
    assert result.method == method and result.rgb.shape == mri.shape + (3,)
    slices = result.slices()
    mri_in, pet_in = recorder.inputs(slices.shape[0])
    k = slices.shape[0] // 2
    middle = slices[k].astype(int)
    assert middle.std() > 5
    if method in ("dwt", "contourlet"):  # padded to 64 x 64 and cropped: compare with that by hand
        return
    alone = np.asarray(jaxfuse.fuse_with(mri_in[k], pet_in[k], method=method, output_dtype=jnp.uint8)).astype(int)
    assert np.abs(middle - alone).max() <= 1  # rule methods vmap whole batches: rounding ties may differ


def test_padded_methods_match_the_mirror_padded_slice():
    rng = np.random.default_rng(3)
    mri = rng.random((2, 29, 38), dtype=np.float32)
    pet = rng.integers(0, 256, (2, 29, 38, 3), dtype=np.uint8)
    got = np.asarray(slice_fuser("dwt", height=29, width=38)(mri, pet))
    widths = ((0, 0), (1, 2), (5, 5))
    want = jaxfuse.fuse_with(np.pad(mri, widths, mode="symmetric"), np.pad(pet, widths + ((0, 0),), mode="symmetric"),
                             method="dwt", output_dtype=jnp.uint8)
    np.testing.assert_array_equal(got, np.asarray(want)[:, 1:30, 5:43])


# ------------------------------------------------------------------------------------- errors


def test_no_overlap_raises_image_error_naming_the_pet(pair, tmp_path):
    pet = nib.load(pair["pet"])
    far = pet.affine.copy()
    far[:3, 3] += [500.0, 0.0, 0.0]
    path = save_float(tmp_path / "far_pet.nii.gz", pet.get_fdata(), far)
    with pytest.raises(ImageError, match="no overlap with the MRI") as error:
        fuse_volumes(pair["mri"], path)
    assert str(error.value).startswith(str(path))


def test_no_overlap_between_voxel_centres_is_caught_too():
    mri = Volume(data=np.ones((10, 10, 10), np.float32), affine=np.diag([2.0, 2.0, 2.0, 1.0]), path="mri")
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[2, 3] = 9.0  # one PET plane at z = 9 mm, between the MRI's planes at 8 and 10 mm
    pet = Volume(data=np.ones((10, 10, 1), np.float32), affine=affine, path="thin.nii")
    with pytest.raises(ImageError, match="^thin.nii: no overlap"):
        fuse_volumes(mri, pet)


def test_bad_options_are_refused(pair):
    mri, pet = pair["mri"], pair["pet"]
    for kwargs, needle in [
        ({"axis": "oblique"}, "axis must be one of"),
        ({"pet_cmap": "rainbow"}, "unknown colour map"),
        ({"method": "best"}, "unknown method"),
        ({"pet_window": "p5"}, "two bounds"),
        ({"pet_window": "p90,p10"}, "below"),
        ({"mri_window": "p0,200"}, "both bounds"),
        ({"pet_window": "p0,p101"}, "0..100"),
        ({"batch_slices": 0}, "batch_slices"),
        ({"method": "dwt", "a": 0.5}, "vgg19 only"),
    ]:
        with pytest.raises(ValueError, match=needle):
            fuse_volumes(mri, pet, **kwargs)


def test_a_bad_option_value_is_raised_from_the_kernel_worker(pair):
    # the vgg19 kernel is built on a worker thread; its errors reach the caller as they are
    with pytest.raises(ValueError, match="normalisation must be one of"):
        fuse_volumes(pair["mri"], pair["pet"], batch_slices=BATCH, normalisation="bogus")


def test_output_is_laid_out_as_the_nifti_file_stores_it(fused_plain):
    from jaxfuse.io.volumes import rgb24_memory

    rgb = fused_plain.rgb
    memory = rgb24_memory(rgb)  # the file's voxel bytes: a view, so saving copies nothing
    assert np.shares_memory(memory, rgb) and memory.flags.c_contiguous
    np.testing.assert_array_equal(memory, np.ascontiguousarray(rgb.transpose(2, 1, 0, 3)))


def test_kept_fusers_follow_the_options_and_sizes(pair, fused_plain):
    # a second volume reuses the compiled fuser of its slice size and options, never another one
    again = fuse_volumes(pair["mri"], pair["pet"], batch_slices=BATCH)
    np.testing.assert_array_equal(again.rgb, fused_plain.rgb)
    other = fuse_volumes(pair["mri"], pair["pet"], batch_slices=BATCH, a=0.6)
    oracle = fuse_volumes(pair["mri"], pair["pet"], batch_slices=BATCH, fuser=batch_fuser("vgg19", a=0.6))
    np.testing.assert_array_equal(other.rgb, oracle.rgb)
    assert not np.array_equal(other.rgb, fused_plain.rgb)
    smaller = fuse_volumes(pair["mri"], pair["pet"], batch_slices=BATCH - 2)
    np.testing.assert_array_equal(smaller.rgb, fused_plain.rgb)


def test_four_d_and_non_finite_inputs_name_the_input(pair):
    pet = nib.load(pair["pet"])
    four_d = nib.Nifti1Image(np.zeros(pet.shape + (2,), np.float32), pet.affine)
    with pytest.raises(ImageError, match="4-D"):
        fuse_volumes(pair["mri"], four_d)
    bad = np.zeros((8, 8, 8), np.float32)
    bad[1, 2, 3] = np.nan
    with pytest.raises(ImageError, match="^bad.nii: contains 1 NaN"):
        fuse_volumes(pair["mri"], Volume(data=bad, affine=np.eye(4), path="bad.nii"))


def test_kernel_inputs_is_the_documented_window_and_table():
    mri = np.array([[0.0, 5.0, 10.0, 20.0]], np.float32)
    pet = np.array([[-1.0, 0.0, 50.0, 200.0]], np.float32)
    mri_unit, pet_rgb = kernel_inputs(mri, pet, mri_window=(0.0, 10.0), pet_window=(0.0, 100.0), cmap="hot")
    np.testing.assert_allclose(mri_unit, [[0.0, 0.5, 1.0, 1.0]])
    np.testing.assert_array_equal(pet_rgb, colormap_table("hot")[[[0, 0, 128, 255]]])
    _, gray = kernel_inputs(mri, pet, mri_window=(0.0, 10.0), pet_window=(0.0, 100.0), cmap="gray")
    np.testing.assert_array_equal(gray, [[0, 0, 128, 255]])


def test_chunk_starts_cover_every_slice_with_equal_calls():
    for total in range(1, 40):
        for size in range(1, total + 1):
            starts = chunk_starts(total, size)
            covered = np.zeros(total, int)
            for start in starts:
                covered[start : start + size] += 1
            assert starts[0] == 0 and starts[-1] + size == total and covered.min() == 1
            assert len(starts) == -(-total // size)
    with pytest.raises(ValueError):
        chunk_starts(3, 4)


@pytest.mark.parametrize("axis", ["axial", "coronal", "sagittal"])
def test_slice_layout_maps_slice_pixels_to_the_canonical_voxels_they_show(axis):
    shape = (5, 7, 4)
    volume = np.arange(np.prod(shape)).reshape(shape)
    slices = volume_to_slices(volume, axis=axis)
    layout = slice_layout(shape, axis=axis)
    index = np.indices(slices.shape).reshape(3, -1)
    canonical = (layout[:3, :3] @ index + layout[:3, 3:]).astype(int)
    np.testing.assert_array_equal(volume[tuple(canonical)], slices.reshape(-1))
