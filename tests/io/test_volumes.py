"""NIfTI reading (values, affines, hostile and damaged files) and the atomic RGB24 NIfTI writer.

The oracle for values and affines is nibabel (``get_fdata``, ``affine``), and for the scaled
int16 volume the stored integers themselves, written here byte by byte.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import pathlib
import struct
import time
import tracemalloc

import nibabel as nib
import numpy as np
import pytest

import jaxfuse.io.volumes
from jaxfuse.io import images
from jaxfuse.io.images import ImageError
from jaxfuse.io.volumes import DEFAULT_MAX_VOXELS, RGB_DTYPE, Volume, read_nifti, read_volume, write_rgb_nifti


def write_nifti_by_hand(path, raw, affine, *, slope=1.0, inter=0.0, unit="mm", descrip=b"") -> pathlib.Path:
    """A single-file NIfTI-1: nibabel's 348-byte header, 4 zero extension bytes, then ``raw`` in
    Fortran order, exactly as stored (no rescaling by a writer); gzip if the name ends in .gz.
    A big-endian ``raw`` gets a big-endian header (NIfTI has one byte order per file)."""
    header = nib.Nifti1Header(endianness=">" if raw.dtype.byteorder == ">" else "<")
    header.set_data_shape(raw.shape)
    header.set_data_dtype(raw.dtype)
    header.set_sform(affine, code=1)
    header["qform_code"] = 0
    header["scl_slope"], header["scl_inter"] = slope, inter
    header.set_xyzt_units(unit)
    header["descrip"] = descrip
    header["magic"], header["vox_offset"] = b"n+1", 352
    body = header.binaryblock + b"\0" * 4 + np.asarray(raw).tobytes(order="F")
    path = pathlib.Path(path)
    path.write_bytes(gzip.compress(body, 1) if path.name.endswith(".gz") else body)
    return path


def pet_int16(pet_sim):
    """The simulated PET as int16 with a slope and intercept: ``(raw, slope, inter)``."""
    slope, inter = 1.75, -20.0
    raw = np.round((pet_sim["bqml"] - inter) / slope).astype(np.int16)
    return raw, slope, inter


# --- values and affines ------------------------------------------------------------------------


def test_t1_values_and_affine_equal_nibabel(mni_t1_path):
    volume = read_volume(mni_t1_path)
    reference = nib.load(mni_t1_path)
    assert volume.data.dtype == np.float32 and volume.data.shape == (197, 233, 189)
    np.testing.assert_array_equal(volume.data, reference.get_fdata().astype(np.float32))
    np.testing.assert_array_equal(volume.affine, reference.affine)
    assert volume.affine.dtype == np.float64
    np.testing.assert_allclose(volume.voxel_sizes, [1.0, 1.0, 1.0])
    assert volume.units == "" and volume.path == str(mni_t1_path)


@pytest.mark.parametrize("name", ["pet.nii", "pet.nii.gz"])
def test_int16_with_scl_slope_and_inter(tmp_path, pet_sim, name):
    raw, slope, inter = pet_int16(pet_sim)
    path = write_nifti_by_hand(tmp_path / name, raw, pet_sim["affine"], slope=slope, inter=inter, descrip=b"sim FDG")
    volume = read_volume(path)
    expected = (raw.astype(np.float64) * slope + inter).astype(np.float32)
    np.testing.assert_array_equal(volume.data, expected)
    np.testing.assert_array_equal(volume.data, nib.load(path).get_fdata().astype(np.float32))
    np.testing.assert_allclose(volume.data, pet_sim["bqml"], atol=slope / 2 + 1e-3)
    np.testing.assert_array_equal(volume.affine, nib.load(path).affine)
    np.testing.assert_allclose(volume.affine, pet_sim["affine"], atol=1e-4)
    np.testing.assert_allclose(volume.voxel_sizes, [2.5, 2.0, 3.0], atol=1e-5)
    assert volume.description == "sim FDG"


def test_downsampled_template_as_float32_and_big_endian(tmp_path, mni_t1_path):
    reference = nib.load(mni_t1_path)
    t1 = np.asarray(reference.dataobj)[::2, ::2, ::2]
    affine = reference.affine @ np.diag([2.0, 2.0, 2.0, 1.0])
    for dtype in ("<f4", ">i2", ">f8"):
        path = write_nifti_by_hand(tmp_path / f"t1_{dtype[1:]}.nii", t1.astype(dtype), affine)
        volume = read_nifti(path)
        np.testing.assert_array_equal(volume.data, t1.astype(np.float32))
        np.testing.assert_allclose(volume.affine, affine, atol=1e-6)


def test_spatial_unit_metres_scaled_to_mm(tmp_path):
    affine = np.diag([0.002, 0.002, 0.003, 1.0])
    volume = read_nifti(write_nifti_by_hand(tmp_path / "m.nii", np.ones((4, 5, 6), np.float32), affine, unit="meter"))
    np.testing.assert_allclose(volume.voxel_sizes, [2.0, 2.0, 3.0], rtol=1e-6)


def test_trailing_singleton_dims_and_2d(tmp_path):
    volume = read_nifti(write_nifti_by_hand(tmp_path / "a.nii", np.ones((4, 5, 6, 1), np.float32), np.eye(4)))
    assert volume.shape == (4, 5, 6)
    flat = read_nifti(write_nifti_by_hand(tmp_path / "b.nii", np.arange(20, dtype=np.int16).reshape(4, 5), np.eye(4)))
    assert flat.shape == (4, 5, 1)
    np.testing.assert_array_equal(flat.data[..., 0], np.arange(20).reshape(4, 5))


def test_volume_is_frozen(tmp_path):
    volume = read_nifti(write_nifti_by_hand(tmp_path / "a.nii", np.ones((3, 3, 3), np.float32), np.eye(4)))
    assert isinstance(volume, Volume)
    with pytest.raises(dataclasses.FrozenInstanceError):
        volume.units = "SUVbw"


# --- 4-D ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["frames.nii", "frames.nii.gz"])
def test_four_d_needs_a_frame(tmp_path, pet_sim, name):
    raw, slope, inter = pet_int16(pet_sim)
    frames = np.stack([raw[::2, ::2, ::2] // (t + 1) for t in range(3)], axis=-1)
    path = write_nifti_by_hand(tmp_path / name, frames, pet_sim["affine"], slope=slope, inter=inter)
    with pytest.raises(ImageError, match=r"4-D with 3 frames; choose one with frame=0\.\.2"):
        read_volume(path)
    reference = nib.load(path).get_fdata()
    for t in range(3):
        np.testing.assert_array_equal(read_volume(path, frame=t).data, reference[..., t].astype(np.float32))
    for bad in (3, -1):
        with pytest.raises(ImageError, match=r"frame .* out of range: the volume has 3 frames"):
            read_volume(path, frame=bad)


def test_frame_on_3d_and_5d_refused(tmp_path):
    three = write_nifti_by_hand(tmp_path / "a.nii", np.ones((3, 3, 3), np.float32), np.eye(4))
    with pytest.raises(ImageError, match="is 3-D; frame=0"):
        read_volume(three, frame=0)
    five = write_nifti_by_hand(tmp_path / "b.nii", np.ones((3, 3, 3, 2, 2), np.float32), np.eye(4))
    with pytest.raises(ImageError, match=r"is 5-D"):
        read_volume(five, frame=0)


# --- hostile, damaged and wrong files ----------------------------------------------------------


def hostile_header(path, dims=(2048, 1024, 1024)) -> pathlib.Path:
    """348 bytes: a NIfTI-1 header declaring ``dims`` float32 voxels, and no data at all."""
    header = nib.Nifti1Header()
    header.set_data_shape(dims)
    header.set_data_dtype(np.float32)
    header["magic"], header["vox_offset"] = b"n+1", 352
    path.write_bytes(header.binaryblock)
    assert path.stat().st_size == 348
    return path


@pytest.mark.parametrize("max_voxels", [DEFAULT_MAX_VOXELS, 2**40])
def test_hostile_header_refused_without_allocating(tmp_path, max_voxels):
    path = hostile_header(tmp_path / "hostile.nii")
    read_nifti(write_nifti_by_hand(tmp_path / "warm.nii", np.ones((3, 3, 3), np.float32), np.eye(4)))  # imports done
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(ImageError) as caught:
        read_volume(path, max_voxels=max_voxels)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # over the budget: refused from the header; within a huge budget: refused as truncated from the
    # file size, before the 8 GiB buffer is allocated
    assert ("2,147,483,648 voxels, over the budget" if max_voxels == DEFAULT_MAX_VOXELS else "truncated") in str(caught.value)
    assert elapsed < 0.5 and peak < 2**20, (elapsed, peak)


def test_budget_counts_one_frame(tmp_path):
    path = write_nifti_by_hand(tmp_path / "f.nii", np.ones((4, 4, 4, 5), np.float32), np.eye(4))
    assert read_volume(path, frame=4, max_voxels=64).shape == (4, 4, 4)
    with pytest.raises(ImageError, match="4 x 4 x 4 = 64 voxels, over the budget of 63"):
        read_volume(path, frame=4, max_voxels=63)


@pytest.fixture
def pet_gz(tmp_path, pet_sim) -> bytes:
    raw, slope, inter = pet_int16(pet_sim)
    return write_nifti_by_hand(tmp_path / "good.nii.gz", raw, pet_sim["affine"], slope=slope, inter=inter).read_bytes()


def test_truncated_files(tmp_path, pet_gz):
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(pet_gz[: len(pet_gz) // 2])
    with pytest.raises(ImageError, match=r"cut\.nii\.gz: corrupt or truncated gzip"):
        read_volume(cut)
    plain = tmp_path / "cut.nii"
    plain.write_bytes(gzip.decompress(pet_gz)[:100_000])
    with pytest.raises(ImageError, match=r"truncated: needs 512,352 bytes .* the file has 100,000"):
        read_volume(plain)


@pytest.mark.parametrize("where", ["middle", "crc"])
def test_corrupt_gzip(tmp_path, pet_gz, where):
    damaged = bytearray(pet_gz)
    if where == "middle":
        damaged[len(damaged) // 2 : len(damaged) // 2 + 64] = bytes(64)
    else:  # the CRC32 in the trailer: only reading the stream to its end can notice
        damaged[-8] ^= 0xFF
    path = tmp_path / "bad.nii.gz"
    path.write_bytes(bytes(damaged))
    with pytest.raises(ImageError, match=r"bad\.nii\.gz: corrupt or truncated gzip"):
        read_volume(path)


@pytest.mark.parametrize("extra_mib", [0.5, 64])
def test_trailing_data_after_the_voxels(tmp_path, pet_gz, extra_mib):
    """Zeros after the declared voxels: a little is read (and the CRC checked), a bomb's worth
    (64 MiB inflating from 64 kB) is refused after the first megabyte."""
    stream = gzip.decompress(pet_gz) + bytes(int(extra_mib * (1 << 20)))
    path = tmp_path / "trailing.nii.gz"
    path.write_bytes(gzip.compress(stream, compresslevel=9, mtime=0))
    assert path.stat().st_size < len(pet_gz) + 100_000  # the zeros cost at most 64 kB of file
    if extra_mib < 1:
        np.testing.assert_array_equal(read_volume(path).data, read_volume_bytes(tmp_path, pet_gz).data)
    else:
        with pytest.raises(ImageError, match=r"trailing\.nii\.gz: decompresses to more than 1,048,576 bytes beyond"):
            read_volume(path)


def _with_extensions(path, raw, extensions: bytes, *, vox_offset: int, nifti2: bool = False, big_endian: bool = False) -> pathlib.Path:
    """A single-file NIfTI (1 or 2) whose extension flag is set, ``extensions`` (the 8-byte
    ``esize, ecode`` headers and contents, as given) after the fixed header, and the voxels at
    ``vox_offset``; gzip if the name ends in .gz."""
    header = (nib.Nifti2Header if nifti2 else nib.Nifti1Header)(endianness=">" if big_endian else "<")
    header.set_data_shape(raw.shape)
    header.set_data_dtype(raw.dtype)
    header["vox_offset"] = vox_offset
    size = 540 if nifti2 else 348
    body = header.binaryblock + b"\x01\0\0\0" + extensions
    body += b"\0" * max(0, vox_offset - len(body)) + raw.astype(raw.dtype.newbyteorder(">" if big_endian else "<")).tobytes(order="F")
    assert len(header.binaryblock) == size
    path = pathlib.Path(path)
    path.write_bytes(gzip.compress(body, 9) if path.name.endswith(".gz") else body)
    return path


def _extension(esize: int, content: bytes = b"", order: str = "<") -> bytes:
    return struct.pack(f"{order}ii", esize, 6) + content  # ecode 6: a comment


@pytest.mark.parametrize("nifti2", [False, True])
@pytest.mark.parametrize("big_endian", [False, True])
def test_header_extensions_within_bounds_are_read(tmp_path, nifti2, big_endian):
    raw = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    start = (540 if nifti2 else 348) + 4
    comment = b"made by a test".ljust(40, b"\0")  # esize 48: a multiple of 16
    order = ">" if big_endian else "<"
    path = _with_extensions(tmp_path / "ext.nii.gz", raw, _extension(48, comment, order), vox_offset=start + 48, nifti2=nifti2, big_endian=big_endian)
    np.testing.assert_array_equal(read_volume(path).data, raw)


@pytest.mark.parametrize("nifti2", [False, True])
def test_huge_declared_header_extensions_are_refused_cheaply(tmp_path, nifti2):
    """A vox_offset 400 MB past the header (a 1 MB file of zeros), and a small vox_offset with one
    extension declaring 2 GB: refused before nibabel reads either into memory."""
    raw = np.zeros((2, 2, 2), np.float32)
    start = (540 if nifti2 else 348) + 4
    far = _with_extensions(tmp_path / "far.nii.gz", raw, _extension(400 << 20), vox_offset=start + (400 << 20), nifti2=nifti2)
    assert far.stat().st_size < 1_000_000
    with pytest.raises(ImageError, match=r"far\.nii\.gz: declares 419,430,400 bytes of header extensions .* refusing more than 16,777,216"):
        read_volume(far)
    liar = _with_extensions(tmp_path / "liar.nii", raw, _extension(2**31 - 16) + bytes(40), vox_offset=start + 48, nifti2=nifti2)
    with pytest.raises(ImageError, match=r"liar\.nii: has a header extension declaring 2,147,483,632 bytes where 48 lie before"):
        read_volume(liar)
    # vox_offset 0 with the extension flag set: nibabel reads extensions to the end of the file;
    # here 20 MiB of well-formed 16-byte ones, which must stop at the bound
    endless = _with_extensions(tmp_path / "endless.nii.gz", raw, _extension(16, bytes(8)) * (20 << 16), vox_offset=0, nifti2=nifti2)
    assert endless.stat().st_size < 1_000_000
    with pytest.raises(ImageError, match=r"endless\.nii\.gz: has a header extension .* vox_offset 0 leaves them unbounded"):
        read_volume(endless)


def read_volume_bytes(tmp_path, data: bytes):
    path = tmp_path / "same.nii.gz"
    path.write_bytes(data)
    return read_volume(path)


def test_not_nifti_and_wrong_names(tmp_path):
    text = tmp_path / "notes.nii"
    text.write_text("not an image\n" * 40)
    with pytest.raises(ImageError, match=r"notes\.nii: not a NIfTI file"):
        read_volume(text)
    fake_gz = tmp_path / "notes.nii.gz"
    fake_gz.write_text("plain text, not gzip\n" * 40)
    with pytest.raises(ImageError, match=r"notes\.nii\.gz: (not a NIfTI|corrupt)"):
        read_volume(fake_gz)
    png = tmp_path / "slice.png"
    png.write_bytes(b"\x89PNG")
    with pytest.raises(ImageError, match=r"need a \.nii or \.nii\.gz file, or a folder of DICOM files"):
        read_volume(png)
    with pytest.raises(ImageError, match="no such file or folder"):
        read_volume(tmp_path / "absent.nii.gz")


def test_rgb_input_refused(tmp_path):
    path = tmp_path / "rgb.nii"
    write_rgb_nifti(path, np.zeros((3, 4, 5, 3), np.uint8), np.eye(4))
    with pytest.raises(ImageError, match=r"NIfTI datatype 128\); need a scalar volume"):
        read_volume(path)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied(tmp_path):
    path = write_nifti_by_hand(tmp_path / "secret.nii", np.ones((3, 3, 3), np.float32), np.eye(4))
    path.chmod(0)
    with pytest.raises(ImageError, match="secret.nii: permission denied"):
        read_volume(path)


def test_permission_denied_mapped(tmp_path, monkeypatch):
    path = write_nifti_by_hand(tmp_path / "secret.nii", np.ones((3, 3, 3), np.float32), np.eye(4))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(nib, "load", refuse)
    with pytest.raises(ImageError, match="secret.nii: permission denied"):
        read_volume(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e300])
def test_non_finite_voxels(tmp_path, bad):
    data = np.ones((4, 4, 4), np.float64)
    data[1, 2, 3] = bad
    data[0, 0, 0] = -bad
    with pytest.raises(ImageError, match="contains 2 NaN or infinite voxels"):
        read_volume(write_nifti_by_hand(tmp_path / "nan.nii", data, np.eye(4)))


@pytest.mark.parametrize(
    ("affine", "problem"),
    [
        (np.diag([2.0, 0.0, 2.0, 1.0]), "voxel sizes .* include zero"),
        (np.array([[1.0, 1.0, 0, 0], [1.0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]]), "singular"),
        (np.diag([1.0, np.nan, 1.0, 1.0]), "NaN or infinite"),
    ],
)
def test_degenerate_affine(tmp_path, affine, problem):
    with pytest.raises(ImageError, match=problem):
        read_volume(write_nifti_by_hand(tmp_path / "bad_affine.nii", np.ones((3, 3, 3), np.float32), affine))


# --- writing RGB NIfTI -------------------------------------------------------------------------


def rgb_from(pet_sim) -> np.ndarray:
    scaled = np.clip(pet_sim["bqml"] / pet_sim["bqml"].max(), 0, 1)
    return np.round(255 * np.stack([scaled, scaled**2, 1 - scaled], axis=-1)).astype(np.uint8)


@pytest.mark.parametrize("name", ["fused.nii", "fused.nii.gz"])
def test_rgb_round_trip(tmp_path, pet_sim, name):
    rgb = rgb_from(pet_sim)
    path = tmp_path / name
    write_rgb_nifti(path, rgb, pet_sim["affine"], description="jaxfuse test: hot-like colours")
    image = nib.load(path)
    header = image.header
    assert int(header["datatype"]) == 128 and header.get_data_dtype() == RGB_DTYPE
    stored = np.asanyarray(image.dataobj)
    np.testing.assert_array_equal(np.stack([stored["R"], stored["G"], stored["B"]], axis=-1), rgb)
    np.testing.assert_allclose(image.affine, pet_sim["affine"], atol=1e-4)
    np.testing.assert_allclose(header.get_qform(), pet_sim["affine"], atol=1e-4)
    assert int(header["sform_code"]) == 1 and int(header["qform_code"]) == 1
    assert bytes(header["descrip"][()]) == b"jaxfuse test: hot-like colours"
    assert header.get_xyzt_units()[0] == "mm"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left


def _nibabel_rgb24_file(path, rgb, affine, *, description: bytes, xform_code: int, compress_level: int) -> None:
    """The same RGB24 file written by nibabel itself (the oracle of the writer's bytes)."""
    voxels = np.zeros(rgb.shape[:3], RGB_DTYPE)
    for c, name in enumerate("RGB"):
        voxels[name] = rgb[..., c]
    image = nib.Nifti1Image(voxels, affine)
    image.header.set_data_dtype(RGB_DTYPE)
    image.header.set_xyzt_units("mm")
    image.set_sform(affine, code=xform_code)
    image.set_qform(affine, code=xform_code)
    if not np.allclose(image.header.get_qform(), affine, rtol=0.0, atol=1e-4):
        image.header["qform_code"] = 0
    image.header["descrip"] = description
    gz = path.suffix == ".gz"
    with gzip.GzipFile(path, "wb", compresslevel=compress_level, mtime=0) if gz else open(path, "wb") as handle:
        image.to_file_map({"image": nib.FileHolder(fileobj=handle)})


@pytest.mark.parametrize("name", ["a.nii", "a.nii.gz"])
@pytest.mark.parametrize("sheared", [False, True])
@pytest.mark.parametrize("layout", ["c_order", "file_order", "strided"])
def test_rgb_file_is_what_nibabel_writes(tmp_path, name, sheared, layout):
    rng = np.random.default_rng(3)
    rgb = (rng.integers(0, 4, (37, 29, 23, 3)) * 60).astype(np.uint8)
    affine = np.array([[0.9, 0.3 if sheared else 0.0, 0, -10], [0, 1.1, 0, -20], [0, 0, -1.2, 5], [0, 0, 0, 1.0]])
    given = rgb
    if layout == "file_order":
        memory, given = jaxfuse.io.volumes.rgb24_layout(rgb.shape[:3])
        given[...] = rgb
    elif layout == "strided":
        given = np.zeros((74, 29, 23, 3), np.uint8)[::2]
        given[...] = rgb
    ours, theirs = tmp_path / name, tmp_path / f"nibabel_{name}"
    write_rgb_nifti(ours, given, affine, description="fused: é", xform_code=2, compress_level=3)
    _nibabel_rgb24_file(theirs, rgb, affine, description="fused: é".encode(), xform_code=2, compress_level=3)
    read = (lambda p: gzip.decompress(p.read_bytes())) if name.endswith(".gz") else (lambda p: p.read_bytes())
    assert read(ours) == read(theirs)


def test_rgb_layout_is_the_file_order():
    memory, rgb = jaxfuse.io.volumes.rgb24_layout((4, 3, 2))
    assert memory.shape == (2, 3, 4, 3) and memory.flags.c_contiguous and rgb.shape == (4, 3, 2, 3)
    rgb[...] = np.arange(rgb.size, dtype=np.uint8).reshape(rgb.shape)
    assert np.shares_memory(jaxfuse.io.volumes.rgb24_memory(rgb), memory)
    assert memory[1, 2, 3].tolist() == rgb[3, 2, 1].tolist()  # x fastest, then y, then z; R, G, B within


def test_rgb_sheared_affine_keeps_sform_only(tmp_path):
    affine = np.array([[2.0, 0.5, 0, -10], [0, 2.0, 0, -20], [0, 0, 3.0, 5], [0, 0, 0, 1.0]])
    path = tmp_path / "shear.nii.gz"
    write_rgb_nifti(path, np.zeros((3, 4, 5, 3), np.uint8), affine, xform_code=2)
    header = nib.load(path).header
    assert int(header["sform_code"]) == 2 and int(header["qform_code"]) == 0
    np.testing.assert_allclose(nib.load(path).affine, affine, atol=1e-6)


def test_rgb_description_cut_to_79_bytes_on_a_character_boundary(tmp_path):
    text = "é" * 50  # 100 bytes in UTF-8
    path = tmp_path / "d.nii"
    write_rgb_nifti(path, np.zeros((2, 2, 2, 3), np.uint8), np.eye(4), description=text)
    stored = bytes(nib.load(path).header["descrip"][()])
    assert stored == ("é" * 39).encode("utf-8") and len(stored) == 78


def test_rgb_write_is_atomic(tmp_path, monkeypatch):
    rgb = np.full((3, 4, 5, 3), 7, np.uint8)
    path = tmp_path / "out.nii.gz"
    write_rgb_nifti(path, rgb, np.eye(4))
    before = path.read_bytes()

    def fail_half_way(parts, **options):  # the disk fills after the first compressed bytes
        yield b"partial bytes"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(jaxfuse.io.volumes, "gzip_chunks", fail_half_way)
    with pytest.raises(OSError, match="No space left"):
        write_rgb_nifti(path, np.zeros_like(rgb), np.eye(4))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nii.gz"]


def test_rgb_write_onto_a_folder_leaves_nothing(tmp_path):
    target = tmp_path / "taken.nii"
    target.mkdir()
    with pytest.raises(IsADirectoryError):
        write_rgb_nifti(target, np.zeros((2, 2, 2, 3), np.uint8), np.eye(4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.nii"] and not any(target.iterdir())


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_rgb_write_into_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError):
            write_rgb_nifti(folder / "x.nii", np.zeros((2, 2, 2, 3), np.uint8), np.eye(4))
        assert not any(folder.iterdir())
    finally:
        folder.chmod(0o755)


def test_rgb_write_uses_atomic_write(tmp_path, monkeypatch):
    calls = []
    original = images.atomic_write

    def spy(path, write):
        calls.append(pathlib.Path(path).name)
        return original(path, write)

    monkeypatch.setattr("jaxfuse.io.volumes.atomic_write", spy)
    write_rgb_nifti(tmp_path / "s.nii", np.zeros((2, 2, 2, 3), np.uint8), np.eye(4))
    assert calls == ["s.nii"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"rgb": np.zeros((2, 2, 2, 3), np.float32)}, ValueError, "need uint8"),
        ({"rgb": np.zeros((2, 2, 3), np.uint8)}, ValueError, "need uint8"),
        ({"path": "x.png"}, ValueError, r"need a \.nii or \.nii\.gz"),
        ({"affine": np.diag([1.0, 1.0, 0.0, 1.0])}, ImageError, "include zero"),
        ({"compress_level": 10}, ValueError, "compress_level"),
        ({"xform_code": 0}, ValueError, "xform_code"),
    ],
)
def test_rgb_write_refuses_bad_input(tmp_path, kwargs, error, message):
    args = {"path": "x.nii", "rgb": np.zeros((2, 2, 2, 3), np.uint8), "affine": np.eye(4)} | kwargs
    path = tmp_path / args.pop("path")
    options = {k: args.pop(k) for k in ("compress_level", "xform_code") if k in args}
    with pytest.raises(error, match=message):
        write_rgb_nifti(path, args["rgb"], args["affine"], **options)
    assert not any(tmp_path.iterdir())


def test_declared_voxels_reads_the_header_only(tmp_path):
    from jaxfuse.io.volumes import declared_voxels

    data = np.zeros((7, 5, 3, 2), np.int16)  # a 4-D file: one frame's voxels
    path = tmp_path / "four_d.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    assert declared_voxels(path) == 7 * 5 * 3
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(path.read_bytes()[:200])  # the header is whole, the voxels are not: the size is known
    assert declared_voxels(cut) == 7 * 5 * 3
    (tmp_path / "junk.nii").write_bytes(b"not a header")
    (tmp_path / "series").mkdir()
    assert declared_voxels(tmp_path / "junk.nii") is None  # read_volume says what is wrong
    assert declared_voxels(tmp_path / "series") is None  # a DICOM folder: sized once read
    assert declared_voxels(tmp_path / "missing.nii") is None
