"""The numba peer against the independent float64 reference of ``peers.py`` (not in CI's testpaths).

PYTHONPATH=$PWD python -m pytest -q -p no:cacheprovider benchmarks/test_numba_peer.py
"""

import numpy as np
import peers
import pytest

numba = pytest.importorskip("numba")


@pytest.fixture(scope="module")
def numba_fuse():
    import numba_peer

    kernel, bias = peers._vgg_params64()
    return numba_peer.build_numba_fuse(kernel, bias)


def _inputs(count, height, width, seed):
    rng = np.random.default_rng(seed)
    mri = rng.integers(0, 256, (count, height, width), dtype=np.uint8)
    pet = rng.integers(0, 256, (count, height, width, 3), dtype=np.uint8)
    pet[:, : height // 3, : width // 3] = 0  # black PET pixels: the F-in-every-band branch
    mri[:, -2:, :] = 0
    return mri, pet


# batch 1 (fewer pairs than threads: the row-block path, several blocks at 70 rows) and batch 3
# (one pair per task); odd sizes exercise the border columns and rows of the mean-term fix-up.
@pytest.mark.parametrize("count, height, width", [(1, 70, 33), (3, 17, 23), (2, 64, 64)])
def test_matches_float64_reference(numba_fuse, count, height, width):
    mri, pet = _inputs(count, height, width, seed=count * 1000 + height)
    got = numba_fuse(mri, pet)
    want = peers.numpy_reference(mri, pet)
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
    assert got.dtype == np.uint8 and got.shape == pet.shape
    assert diff.max() <= 1  # float32 against float64: rounding ties only
    assert (diff > 0).mean() < 0.01


def test_batch_invariant(numba_fuse):
    mri, pet = _inputs(4, 40, 40, seed=7)
    whole = numba_fuse(mri, pet)
    for n in range(4):
        np.testing.assert_array_equal(numba_fuse(mri[n : n + 1], pet[n : n + 1])[0], whole[n])


def test_rejects_mismatched_shapes(numba_fuse):
    mri, pet = _inputs(1, 8, 8, seed=0)
    with pytest.raises(ValueError, match="need uint8"):
        numba_fuse(mri, pet[:, :4])
