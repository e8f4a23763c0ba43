"""Hostile inputs through the command line (issue 10): every case is refused cheaply and cleanly.

The module generates every input itself (tests/host/hostile_files.py; no data folder needed) and
runs ``jaxfuse.cli.main`` in-process. For each case it asserts the exit code, exactly one line on
stderr naming the file (or the option), no traceback, no output and no temporary file left, and the
inputs unchanged (bytes, modes, links). Input cases run three ways: as a single pair, inside a
folder run among good pairs (which are all written), and for a few in ``jaxfuse evaluate``.
Images are 32x32 so the kernel compiles in about a second; a full disk is a filled 64 KiB tmpfs where
this machine lets the tests mount one (root), and a monkeypatched ENOSPC write everywhere.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import pathlib
import shutil
import signal
import subprocess
from collections.abc import Callable

import numpy as np
import pytest
from host import hostile_files as hf
from PIL import Image

from jaxfuse.cli import main

GOOD = ["g0.png", "g1.png", "g2.png"]



@pytest.fixture(autouse=True)
def no_hang():
    """Fails a case that blocks (e.g. a FIFO opened for reading) instead of hanging the suite."""

    def alarm(*_):
        raise TimeoutError("the case hung")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def listing(folder: pathlib.Path) -> list[str]:
    """Every entry, hidden temporaries included ([] if the folder does not exist)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def one_line(err: str, prefix: str, *needles: str) -> str:
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# --------------------------------------------------------------------------------- the bad inputs


@dataclasses.dataclass(frozen=True)
class Bad:
    id: str
    name: str  # the bad file's name; its partner in the other folder has the same name
    side: str  # "mri" or "pet": the folder that holds the bad file
    make: Callable[[pathlib.Path], object]
    needle: str  # part of the problem named in the error line
    folder: bool = True  # also run inside a folder run


def _bytes(data: bytes):
    return lambda path: path.write_bytes(data)


def _npy(array, **kwargs):
    return lambda path: path.write_bytes(hf.npy_bytes(array, **kwargs))


def _loop_of_two(path: pathlib.Path) -> None:
    os.symlink(path.name + ".other", path)
    os.symlink(path.name, path.with_name(path.name + ".other"))


