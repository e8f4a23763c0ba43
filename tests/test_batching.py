"""The shared batching frame: flatten, plan, pad, run, shape buckets."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxfuse import _batching as B


def test_flatten_pair_shapes_and_errors():
    flat = B.flatten_pair(np.zeros((2, 3, 8, 9), np.uint8), np.zeros((2, 3, 8, 9, 3), np.uint8))
    assert flat.mri.shape == (6, 8, 9) and flat.pet.shape == (6, 8, 9, 3) and flat.pet_is_rgb
    assert flat.batch_shape == (2, 3)
    assert not B.flatten_pair(np.zeros((8, 9)), np.zeros((8, 9))).pet_is_rgb
    with pytest.raises(ValueError, match=r"\(8, 9, 3\)"):
        B.flatten_pair(np.zeros((8, 9)), np.zeros((8, 10, 3)))
    with pytest.raises(TypeError, match="int32"):
        B.flatten_pair(np.zeros((8, 9), np.int32), np.zeros((8, 9)))


@pytest.mark.parametrize("count", [1, 2, 3, 8, 9])
def test_batch_plan(count):
    size, group = B.batch_plan(count, "cpu")
    assert size % B.CPU_GROUP_SIZE == 0 and count <= size < count + B.CPU_GROUP_SIZE and group == B.CPU_GROUP_SIZE
    assert B.batch_plan(count, "gpu") == (max(count, 2), None)
    assert B.batch_plan(count, "cpu", grouped=False) == (max(count, 2), None)


@pytest.mark.parametrize("xp", [np, jnp])
def test_pad_batch_repeats_the_first_item(xp):
    a = xp.asarray(np.arange(12).reshape(3, 4))
    (padded,) = B.pad_batch((a,), 5)
    np.testing.assert_array_equal(np.asarray(padded), np.concatenate([np.arange(12).reshape(3, 4), [[0, 1, 2, 3]] * 2]))
    assert B.pad_batch((a,), 3)[0] is a


def test_run_batched_slices_and_restores_leading_dims():
    seen = {}

    def kernel(mri, pet, *, pet_is_rgb, group):
        seen.update(size=mri.shape[0], group=group, rgb=pet_is_rgb)
        return mri[..., None] + jnp.zeros(mri.shape + (3,), mri.dtype)

    mri = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    out = B.run_batched(kernel, mri, np.zeros((3, 4, 5, 3), np.float32))
    assert out.shape == (3, 4, 5, 3) and seen["rgb"]
    np.testing.assert_array_equal(np.asarray(out[..., 0]), mri)
    assert seen["size"] >= 3


def test_output_dtype_check():
    assert B.output_is_uint8(np.uint8) and not B.output_is_uint8(jnp.float32)
    with pytest.raises(ValueError, match="int16"):
        B.output_is_uint8(np.int16)


def test_shape_buckets_hand_out_full_batches_then_the_rest_in_order():
    buckets = B.ShapeBuckets(2)
    assert buckets.add("a", 1) is None
    assert buckets.add("b", 2) is None
    assert buckets.add("a", 3) == [1, 3]
    assert buckets.add("c", 4) is None
    assert list(buckets.drain()) == [[2], [4]]
    with pytest.raises(ValueError, match=">= 1"):
        B.ShapeBuckets(0)


def test_pair_key_separates_shapes_and_dtypes():
    m, p = np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.uint8)
    assert B.pair_key(m, p) != B.pair_key(m.astype(np.uint16), p)
    assert B.pair_key(m, p) != B.pair_key(m, p[..., 0])
