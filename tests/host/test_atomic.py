"""jaxfuse.io.atomic: temporaries named by writer, errors naming the destination, stale-temporary
cleaning that never touches a live writer's file, and the never-overwrite-inputs guard.

Writers that die mid-write are real processes killed with SIGKILL while inside ``atomic_write``;
they load ``jaxfuse/io/atomic.py`` by path (it imports nothing of jaxfuse), so each starts in a
fraction of a second instead of importing JAX.
"""

from __future__ import annotations

import errno
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

import jaxfuse.io.atomic as atomic
from jaxfuse.io.atomic import (
    OutputError,
    atomic_write,
    clean_stale_temporaries,
    describe_os_error,
    refuse_overwriting_inputs,
)

_WRITER = """
import importlib.util, os, sys, time
spec = importlib.util.spec_from_file_location("atomic", sys.argv[1])
atomic = importlib.util.module_from_spec(spec)
spec.loader.exec_module(atomic)
def write(handle):
    handle.write(b"partial bytes")
    handle.flush()
    print(os.readlink(f"/proc/self/fd/{handle.fileno()}"), flush=True)
    time.sleep(600)
atomic.atomic_write(sys.argv[2], write)
"""


@pytest.fixture
def writer(tmp_path):
    """Starts a process blocked inside ``atomic_write(path)``; returns ``(process, temporary path)``."""
    processes = []

    def start(path: pathlib.Path):
        process = subprocess.Popen([sys.executable, "-c", _WRITER, atomic.__file__, str(path)], stdout=subprocess.PIPE, text=True)
        processes.append(process)
        temporary = pathlib.Path(process.stdout.readline().strip())
        assert temporary.parent == path.parent and temporary.exists()
        return process, temporary

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()


def _age(path: pathlib.Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def _killed(process) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_temporary_name_carries_the_writer_pid(tmp_path):
    seen = []
    atomic_write(tmp_path / "out.png", lambda handle: seen.append(pathlib.Path(os.readlink(f"/proc/self/fd/{handle.fileno()}")).name))
    assert seen[0].startswith(".out.png.jxf") and f"-{os.getpid()}." in seen[0] and seen[0].endswith(".tmp")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664), (0o000, 0o666)])
def test_new_files_follow_the_umask_set_after_import(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write(tmp_path / "out.png", lambda handle: handle.write(b"ok"))
    finally:
        os.umask(old)
    assert oct(os.stat(tmp_path / "out.png").st_mode & 0o777) == oct(mode)


def test_a_taken_temporary_name_is_skipped(tmp_path, monkeypatch):
    draws = iter(["aaaaaaaa", "aaaaaaaa", "bbbbbbbb"])
    monkeypatch.setattr(atomic.secrets, "token_hex", lambda n: next(draws))
    seen = []
    atomic_write(tmp_path / "one.png", lambda handle: handle.write(b"1"))
    # the second write draws the first name again: that temporary exists (left by a writer that
    # is still alive), so it draws another instead of opening it
    taken = tmp_path / f".two.png.jxf{atomic._HOST_TAG}-{os.getpid()}.aaaaaaaa.tmp"
    taken.write_bytes(b"someone else's")
    atomic_write(tmp_path / "two.png", lambda handle: seen.append(os.readlink(f"/proc/self/fd/{handle.fileno()}")) or handle.write(b"2"))
    assert pathlib.Path(seen[0]).name.endswith(".bbbbbbbb.tmp")
    assert taken.read_bytes() == b"someone else's" and (tmp_path / "two.png").read_bytes() == b"2"


def test_a_very_long_name_still_gets_a_temporary(tmp_path):
    name = "x" * 240 + ".png"  # the temporary keeps 100 characters of it: within NAME_MAX
    atomic_write(tmp_path / name, lambda handle: handle.write(b"ok"))
    assert (tmp_path / name).read_bytes() == b"ok"


def test_errors_name_the_destination_not_the_temporary(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        atomic_write(tmp_path / "missing" / "out.png", lambda handle: None)
    assert info.value.filename == str(tmp_path / "missing" / "out.png")
    (tmp_path / "taken.png").mkdir()
    with pytest.raises(IsADirectoryError) as info:
        atomic_write(tmp_path / "taken.png", lambda handle: handle.write(b"x"))
    assert describe_os_error(info.value) == f"{tmp_path / 'taken.png'}: Is a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.png"]


def test_full_disk_is_reported_with_the_destination(tmp_path):
    def full(handle):
        handle.write(b"some")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError) as info:
        atomic_write(tmp_path / "out.png", full)
    assert info.value.errno == errno.ENOSPC
    assert describe_os_error(info.value) == f"{tmp_path / 'out.png'}: No space left on device"
    assert list(tmp_path.iterdir()) == []


