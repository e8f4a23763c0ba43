"""Helpers shared by the multiscale tests: random images and the two error measures."""

from __future__ import annotations

import numpy as np

#: One table of tolerances (reconstruction-type checks), by dtype.
TOL = {np.float32: 1e-5, np.float64: 1e-10}


def rel_err(got, want) -> float:
    """Max abs error relative to the max abs reference value, computed in float64."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))


def l2_err(got, want) -> float:
    """``||got - want|| / ||want||`` (Frobenius norms), computed in float64."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.linalg.norm(got - want) / np.linalg.norm(want))


def rand(shape, seed=0, dtype=np.float32) -> np.ndarray:
    """Uniform [0, 1) image of ``shape``, reproducible from ``seed``."""
    return np.random.default_rng(seed).random(shape).astype(dtype)
