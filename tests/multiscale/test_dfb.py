"""The directional filter bank alone: perfect reconstruction for every level count and filter,
critical sampling, orientations tiling the half plane, selectivity on pure tones, errors."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from multiscale.helpers import TOL, rand, rel_err

from jaxfuse.multiscale import dfb


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
def test_dfb_alone_is_perfect_reconstruction(k):
    with jax.enable_x64(True):
        x = rand((32, 48), seed=k, dtype=np.float64)
        subbands = dfb.directional_filter_bank(x, k=k)
        assert len(subbands) == 2**k
        assert sum(s.size for s in subbands) == x.size  # critically sampled
        assert rel_err(dfb.inverse_directional_filter_bank(subbands), x) <= TOL[np.float64]


@pytest.mark.parametrize("name", sorted(dfb.DFB_FILTERS))
def test_dfb_every_filter_is_perfect_reconstruction(name):
    x = rand((16, 16), seed=1)
    subbands = dfb.directional_filter_bank(x, k=3, dfb_filter=name)
    y = dfb.inverse_directional_filter_bank(subbands, dfb_filter=name)
    assert rel_err(y, x) <= TOL[np.float32]
    beta = np.asarray(dfb.DFB_FILTERS[name])
    np.testing.assert_allclose(beta.sum(), 1.0, atol=1e-12)  # beta(0) = 1
    np.testing.assert_allclose(beta, beta[::-1])


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
def test_orientations_tile_the_half_plane(k):
    ranges = dfb.dfb_orientations(k)
    assert len(ranges) == 2**k
    assert ranges[0][0] == pytest.approx(-45) and ranges[-1][1] == pytest.approx(135)
    for (_, hi), (lo, _) in zip(ranges[:-1], ranges[1:]):
        assert hi == pytest.approx(lo)
    # Wedges are bounded by equally spaced slopes: tan(theta) on [-45, 45].
    if k >= 2:
        slopes = [np.tan(np.radians(lo)) for lo, _ in ranges[: 2 ** (k - 1)]]
        np.testing.assert_allclose(np.diff(slopes), 2.0 ** (2 - k), atol=1e-12)


def test_dfb_selectivity_on_periodic_tones():
    """Every pure tone near a wedge centre goes (> 80%) to that wedge (k = 3, alone)."""
    n, radius = 64, 0.35  # cycles per pixel
    y, x = np.mgrid[0:n, 0:n]
    ranges = dfb.dfb_orientations(3)
    batch, expected = [], []
    for i, (lo, hi) in enumerate(ranges):
        t = np.radians((lo + hi) / 2)
        m1, m0 = round(n * radius * np.cos(t)), round(n * radius * np.sin(t))
        batch.append(np.cos(2 * np.pi * (m1 * x + m0 * y) / n).astype(np.float32))
        expected.append(i)
    bank = jax.jit(jax.vmap(functools.partial(dfb.directional_filter_bank, k=3)))
    energies = np.stack([np.sum(np.square(s), axis=(1, 2)) for s in bank(np.stack(batch))], 1)
    fractions = energies / energies.sum(1, keepdims=True)
    assert np.all(fractions[np.arange(8), expected] > 0.8), fractions


def test_dfb_errors():
    with pytest.raises(ValueError, match="divisible"):
        dfb.directional_filter_bank(np.zeros((12, 16), np.float32), k=4)
    with pytest.raises(ValueError, match="subband"):
        dfb.inverse_directional_filter_bank([np.zeros((4, 4))] * 3)