def _truncated_png(path: pathlib.Path) -> None:
    data = hf.pil_bytes(Image.fromarray(hf.good_pet()), "PNG")
    path.write_bytes(data[: len(data) // 2])


def _bad_crc_png(path: pathlib.Path) -> None:
    data = bytearray(hf.pil_bytes(Image.fromarray(hf.good_pet()), "PNG"))
    data[-20] ^= 0xFF  # inside the IDAT data
    path.write_bytes(bytes(data))


def _npy_truncated_data(path: pathlib.Path) -> None:
    data = hf.npy_bytes(hf.good_mri())
    path.write_bytes(data[: len(data) - 100])


def _npy_version_3(path: pathlib.Path) -> None:
    data = bytearray(hf.npy_bytes(hf.good_mri()))
    data[6] = 3
    path.write_bytes(bytes(data))


def _npy_huge_header_length(path: pathlib.Path) -> None:
    data = bytearray(hf.npy_header_only((32, 32), "|u1", version=(2, 0)))
    data[8:12] = (2**31).to_bytes(4, "little")
    path.write_bytes(bytes(data))


def _float_npy(value: float):
    array = hf.good_mri().astype(np.float32) / 255
    array[5, 5] = value
    return _npy(array)


def _transparent(path: pathlib.Path) -> None:
    rgba = np.concatenate([hf.good_pet(), np.full((32, 32, 1), 255, np.uint8)], axis=-1)
    rgba[:4, :4, 3] = 0
    Image.fromarray(rgba).save(path)


def _negative_int_tiff(path: pathlib.Path) -> None:
    Image.fromarray(np.full((32, 32), -5, np.int32)).save(path)


BAD = [
    # bombs: headers declaring huge images over a few bytes
    Bad("png-bomb-30000", "bomb.png", "pet", _bytes(hf.png_header(30000, 30000)), "900,000,000 pixels"),
    Bad("png-bomb-10000", "bomb.png", "mri", _bytes(hf.png_header(10000, 10000)), "over the limit"),
    Bad("png-just-over-budget", "big.png", "pet", _bytes(hf.png_header(4097, 4096)), "4096x4097"),
    Bad("png-text-zlib-bomb", "ztxt.png", "mri", _bytes(hf.png_text_bomb()), "too large"),
    Bad("tiff-bomb", "bomb.tif", "pet", _bytes(hf.tiff_header(100000, 100000)), "decompression bomb"),
    Bad("tiff-over-budget", "big.tif", "mri", _bytes(hf.tiff_header(5000, 5000)), "over the limit"),
    Bad("bmp-bomb", "bomb.bmp", "pet", _bytes(hf.bmp_header(50000, 50000)), "decompression bomb"),
    Bad("jpeg-bomb", "bomb.jpg", "mri", _bytes(hf.jpeg_header(65000, 65000)), "decompression bomb"),
    Bad("jpeg-over-budget", "big.jpg", "pet", _bytes(hf.jpeg_header(5000, 5000)), "over the limit"),
    Bad("gif-over-budget", "big.gif", "pet", _bytes(hf.gif_header(5000, 5000)), "over the limit", folder=False),
    Bad("npy-header-40-GB", "bomb.npy", "mri", _bytes(hf.npy_header_only((100000, 100000))), "over the limit"),
    Bad("npy-header-over-budget", "big.npy", "pet", _bytes(hf.npy_header_only((4097, 4096, 3), "|u1")), "over the limit"),
    # .npy that are not arrays of numbers
    Bad("npy-object-pickle", "obj.npy", "pet", _npy(np.array([[object()] * 4] * 4), allow_pickle=True), "pickle"),
    Bad("raw-pickle-as-npy", "raw.npy", "mri", _bytes(hf.pickle_bytes()), "pickle"),
    Bad("npz-renamed-npy", "archive.npy", "pet", _bytes(hf.npz_bytes()), ".npz archive"),
    Bad("npy-no-magic", "text.npy", "mri", _bytes(b"just some text\n"), "not a NumPy .npy file"),
    Bad("npy-truncated-data", "short.npy", "mri", _npy_truncated_data, "truncated"),
    Bad("npy-truncated-header", "cut.npy", "pet", lambda p: p.write_bytes(hf.npy_bytes(hf.good_mri())[:20]), "corrupt"),
    Bad("npy-huge-header-length", "hdr.npy", "pet", _npy_huge_header_length, "corrupt"),
    Bad("npy-version-3", "v3.npy", "mri", _npy_version_3, "version 3.0"),
    Bad("npy-structured", "rec.npy", "pet", _npy(np.zeros((32, 32), [("r", "u1"), ("g", "u1")])), "structured"),
    Bad("npy-complex", "cplx.npy", "mri", _npy(np.zeros((32, 32), np.complex64)), "unsupported dtype"),
    Bad("npy-bool", "bool.npy", "mri", _npy(np.zeros((32, 32), bool)), "unsupported dtype"),
    Bad("npy-1d", "flat.npy", "pet", _npy(np.zeros(1024, np.uint8)), "shape"),
    Bad("npy-4d", "stack.npy", "mri", _npy(np.zeros((2, 32, 32, 1), np.uint8)), "shape"),
    # links and special files
    Bad("symlink-to-itself", "self.png", "mri", lambda p: os.symlink(p.name, p), "symbolic link loop"),
    Bad("symlink-loop-of-two", "loop.png", "pet", _loop_of_two, "symbolic link loop"),
    Bad("dangling-symlink", "gone.png", "pet", lambda p: os.symlink("does-not-exist.png", p), "broken symbolic link"),
    Bad("fifo", "pipe.png", "mri", lambda p: os.mkfifo(p), "not a regular file"),
    Bad("directory", "dir.png", "pet", lambda p: p.mkdir(), "directory", folder=False),
    # broken image files
    Bad("empty-file", "empty.png", "pet", _bytes(b""), "not a readable image"),
    Bad("truncated-png", "half.png", "pet", _truncated_png, "truncated"),
    Bad("png-bad-crc", "crc.png", "mri", _bad_crc_png, "corrupt"),
    Bad("random-bytes", "noise.png", "mri", _bytes(np.random.default_rng(3).bytes(4096)), "not a readable image"),
    Bad("text-as-png", "text.png", "pet", _bytes(b"<html>not an image</html>\n"), "not a readable image"),
    Bad("multi-page-tiff", "pages.tif", "mri", hf.multi_frame, "more than one frame"),
    Bad("animated-gif", "anim.gif", "pet", hf.multi_frame, "more than one frame", folder=False),
    Bad("animated-png", "anim.png", "pet", hf.multi_frame, "more than one frame"),
    Bad("cmyk-jpeg", "cmyk.jpg", "pet", lambda p: Image.fromarray(hf.good_pet()).convert("CMYK").save(p), "unsupported image mode"),
    Bad("int32-negative-tiff", "neg.tif", "mri", _negative_int_tiff, "outside 0..65535"),
    # readable files with unusable content
    Bad("transparent-rgba", "alpha.png", "pet", _transparent, "transparent"),
    Bad("mri-in-colour", "colour.png", "mri", lambda p: Image.fromarray(hf.good_pet()).save(p), "grayscale"),
    Bad("float-nan", "nan.npy", "mri", _float_npy(np.nan), "NaN"),
    Bad("float-inf", "inf.npy", "pet", _float_npy(np.inf), "infinite"),
    Bad("float-out-of-range", "hot.npy", "mri", _float_npy(1.5), "outside [0, 1]"),
    Bad("too-small", "tiny.png", "pet", lambda p: Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(p), "too small"),
    Bad("size-mismatch", "small.png", "pet", lambda p: Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(p), "does not match"),
]


def _layout(root: pathlib.Path, bad: Bad | None, *, size: int = 32):
    """MRI/, PET/ with the good pairs and (if given) the bad file and its good partner; OUT/ not created."""
    mri_dir, pet_dir, out_dir = root / "MRI", root / "PET", root / "OUT"
    mri_dir.mkdir()
    pet_dir.mkdir()
    for i, name in enumerate(GOOD):
        hf.save_image(mri_dir / name, hf.good_mri(size, seed=i))
        hf.save_image(pet_dir / name, hf.good_pet(size, seed=10 + i))
    if bad is None:
        return mri_dir, pet_dir, out_dir, None
    bad_dir, partner_dir = (mri_dir, pet_dir) if bad.side == "mri" else (pet_dir, mri_dir)
    partner = hf.good_pet(size) if bad.side == "mri" else hf.good_mri(size)
    hf.save_image(partner_dir / bad.name, partner)
    bad.make(bad_dir / bad.name)
    return mri_dir, pet_dir, out_dir, bad_dir / bad.name


@pytest.mark.parametrize("bad", BAD, ids=[b.id for b in BAD])
def test_single_pair(tmp_path, capsys, bad):
    mri_dir, pet_dir, out_dir, offender = _layout(tmp_path, bad)
    out_dir.mkdir()
    before = hf.snapshot(mri_dir, pet_dir)
    code, out, err = run(capsys, "fuse", mri_dir / bad.name, pet_dir / bad.name, "-o", out_dir / "fused.png")
    assert code == 1 and out == ""
    one_line(err, "jaxfuse: error: ", str(offender), bad.needle)
    assert listing(out_dir) == []
    assert hf.snapshot(mri_dir, pet_dir) == before


FOLDER_BAD = [b for b in BAD if b.folder]


@pytest.mark.parametrize("bad", FOLDER_BAD, ids=[b.id for b in FOLDER_BAD])
def test_folder_run(tmp_path, capsys, bad):
    mri_dir, pet_dir, out_dir, offender = _layout(tmp_path, bad)
    before = hf.snapshot(mri_dir, pet_dir)
    code, out, err = run(capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", out_dir, "--batch-size", "4", "--progress", "off")
    assert code == 1
    assert len(out.splitlines()) == 1 and out.startswith("fused 3 pairs, skipped 0, failed 1"), out
    one_line(err, f"jaxfuse: failed {bad.name}: ", str(offender), bad.needle)
    assert listing(out_dir) == GOOD  # every good pair written, nothing for the bad one, no temporary
    assert hf.snapshot(mri_dir, pet_dir) == before


EVALUATE_BAD = [b for b in BAD if b.id in ("png-bomb-30000", "npy-header-40-GB", "symlink-loop-of-two", "npy-object-pickle", "multi-page-tiff")]


@pytest.mark.parametrize("bad", EVALUATE_BAD, ids=[b.id for b in EVALUATE_BAD])
def test_evaluate(tmp_path, capsys, bad):
    mri_dir, pet_dir, _, offender = _layout(tmp_path, bad, size=64)  # the metrics need at least 41x41 (VIF)
    before = hf.snapshot(mri_dir, pet_dir)
    report = tmp_path / "report"
    code, out, err = run(capsys, "evaluate", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--methods", "average", "--report", report, "--progress", "off")
    assert code == 1
    one_line(err, f"jaxfuse: failed {bad.name}: ", str(offender), bad.needle)
    assert listing(report) == ["figure.png", "metrics.csv", "summary.md"]
    assert len((report / "metrics.csv").read_text().splitlines()) == 1 + len(GOOD)
    assert hf.snapshot(mri_dir, pet_dir) == before


# ------------------------------------------------------------------------------------ bad options


BAD_OPTIONS = [
    ("a-nan", ["--a", "nan"], "--a"),
    ("a-inf", ["--a", "inf"], "--a"),
    ("a-minus-inf", ["--a", "-inf"], "--a"),
    ("a-over-1", ["--a", "1.5"], "--a"),
    ("a-not-a-number", ["--a", "lots"], "--a"),
    ("b-negative", ["--b", "-1"], "--b"),
    ("b-nan", ["--b", "NaN"], "--b"),
    ("resize-negative", ["--resize", "-5"], "--resize"),
    ("resize-zero", ["--resize", "0"], "--resize"),
    ("resize-2", ["--resize", "2"], "--resize"),
    ("resize-over-budget", ["--resize", "5000"], "--resize"),
    ("max-pixels-zero", ["--max-pixels", "0"], "--max-pixels"),
    ("png-level-10", ["--png-level", "10"], "--png-level"),
    ("vgg19-option-for-dwt", ["--method", "dwt", "--b", "0.2"], "--b"),
    ("unknown-method", ["--method", "magic"], "--method"),
]


@pytest.mark.parametrize("extra, option", [c[1:] for c in BAD_OPTIONS], ids=[c[0] for c in BAD_OPTIONS])
def test_bad_option(tmp_path, capsys, extra, option):
    mri_dir, pet_dir, out_dir, _ = _layout(tmp_path, None)
    out_dir.mkdir()
    before = hf.snapshot(mri_dir, pet_dir)
    code, out, err = run(capsys, "fuse", mri_dir / GOOD[0], pet_dir / GOOD[0], "-o", out_dir / "f.png", *extra)
    assert code == 2 and out == ""
    one_line(err, "jaxfuse: error: ", option)
    assert listing(out_dir) == []
    assert hf.snapshot(mri_dir, pet_dir) == before


@pytest.mark.parametrize("extra, option", [(["--batch-size", "0"], "--batch-size"), (["--workers", "0"], "--workers")], ids=["batch-size-0", "workers-0"])
def test_bad_folder_option(tmp_path, capsys, extra, option):
    mri_dir, pet_dir, out_dir, _ = _layout(tmp_path, None)
    code, out, err = run(capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", out_dir, *extra)
    assert code == 2 and out == ""
    one_line(err, "jaxfuse: error: ", option)
    assert not out_dir.exists()


# ----------------------------------------------------------------------------------- bad outputs


def _good_pair(tmp_path: pathlib.Path, size: int = 32):
    mri_dir, pet_dir, out_dir, _ = _layout(tmp_path, None, size=size)
    return mri_dir / GOOD[0], pet_dir / GOOD[0], hf.snapshot(mri_dir, pet_dir), (mri_dir, pet_dir)


def test_output_is_an_existing_directory(tmp_path, capsys):
    mri, pet, before, inputs = _good_pair(tmp_path)
    target = tmp_path / "taken.png"
    target.mkdir()
    code, out, err = run(capsys, "fuse", mri, pet, "-o", target)
    assert code == 3 and out == ""
    one_line(err, "jaxfuse: error: ", str(target), "is a directory")
    assert listing(target) == [] and listing(tmp_path) == ["MRI", "PET", "taken.png"]
    assert hf.snapshot(*inputs) == before


def test_output_in_a_missing_folder(tmp_path, capsys):
    mri, pet, before, inputs = _good_pair(tmp_path)
    target = tmp_path / "nowhere" / "f.png"
    code, out, err = run(capsys, "fuse", mri, pet, "-o", target)
    assert code == 3 and out == ""
    one_line(err, "jaxfuse: error: ", str(target), "does not exist")
    assert not target.parent.exists()
    assert hf.snapshot(*inputs) == before


@pytest.mark.parametrize("via_link", [False, True], ids=["same-path", "through-a-link"])
def test_output_is_an_input(tmp_path, capsys, via_link):
    mri, pet, before, inputs = _good_pair(tmp_path)
    target = pet
    if via_link:
        target = tmp_path / "alias.png"
        os.symlink(pet, target)
    code, out, err = run(capsys, "fuse", mri, pet, "-o", target)
    assert code == 3 and out == ""
    one_line(err, "jaxfuse: error: ", str(target), "inputs are never overwritten")
    assert hf.snapshot(*inputs) == before


def test_folder_output_is_an_input_folder(tmp_path, capsys):
    mri, pet, before, (mri_dir, pet_dir) = _good_pair(tmp_path)
    code, out, err = run(capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", pet_dir)
    assert code == 3 and out == ""
    one_line(err, "jaxfuse: error: ", str(pet_dir), "inputs are never overwritten")
    assert hf.snapshot(mri_dir, pet_dir) == before


def test_folder_output_is_a_file(tmp_path, capsys):
    mri, pet, before, (mri_dir, pet_dir) = _good_pair(tmp_path)
    target = tmp_path / "out.txt"
    target.write_text("keep me")
    code, out, err = run(capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", target)
    assert code == 3 and out == ""
    one_line(err, "jaxfuse: error: ", str(target))
    assert target.read_text() == "keep me"
    assert hf.snapshot(mri_dir, pet_dir) == before


def test_report_folder_is_an_input_folder(tmp_path, capsys):
    mri, pet, before, (mri_dir, pet_dir) = _good_pair(tmp_path)
    code, out, err = run(capsys, "evaluate", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--methods", "average", "--report", mri_dir)
    assert code == 3 and out == ""
    one_line(err, "jaxfuse: error: ", str(mri_dir), "inputs are never overwritten")
    assert hf.snapshot(mri_dir, pet_dir) == before


def test_folder_one_output_name_is_a_directory(tmp_path, capsys):
    mri, pet, before, (mri_dir, pet_dir) = _good_pair(tmp_path)
    out_dir = tmp_path / "OUT"
    (out_dir / GOOD[1]).mkdir(parents=True)
    code, out, err = run(capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", out_dir, "--batch-size", "4")
    assert code == 1 and out.startswith("fused 2 pairs, skipped 0, failed 1"), out
    one_line(err, f"jaxfuse: failed {GOOD[1]}: ", str(out_dir / GOOD[1]), "directory")
    assert listing(out_dir) == GOOD
    assert listing(out_dir / GOOD[1]) == []


# ------------------------------------------------------------------------------------- full disks


def _no_space(monkeypatch) -> None:
    """Every PNG encode writes a few bytes, then fails as a full disk does."""

    import jaxfuse.io.images

    def full(image, **kwargs):  # the encoder's pieces: the first is written, then the disk is full
        yield b"\x89PNG partial"
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(jaxfuse.io.images, "png_chunks", full)


@pytest.fixture
def full_tmpfs(tmp_path):
    """A 64 KiB tmpfs filled to the last byte by a file ``filler``, or skip where mounting is not
    allowed (it needs root); unmounted afterwards."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        with open(mount / "filler", "wb", buffering=0) as filler:
            with pytest.raises(OSError) as info:
                while True:
                    filler.write(b"\0" * 4096)
            assert info.value.errno == errno.ENOSPC
    except BaseException:
        subprocess.run(["umount", str(mount)], check=True)
        raise
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_single_pair_full_disk_monkeypatched(tmp_path, capsys, monkeypatch):
    mri, pet, before, inputs = _good_pair(tmp_path)
    out_dir = tmp_path / "OUT"
    out_dir.mkdir()
    _no_space(monkeypatch)
    code, out, err = run(capsys, "fuse", mri, pet, "-o", out_dir / "f.png")
    assert code == 3 and out == ""
    one_line(err, "jaxfuse: error: ", str(out_dir / "f.png"), "No space left on device")
    assert listing(out_dir) == []
    assert hf.snapshot(*inputs) == before


def test_folder_run_full_disk_monkeypatched_stops_the_run(tmp_path, capsys, monkeypatch):
    mri, pet, before, (mri_dir, pet_dir) = _good_pair(tmp_path)
    out_dir = tmp_path / "OUT"
    _no_space(monkeypatch)
    code, out, err = run(capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", out_dir, "--batch-size", "4")
    assert code == 3 and out == ""  # one line for the run, not one failure per pair
    one_line(err, "jaxfuse: error: ", str(out_dir), "no space left on device; the run stopped")
    assert listing(out_dir) == []
    assert hf.snapshot(mri_dir, pet_dir) == before


def test_single_pair_full_tmpfs(tmp_path, capsys, full_tmpfs):
    mri, pet, before, inputs = _good_pair(tmp_path)
    code, out, err = run(capsys, "fuse", mri, pet, "-o", full_tmpfs / "f.png")
    assert code == 3 and out == ""
    one_line(err, "jaxfuse: error: ", str(full_tmpfs / "f.png"), "No space left on device")
    assert listing(full_tmpfs) == ["filler"]
    assert hf.snapshot(*inputs) == before


def test_folder_run_full_tmpfs(tmp_path, capsys, full_tmpfs):
    mri, pet, before, (mri_dir, pet_dir) = _good_pair(tmp_path)
    code, out, err = run(capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", full_tmpfs, "--batch-size", "4")
    assert code == 3 and out == ""
    one_line(err, "jaxfuse: error: ", str(full_tmpfs), "no space left on device; the run stopped")
    assert listing(full_tmpfs) == ["filler"]
    assert hf.snapshot(mri_dir, pet_dir) == before


# ------------------------------------------------------------------ unexpected exceptions in a pair


def test_unexpected_read_exception_is_that_pairs_failure(tmp_path, capsys, monkeypatch):
    import jaxfuse.pipeline

    mri, pet, before, (mri_dir, pet_dir) = _good_pair(tmp_path)
    real = jaxfuse.pipeline.read_pair

    def flaky(mri_path, pet_path, **kwargs):
        if pathlib.Path(mri_path).name == GOOD[1]:
            raise ZeroDivisionError("a decoder bug")
        return real(mri_path, pet_path, **kwargs)

    monkeypatch.setattr(jaxfuse.pipeline, "read_pair", flaky)
    out_dir = tmp_path / "OUT"
    code, out, err = run(capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", out_dir, "--batch-size", "4")
    assert code == 1 and out.startswith("fused 2 pairs, skipped 0, failed 1"), out
    one_line(err, f"jaxfuse: failed {GOOD[1]}: ", "reading failed (ZeroDivisionError: a decoder bug)")
    assert GOOD[1] not in listing(out_dir) and GOOD[0] in listing(out_dir)


def test_unexpected_fusion_exception_fails_only_its_batch(tmp_path, capsys, monkeypatch):
    import jaxfuse.methods

    mri, pet, before, (mri_dir, pet_dir) = _good_pair(tmp_path)
    real = jaxfuse.methods.batch_fuser
    calls = []

    def fuser(*args, **kwargs):
        fuse = real(*args, **kwargs)

        def flaky(mri, pet):
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("RESOURCE_EXHAUSTED (simulated)")
            return fuse(mri, pet)

        return flaky

    monkeypatch.setattr(jaxfuse.methods, "batch_fuser", fuser)
    out_dir = tmp_path / "OUT"
    code, out, err = run(capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", out_dir, "--batch-size", "1")
    assert code == 1 and out.startswith("fused 2 pairs, skipped 0, failed 1"), out
    one_line(err, f"jaxfuse: failed {GOOD[1]}: ", "fusing failed (RuntimeError: RESOURCE_EXHAUSTED (simulated))")
    assert listing(out_dir) == [GOOD[0], GOOD[2]]


def test_unexpected_write_exception_is_that_pairs_failure(tmp_path, capsys, monkeypatch):
    import jaxfuse.io.outputs

    mri, pet, before, (mri_dir, pet_dir) = _good_pair(tmp_path)
    real = jaxfuse.io.outputs.write_png

    def flaky(path, image, **kwargs):
        if pathlib.Path(path).name == GOOD[2]:
            raise TypeError("an encoder bug")
        return real(path, image, **kwargs)

    monkeypatch.setattr(jaxfuse.io.outputs, "write_png", flaky)
    out_dir = tmp_path / "OUT"
    code, out, err = run(capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", out_dir, "--batch-size", "4")
    assert code == 1 and out.startswith("fused 2 pairs, skipped 0, failed 1"), out
    one_line(err, f"jaxfuse: failed {GOOD[2]}: ", "writing failed (TypeError: an encoder bug)")
    assert listing(out_dir) == [GOOD[0], GOOD[1]]
