"""Tests for jaxfuse.io.images (reading every supported kind of file, atomic PNG writes) and for the
shipped synthetic sample pair."""

import os
import stat

import numpy as np
import pytest
from PIL import Image

from jaxfuse import sample
from jaxfuse.io import images as image_io
from jaxfuse.io.images import ImageError, read_functional, read_image, read_mri, write_png

RNG = np.random.default_rng(0)
GRAY8 = RNG.integers(0, 256, (17, 23), dtype=np.uint8)
RGB8 = RNG.integers(0, 256, (17, 23, 3), dtype=np.uint8)


def _save(path, array):
    Image.fromarray(array).save(path)
    return path


def test_read_uint8_gray_png(tmp_path):
    image = read_image(_save(tmp_path / "g.png", GRAY8))
    assert image.dtype == np.uint8 and image.shape == (17, 23)
    np.testing.assert_array_equal(image, GRAY8)


def test_read_uint8_rgb_png(tmp_path):
    image = read_image(_save(tmp_path / "c.png", RGB8))
    assert image.dtype == np.uint8 and image.shape == (17, 23, 3)
    np.testing.assert_array_equal(image, RGB8)


def test_read_uint16_png_keeps_16_bits(tmp_path):
    array = RNG.integers(0, 65536, (17, 23), dtype=np.uint16)
    array[0, 0], array[0, 1] = 0, 65535
    path = tmp_path / "g16.png"
    Image.fromarray(array).save(path)
    assert Image.open(path).mode.startswith("I")  # stored as a 16-bit PNG, not downcast
    image = read_image(path)
    assert image.dtype == np.uint16 and image.shape == (17, 23)
    np.testing.assert_array_equal(image, array)


def test_read_palette_png_becomes_rgb(tmp_path):
    palette_image = Image.fromarray(RGB8).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    path = tmp_path / "p.png"
    palette_image.save(path)
    assert Image.open(path).mode == "P"
    image = read_image(path)
    assert image.dtype == np.uint8 and image.shape == (17, 23, 3)
    np.testing.assert_array_equal(image, np.asarray(palette_image.convert("RGB")))


def test_read_float32_npy(tmp_path):
    array = RNG.random((17, 23, 3), dtype=np.float32)
    path = tmp_path / "f.npy"
    np.save(path, array)
    image = read_image(path)
    assert image.dtype == np.float32 and image.shape == (17, 23, 3)
    np.testing.assert_array_equal(image, array)


def test_read_opaque_rgba_png_becomes_rgb(tmp_path):
    rgba = np.concatenate([RGB8, np.full((17, 23, 1), 255, np.uint8)], axis=-1)
    image = read_image(_save(tmp_path / "a.png", rgba))
    assert image.dtype == np.uint8 and image.shape == (17, 23, 3)
    np.testing.assert_array_equal(image, RGB8)


def test_read_transparent_rgba_png_is_rejected(tmp_path):
    rgba = np.concatenate([RGB8, np.full((17, 23, 1), 255, np.uint8)], axis=-1)
    rgba[3, 4, 3] = 0
    path = _save(tmp_path / "t.png", rgba)
    with pytest.raises(ImageError, match="transparent") as info:
        read_image(path)
    assert str(info.value).startswith(str(path))


@pytest.mark.parametrize(
    "array, problem",
    [
        (np.zeros((17, 23, 2), np.float32), "shape"),
        (np.full((17, 23), np.nan, np.float32), "NaN"),
        (np.full((17, 23), 1.5, np.float32), "outside"),
        (np.zeros((17, 23), np.int64), "dtype"),
    ],
    ids=["two-channels", "nan", "out-of-range", "int64"],
)
def test_read_bad_npy_is_rejected(tmp_path, array, problem):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(ImageError, match=problem) as info:
        read_image(path)
    assert str(info.value).startswith(str(path))


def test_read_missing_corrupt_and_directory_are_image_errors(tmp_path):
    good = _save(tmp_path / "good.png", RGB8).read_bytes()
    (tmp_path / "trunc.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "noise.png").write_bytes(RNG.integers(0, 256, 500, dtype=np.uint8).tobytes())
    (tmp_path / "dir.png").mkdir()
    for name in ("missing.png", "trunc.png", "noise.png", "dir.png"):
        with pytest.raises(ImageError) as info:
            read_image(tmp_path / name)
        assert str(info.value).startswith(str(tmp_path / name))


def test_read_mri_accepts_equal_channel_rgb_and_rejects_colour(tmp_path):
    gray_rgb = _save(tmp_path / "grayrgb.png", np.repeat(GRAY8[..., None], 3, axis=-1))
    image = read_mri(gray_rgb)
    assert image.shape == (17, 23) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, GRAY8)
    colour = _save(tmp_path / "colour.png", RGB8)
    with pytest.raises(ImageError, match="grayscale") as info:
        read_mri(colour)
    assert str(info.value).startswith(str(colour))
    np.testing.assert_array_equal(read_functional(colour), RGB8)  # fine as a functional image


