"""Writing files safely: atomic writes, stale temporaries of killed runs, never overwriting inputs.

Every output of jaxfuse is written through :func:`atomic_write`: a temporary file beside the
destination, then a rename, so a crash, a ``kill -9`` or a full disk never leaves a partial file
under the destination's name. A temporary is named ``.<name>.jxf<host>-<pid>.<random>.tmp``:
``<host>`` is 8 hex digits identifying this machine and PID namespace, ``<pid>`` the writer's
process id. A run killed mid-write leaves its temporary behind; :func:`clean_stale_temporaries`
(run by the command line on every output folder before writing) removes a temporary only when
its name has this machine's tag, its writer's pid is not alive, and it was last modified more than
:data:`STALE_AFTER_SECONDS` ago. A live run's temporaries are therefore never touched, even from
another machine sharing the folder (another tag) or when a pid has been reused (alive: kept).

A failed write raises the system's ``OSError`` with the destination (not the temporary) as its
``filename``; :func:`describe_os_error` renders any such error as one line naming the file.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pathlib
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from typing import BinaryIO

__all__ = [
    "OutputError",
    "atomic_write",
    "describe_os_error",
    "clean_stale_temporaries",
    "refuse_overwriting_inputs",
    "STALE_AFTER_SECONDS",
    "RUN_LEVEL_ERRNOS",
    "run_level_error",
]

#: A temporary of a dead writer is removed once it is this old (seconds since its last write).
#: A live writer's temporary is never removed, whatever its age: this guard only covers a pid
#: wrongly judged dead (e.g. two containers with one hostname and PID namespace inode).
STALE_AFTER_SECONDS = 60.0

#: ``errno`` values that make every further write fail too: the run stops instead of failing each
#: pair in turn (full disk, quota exceeded, read-only file system).
RUN_LEVEL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})

_NAME_KEEP = 100  # characters of the destination's name kept in a temporary's name (NAME_MAX is 255 bytes)


class OutputError(OSError):
    """An output that cannot be written; ``str(error)`` is ``"<path>: <problem>"``.

    ``errno`` is the underlying error number where there is one (e.g. ``errno.ENOSPC``).
    """

    def __init__(self, path: os.PathLike | str, problem: str, error_number: int | None = None):
        super().__init__(error_number, problem, str(path))
        self.path = str(path)
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def _host_tag() -> str:
    """8 hex digits naming this machine and PID namespace (pids are only comparable within one)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()}\0{namespace}".encode()).hexdigest()[:8]


_HOST_TAG = _host_tag()
_TEMP_NAME = re.compile(r"^\..*\.jxf(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)\.[A-Za-z0-9_]+\.tmp$", re.DOTALL)


def _name_destination(error: OSError, path: pathlib.Path) -> OSError:
    """The error, reporting ``path`` (not the temporary, nor no file at all) as the file concerned."""
    if error.errno is None:  # e.g. an encoder's OSError("..."): its str would be garbled by a filename
        return OutputError(path, f"cannot write ({error})")
    error.filename, error.filename2 = str(path), None
    return error


def _create_temporary(path: pathlib.Path) -> tuple[int, str]:
    """A new, empty temporary beside ``path`` named as the module docstring says: ``(fd, name)``.

    Created with mode 0666 and ``O_EXCL``, so the kernel applies the process's umask at creation
    as it does to any new file (``tempfile.mkstemp`` makes 0600, and fixing that afterwards needs
    the umask, which can only be read by setting it, racing other threads, or from Linux's
    ``/proc/self/status``)."""
    prefix = f".{path.name[:_NAME_KEEP]}.jxf{_HOST_TAG}-{os.getpid()}."
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        name = os.path.join(path.parent, f"{prefix}{secrets.token_hex(4)}.tmp")
        try:
            return os.open(name, flags, 0o666), name
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))


