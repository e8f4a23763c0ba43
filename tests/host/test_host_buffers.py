"""jaxfuse._host_buffers: aligned copies equal their source, and the CPU backend uses them in place;
the allocator settings are made where glibc is and the user set none, the volume folders' only by
a volume folder run of several pairs."""

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


@pytest.mark.parametrize("setting", ["return_freed_blocks", "keep_freed_blocks"])
def test_allocator_settings_are_made_where_there_is_glibc_and_the_user_chose_none(setting, monkeypatch):
    import platform

    import jaxfuse._host_buffers

    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert getattr(jaxfuse._host_buffers, setting)() is glibc  # False (and nothing changed) elsewhere
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")  # the user's own choice stands
    assert getattr(jaxfuse._host_buffers, setting)() is False


def test_volume_folder_mode_keeps_freed_blocks_only_for_more_than_one_pair(tmp_path, monkeypatch):
    import jaxfuse._host_buffers
    import jaxfuse.volume.cli as volume_cli
    from jaxfuse.cli import build_parser

    calls = []
    monkeypatch.setattr(jaxfuse._host_buffers, "keep_freed_blocks", lambda: calls.append(1) or True)
    monkeypatch.setattr(volume_cli, "_fuse_one", lambda *args, **kwargs: ["wrote it"])  # no fusing here
    for count in (1, 2):
        mri_dir, pet_dir = tmp_path / f"mri{count}", tmp_path / f"pet{count}"
        mri_dir.mkdir(), pet_dir.mkdir()
        for n in range(count):
            (mri_dir / f"{n}.nii.gz").write_bytes(b"")
            (pet_dir / f"{n}.nii.gz").write_bytes(b"")
        argv = ["fuse", "--mri-dir", str(mri_dir), "--pet-dir", str(pet_dir), "--out-dir", str(tmp_path / f"out{count}")]
        assert volume_cli.run(build_parser().parse_args(argv)) == 0
        assert len(calls) == count - 1
