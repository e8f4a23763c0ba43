"""Data-parallel fusion over devices with ``jax.sharding`` (one host or many).

Pairs are independent, so data parallelism needs no collective: the batch axis is sharded over a
one-axis device mesh and ``jax.shard_map`` runs the ordinary fusion kernel on each device's slice.
This module only builds the mesh, pads the batch to a multiple of the device count and places
the inputs.

Multi-host: call ``jax.distributed.initialize(...)`` in every process first; then
``data_parallel_mesh()`` spans every device of every process, and each process passes its *own*
pairs to :func:`fuse_process_local` (a runnable two-process example: ``docs/multihost_example.py``).
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jax.typing import ArrayLike

from jaxfuse._batching import pad_batch
from jaxfuse.core.fusion import fuse

__all__ = ["BATCH_AXIS", "data_parallel_mesh", "shard_batch", "fuse_sharded", "fuse_process_local"]

#: Name of the mesh axis the batch is split over.
BATCH_AXIS = "batch"


def data_parallel_mesh(devices=None) -> Mesh:
    """A one-axis mesh named :data:`BATCH_AXIS` over ``devices`` (default: all devices, all hosts)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (BATCH_AXIS,))


def shard_batch(array: ArrayLike, mesh: Mesh) -> jax.Array:
    """Places ``[N, ...]`` on ``mesh`` split along axis 0 (``N`` must divide by the mesh size)."""
    return jax.device_put(array, NamedSharding(mesh, PartitionSpec(BATCH_AXIS)))


def fuse_sharded(mri: ArrayLike, pet: ArrayLike, *, mesh: Mesh | None = None, **options) -> jax.Array:
    """:func:`jaxfuse.fuse` with the batch split over the devices of ``mesh`` (single process).

    Args:
        mri: ``[N, H, W]``; pet: ``[N, H, W, 3]`` or ``[N, H, W]`` (as :func:`jaxfuse.fuse`).
        mesh: a mesh from :func:`data_parallel_mesh` (default: all local devices).
        **options: keyword options of :func:`jaxfuse.fuse` (``a``, ``b``, ``output_dtype``, ...).

    Returns:
        ``[N, H, W, 3]`` sharded over ``mesh`` along the batch axis; the same bytes as
        ``jaxfuse.fuse(mri, pet, **options)`` on one device.
    """
    mesh = data_parallel_mesh(jax.local_devices()) if mesh is None else mesh
    size = mesh.devices.size
    mri, pet = (x if isinstance(x, jax.Array) else np.asarray(x) for x in (mri, pet))
    count = mri.shape[0]
    mri, pet = pad_batch((mri, pet), -(-count // size) * size)
    fused = _fuse_per_shard(shard_batch(mri, mesh), shard_batch(pet, mesh), mesh, options)
    return fused[:count] if fused.shape[0] != count else fused


def _fuse_per_shard(mri: jax.Array, pet: jax.Array, mesh: Mesh, options: dict) -> jax.Array:
    """Runs :func:`jaxfuse.fuse` on each addressable shard, on that shard's device, and assembles
    the results as one array sharded like the input.

    Every device runs exactly the single-device program on its local pairs (dispatch is
    asynchronous, so the devices work concurrently), which is what makes the bytes identical to
    a single-device run; a partitioned or ``shard_map``-inlined program may fuse differently.
    """
    shards_mri = sorted(mri.addressable_shards, key=lambda s: s.index[0].start or 0)
    shards_pet = sorted(pet.addressable_shards, key=lambda s: s.index[0].start or 0)
    outputs = [fuse(m.data, p.data, **options) for m, p in zip(shards_mri, shards_pet)]
    shape = (mri.shape[0],) + outputs[0].shape[1:]
    sharding = NamedSharding(mesh, PartitionSpec(BATCH_AXIS))
    return jax.make_array_from_single_device_arrays(shape, sharding, outputs)


def fuse_process_local(mri: np.ndarray, pet: np.ndarray, *, mesh: Mesh | None = None, **options) -> np.ndarray:
    """Multi-host fusion: each process gives its own ``[n, ...]`` pairs and gets its own results.

    Every process must call this together (SPMD) with the same ``n``, shapes and options, after
    ``jax.distributed.initialize``. ``n`` must divide by the number of local devices.

    Returns:
        This process's fused images, ``[n, H, W, 3]`` NumPy.
    """
    mesh = data_parallel_mesh() if mesh is None else mesh
    sharding = NamedSharding(mesh, PartitionSpec(BATCH_AXIS))
    global_mri = jax.make_array_from_process_local_data(sharding, np.asarray(mri))
    global_pet = jax.make_array_from_process_local_data(sharding, np.asarray(pet))
    fused = _fuse_per_shard(global_mri, global_pet, mesh, options)
    local = [shard.data for shard in sorted(fused.addressable_shards, key=lambda s: s.index[0].start or 0)]
    return np.concatenate([np.asarray(x) for x in local])
