"""Shared fixtures: the Harvard data in ../shared (read in place, never copied into the repo)."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable

import numpy as np
import pytest
from PIL import Image

DATA_ROOT = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "harvard"


def require_data(subdir: str = "PET-MRI", *, files: Iterable[str] = ()) -> pathlib.Path:
    """The data folder, or fail (CI) / skip (elsewhere) when it, or one of ``files`` (paths
    relative to it), is missing."""
    folder = DATA_ROOT / subdir
    missing = [name for name in files if not (folder / name).is_file()]
    if not folder.is_dir() or missing:
        message = f"test data missing: {folder}" + (f" ({', '.join(missing)})" if missing else "")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return folder


def load_real_pairs(count: int, *, subdir: str = "PET-MRI", functional: str = "PET"):
    """``count`` real pairs, evenly spread over the sorted ids: uint8 MRI [N,H,W], PET [N,H,W,3]."""
    folder = require_data(subdir)
    names = sorted(p.name for p in (folder / "MRI").glob("*.png"))
    picks = [names[i] for i in np.linspace(0, len(names) - 1, count).astype(int)]
    mri = np.stack([np.asarray(Image.open(folder / "MRI" / n).convert("L")) for n in picks])
    pet = np.stack([np.asarray(Image.open(folder / functional / n).convert("RGB")) for n in picks])
    return picks, mri, pet


@pytest.fixture(scope="session")
def real_pairs():
    return load_real_pairs(24)