def test_encoder_oserror_without_errno_names_the_destination(tmp_path):
    def broken(handle):
        raise OSError("encoder error -2")

    with pytest.raises(OutputError) as info:
        atomic_write(tmp_path / "out.png", broken)
    assert str(info.value) == f"{tmp_path / 'out.png'}: cannot write (encoder error -2)"
    assert list(tmp_path.iterdir()) == []


def test_a_live_writers_temporary_is_kept_and_a_killed_ones_removed(tmp_path, writer):
    process, temporary = writer(tmp_path / "out.png")
    _age(temporary, 3600)
    assert clean_stale_temporaries(tmp_path) == []  # alive: kept, however old
    assert temporary.exists()
    _killed(process)
    assert temporary.exists()  # kill -9 leaves it behind
    assert clean_stale_temporaries(tmp_path) == [temporary]
    assert list(tmp_path.iterdir()) == []


def test_a_killed_writers_fresh_temporary_waits_for_the_age_limit(tmp_path, writer):
    process, temporary = writer(tmp_path / "out.png")
    _killed(process)
    assert clean_stale_temporaries(tmp_path) == []  # younger than STALE_AFTER_SECONDS
    _age(temporary, atomic.STALE_AFTER_SECONDS + 5)
    assert clean_stale_temporaries(tmp_path) == [temporary]


def test_cleaning_leaves_everything_else_alone(tmp_path, writer):
    process, temporary = writer(tmp_path / "out.png")
    _killed(process)
    tag = temporary.name.split(".jxf", 1)[1][:8]
    pid = process.pid
    others = [
        tmp_path / f".out.png.jxf{'0' * 8 if tag != '0' * 8 else '1' * 8}-{pid}.abc123.tmp",  # another machine's
        tmp_path / ".notes.tmp",  # not ours
        tmp_path / f"out.png.jxf{tag}-{pid}.abc123.tmp",  # not hidden: not a temporary name
        tmp_path / "out.png",
    ]
    for path in others:
        path.write_bytes(b"keep")
    folder_like = tmp_path / f".dir.jxf{tag}-{pid}.abc123.tmp"
    folder_like.mkdir()
    for path in [*others, folder_like, temporary]:
        _age(path, 3600)
    assert clean_stale_temporaries(tmp_path) == [temporary]
    assert all(path.exists() for path in [*others, folder_like])
    assert clean_stale_temporaries(tmp_path / "no-such-folder") == []


def test_guard_refuses_inputs_by_path_link_and_hard_link(tmp_path):
    source = tmp_path / "mri.png"
    source.write_bytes(b"input")
    os.symlink(source, tmp_path / "alias.png")
    os.link(source, tmp_path / "hard.png")
    for output in (source, tmp_path / "alias.png", tmp_path / "hard.png", tmp_path / "sub" / ".." / "mri.png"):
        with pytest.raises(OutputError, match="inputs are never overwritten") as info:
            refuse_overwriting_inputs(output, [source], what="output path")
        assert str(info.value).startswith(f"{output}: output path is the input")
    refuse_overwriting_inputs(tmp_path / "other.png", [source])  # fine
    os.symlink("loop.png", tmp_path / "loop.png")
    refuse_overwriting_inputs(tmp_path / "other.png", [tmp_path / "loop.png"])  # a loop input: no RuntimeError
    assert source.read_bytes() == b"input"