def atomic_write(path: os.PathLike | str, write: Callable[[BinaryIO], object]) -> None:
    """Calls ``write(handle)`` on a temporary file beside ``path``, then renames it to ``path``.

    The new file's mode follows the umask; on any error the temporary file is removed and an
    existing ``path`` is left untouched, so no partial file is ever seen under ``path``.

    Raises:
        OSError: creating, writing or renaming failed; its type and ``errno`` are the system's
            (e.g. ``IsADirectoryError``, ``errno.ENOSPC``) and its ``filename`` is ``path``.
        Exception: whatever ``write`` raises other than ``OSError`` (e.g. an encoder's error).
    """
    path = pathlib.Path(path)
    try:
        descriptor, tmp_name = _create_temporary(path)
    except OSError as error:
        raise _name_destination(error, path) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
        os.replace(tmp_name, path)
    except BaseException as error:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        if isinstance(error, OSError) and not isinstance(error, OutputError):
            raise _name_destination(error, path) from None
        raise


def describe_os_error(error: OSError) -> str:
    """One line ``"<file>: <problem>"`` for an ``OSError`` (its file name first where it has one)."""
    if isinstance(error, OutputError):
        return str(error)
    problem = error.strerror or str(error) or type(error).__name__
    if error.filename is None:
        return problem
    if error.filename2 is not None:
        return f"{error.filename} -> {error.filename2}: {problem}"
    return f"{error.filename}: {problem}"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


def clean_stale_temporaries(folder: os.PathLike | str, *, min_age: float = STALE_AFTER_SECONDS) -> list[pathlib.Path]:
    """Removes the temporaries that killed jaxfuse writers left in ``folder`` (not recursive).

    A file is removed only if its name is a jaxfuse temporary of this machine (see the module
    docstring), its writer's pid is not alive, and its last modification is more than ``min_age``
    seconds ago. Anything else, including every file not named like a temporary, is left alone.

    Returns:
        The removed paths (empty when ``folder`` does not exist).
    """
    folder = pathlib.Path(folder)
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if not match or match["host"] != _HOST_TAG or _pid_alive(int(match["pid"])):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False) or now - info.st_mtime <= min_age:
                continue
            os.unlink(entry.path)
            removed.append(pathlib.Path(entry.path))
        except FileNotFoundError:  # another cleaner was first
            continue
    return removed


def _same_path(output: pathlib.Path, source: pathlib.Path) -> bool:
    try:
        if output.exists() and source.exists() and os.path.samefile(output, source):
            return True
    except OSError:
        pass
    return os.path.realpath(output) == os.path.realpath(source)  # realpath, unlike resolve, never raises on a link loop


def refuse_overwriting_inputs(output: os.PathLike | str, inputs: Iterable[os.PathLike | str], *, what: str = "output") -> None:
    """The one guard that inputs are never overwritten: ``output`` (a file or folder) must not be
    any of ``inputs`` (the same path, or the same file through a link).

    Args:
        output: the file or folder about to be written.
        inputs: the input files or folders of the run.
        what: how the message calls ``output`` (e.g. ``"output folder"``, ``"report folder"``).

    Raises:
        OutputError: ``output`` is one of ``inputs``.
    """
    output = pathlib.Path(output)
    for source in inputs:
        if _same_path(output, pathlib.Path(source)):
            raise OutputError(output, f"{what} is the input {source}; inputs are never overwritten")


def run_level_error(error: OSError, path: pathlib.Path) -> OutputError | None:
    """The run-stopping form of a failed write to ``path``, or None if only that pair failed.

    Run level: no space or quota left, a read-only file system, or the destination folder gone.
    """
    if error.errno in RUN_LEVEL_ERRNOS:
        return OutputError(path, f"{os.strerror(error.errno).lower()}; the run stopped", error.errno)
    if error.errno in (errno.ENOENT, errno.ENOTDIR) and not path.parent.is_dir():
        return OutputError(path.parent, "the output folder disappeared during the run; the run stopped", error.errno)
    return None
