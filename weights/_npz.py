"""The npz writer of the weights/ scripts: reproducible bytes, written atomically, sha256 returned."""

from __future__ import annotations

import hashlib
import io
import os
import pathlib

import numpy as np

__all__ = ["write_npz"]


def write_npz(out: pathlib.Path, arrays: dict[str, np.ndarray]) -> str:
    """Writes ``arrays`` as an uncompressed npz (temporary file, then rename); returns its sha256 (hex).

    ``np.savez`` writes zip entries with a fixed timestamp, so the same arrays give the same bytes.
    """
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return hashlib.sha256(data).hexdigest()