def test_write_png_round_trip_and_no_temporary_left(tmp_path):
    path = tmp_path / "out.png"
    write_png(path, RGB8)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), RGB8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_write_png_is_atomic_when_encoding_fails(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    write_png(path, GRAY8)
    before = path.read_bytes()

    real_chunks = image_io.png_chunks

    def broken_chunks(image, **kwargs):  # fails after the file has been started
        chunks = real_chunks(image, **kwargs)
        yield next(chunks)
        yield next(chunks)
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(image_io, "png_chunks", broken_chunks)
    with pytest.raises(OSError, match="simulated"):
        write_png(path, RGB8)
    assert path.read_bytes() == before  # the old file is untouched
    with pytest.raises(OSError, match="simulated"):
        write_png(tmp_path / "new.png", RGB8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no new file, no temporary


def test_write_png_rejects_non_uint8(tmp_path):
    with pytest.raises(TypeError):
        write_png(tmp_path / "f.png", GRAY8.astype(np.float32))
    assert list(tmp_path.iterdir()) == []


def test_write_png_permissions_follow_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_png(tmp_path / "out.png", GRAY8)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.png").stat().st_mode) == 0o644


def test_shipped_sample_pngs_equal_the_generator():
    mri, pet = sample.load_sample_pair()
    made_mri, made_pet = sample.make_sample_pair()
    assert mri.dtype == np.uint8 and mri.shape == (256, 256)
    assert pet.dtype == np.uint8 and pet.shape == (256, 256, 3)
    np.testing.assert_array_equal(mri, made_mri)
    np.testing.assert_array_equal(pet, made_pet)


def test_image_suffixes_include_png_and_npy():
    assert ".png" in image_io.IMAGE_SUFFIXES and ".npy" in image_io.IMAGE_SUFFIXES


def test_write_png_compression_level_keeps_pixels_and_is_checked(tmp_path):
    ramp = np.add.outer(np.arange(32), np.arange(40)).astype(np.uint8)
    image = np.stack([ramp, ramp // 2, 255 - ramp], axis=-1)  # compressible
    for level in (0, 1, 9):
        write_png(tmp_path / f"l{level}.png", image, compress_level=level)
        assert np.array_equal(np.asarray(Image.open(tmp_path / f"l{level}.png")), image)
    assert (tmp_path / "l0.png").stat().st_size > (tmp_path / "l9.png").stat().st_size
    with pytest.raises(ValueError, match="0..9"):
        write_png(tmp_path / "bad.png", image, compress_level=10)
    assert not (tmp_path / "bad.png").exists()


# ------------------------------------------------------------------- read_pair and the pixel budget


def test_read_pair_returns_both_and_checks_sizes(tmp_path):
    mri_path = _save(tmp_path / "m.png", GRAY8)
    pet_path = _save(tmp_path / "p.png", RGB8)
    mri, pet = image_io.read_pair(mri_path, pet_path)
    np.testing.assert_array_equal(mri, GRAY8)
    np.testing.assert_array_equal(pet, RGB8)
    small = _save(tmp_path / "s.png", RGB8[:10, :10])
    with pytest.raises(ImageError, match="does not match") as info:
        image_io.read_pair(mri_path, small)
    assert str(info.value).startswith(str(small))
    mri, pet = image_io.read_pair(mri_path, small, resize=(8, 9))
    assert mri.shape == (8, 9) and pet.shape == (8, 9, 3)
    np.testing.assert_array_equal(pet, image_io.resize_image(RGB8[:10, :10], (8, 9)))


@pytest.mark.parametrize("resize", [(2, 8), (8, 0), (-5, -5), (8,), (8.0, 8.0), (5000, 5000)])
def test_invalid_resize_is_refused_before_reading(tmp_path, resize):
    with pytest.raises(ValueError, match="resize") as info:
        image_io.read_pair(tmp_path / "missing.png", tmp_path / "missing.png", resize=resize)
    assert not isinstance(info.value, ImageError)  # the call's problem, not a file's


def test_pixel_budget_is_exact_and_checked_before_decoding(tmp_path):
    path = _save(tmp_path / "g.png", GRAY8)  # 17 x 23 = 391 pixels
    assert read_image(path, max_pixels=391).shape == (17, 23)
    with pytest.raises(ImageError, match="17x23 = 391 pixels, over the limit of 390"):
        read_image(path, max_pixels=390)
    np.save(tmp_path / "g.npy", GRAY8)
    with pytest.raises(ImageError, match="over the limit of 390"):
        read_image(tmp_path / "g.npy", max_pixels=390)


def test_pixel_budget_does_not_depend_on_pillows_global(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    path.write_bytes(_png_header(5000, 5000))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # someone switched Pillow's check off
    with pytest.raises(ImageError, match="over the limit"):
        read_image(path)


def test_never_raises_anything_but_image_error(tmp_path, monkeypatch):
    path = _save(tmp_path / "g.png", GRAY8)

    def broken_load(self):
        raise KeyError("a tag the decoder did not expect")

    monkeypatch.setattr(Image.Image, "load", broken_load)
    with pytest.raises(ImageError, match="cannot decode it .KeyError") as info:
        read_image(path)
    assert str(info.value).startswith(str(path))


def test_header_pixels(tmp_path):
    assert image_io.header_pixels(_save(tmp_path / "g.png", GRAY8)) == 17 * 23
    np.save(tmp_path / "c.npy", RGB8)
    assert image_io.header_pixels(tmp_path / "c.npy") == 17 * 23
    (tmp_path / "big.png").write_bytes(_png_header(5000, 4000))
    assert image_io.header_pixels(tmp_path / "big.png") == 20_000_000  # declared, nothing decoded
    (tmp_path / "noise.png").write_bytes(b"not an image")
    assert image_io.header_pixels(tmp_path / "noise.png") is None
    assert image_io.header_pixels(tmp_path / "missing.png") is None


def test_atomic_write_is_still_importable_from_images():
    from jaxfuse.io.atomic import atomic_write

    assert image_io.atomic_write is atomic_write


def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) + chunk(b"IEND", b"")
