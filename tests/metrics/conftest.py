"""Fixtures of the metrics tests: random uint8 triples and two real Harvard pairs."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_data
from metrics.reference import REAL_IDS, smooth_random


@pytest.fixture(scope="session")
def rand():
    """Four 64x64 triples: fused RGB, MRI gray, PET RGB (uint8)."""
    rng = np.random.default_rng(0)
    m = smooth_random(rng, (4, 64, 64))
    p = smooth_random(rng, (4, 64, 64, 3))
    p[:, :8] = 0  # a black band, like the scans' background
    m[:, :, :8] = 0
    f = ((m[..., None].astype(np.int32) + p) // 2).astype(np.uint8)
    return f, m, p


@pytest.fixture(scope="session")
def real():
    """Two real Harvard PET-MRI pairs (256x256) and an averaging stand-in fusion."""
    from PIL import Image

    folder = require_data("PET-MRI", files=[f"{kind}/{i}.png" for kind in ("MRI", "PET") for i in REAL_IDS])
    paths = [(folder / "MRI" / f"{i}.png", folder / "PET" / f"{i}.png") for i in REAL_IDS]
    m = np.stack([np.asarray(Image.open(a).convert("L")) for a, _ in paths])
    p = np.stack([np.asarray(Image.open(b).convert("RGB")) for _, b in paths])
    f = ((m[..., None].astype(np.int32) + p) // 2).astype(np.uint8)
    return f, m, p
