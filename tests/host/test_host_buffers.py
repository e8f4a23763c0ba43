"""jaxfuse._host_buffers: aligned copies equal their source, and the CPU backend uses them in place."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxfuse._host_buffers import ALIGNMENT, aligned_copy


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(1, 9), min_size=1, max_size=4),
    dtype=st.sampled_from([np.uint8, np.int16, np.float32, np.float64]),
    view=st.sampled_from(["plain", "transposed", "flipped", "strided", "fortran"]),
    seed=st.integers(0, 2**16),
)
def test_copy_equals_any_view_and_is_aligned(shape, dtype, view, seed):
    base = (np.random.default_rng(seed).normal(size=shape) * 50).astype(dtype)
    source = {
        "plain": base,
        "transposed": base.T,
        "flipped": base[..., ::-1],
        "strided": base[..., ::2],
        "fortran": np.asfortranarray(base),
    }[view]
    copy = aligned_copy(source)
    assert copy.shape == source.shape and copy.dtype == source.dtype
    np.testing.assert_array_equal(copy, source)
    assert copy.flags["C_CONTIGUOUS"] and copy.ctypes.data % ALIGNMENT == 0
    assert not np.shares_memory(copy, source)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="aliasing of host memory is a CPU-backend property")
def test_cpu_backend_takes_the_copy_in_place():
    # what fuse_volumes relies on for speed: device_put of the MRI stack costs no second copy
    copy = aligned_copy(np.arange(3 * 1024 * 1024, dtype=np.float32).reshape(3, 1024, 1024)[:, ::-1])
    device = jax.device_put(copy)
    assert device.unsafe_buffer_pointer() == copy.ctypes.data
    np.testing.assert_array_equal(np.asarray(device), copy)
