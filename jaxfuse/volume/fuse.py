"""Fusing a scalar PET/SPECT volume with an MRI volume, every slice through the 2-D kernel (SPEC section 7).

The path of :func:`fuse_volumes`, one step each:

1. inputs (nibabel images, paths of NIfTI files or DICOM folders, or :class:`~jaxfuse.io.Volume`)
   become float32 ``[X, Y, Z]`` values with a voxel -> RAS+ mm affine (:func:`as_volume`);
2. the MRI is viewed in its closest canonical (RAS+) orientation
   (:func:`jaxfuse.volume.slicing.to_canonical`, flips and axis swaps only: a view, no copy);
3. the MRI's voxels are laid out as the stack of slices of SPEC section 7 (radiological layout,
   :func:`jaxfuse.volume.slicing.volume_to_slices`), and the PET is resampled straight onto that
   stack's grid: trilinear, world -> PET voxel through ``inv(A_pet) @ A_mri``, or
   ``inv(A_pet) @ T @ A_mri`` with a registration's ``transform`` ``T`` (composed with the
   stack's index map, :func:`jaxfuse.volume.batches.slice_layout`), zero outside the PET's field
   of view, with the voxels inside that field of view marked by the same compiled program
   (:func:`jaxfuse.volume.resample.resample_with_field_of_view`, in one piece: forward only, XLA fuses it);
4. windows, once per volume (:mod:`jaxfuse.volume.windows`): the MRI min-max (or ``mri_window``),
   the PET ``p0,p99.5`` of the voxels inside its field of view (or ``pet_window``);
5. chunks of ``batch_slices`` slices (contiguous blocks of the stacks) are windowed and coloured
   (:func:`jaxfuse.volume.batches.kernel_inputs`), fused by one compiled kernel call per chunk (all
   calls the same size, see :func:`jaxfuse.volume.batches.chunk_starts`) and brought back to the
   canonical layout, all on the device;
6. each fused chunk is written into the canonical view of an array in the MRI's own voxel order, so
   the result has the MRI's voxel order and affine exactly, with no copy back. That array's memory
   is laid out as a NIfTI file stores RGB24 voxels (:func:`jaxfuse.io.volumes.rgb24_layout`), so
   :meth:`FusedVolume.save` writes it without a copy; the device hands each chunk over already in
   that memory order, so the host copy is a block copy.

Compilation: the method's fuser is built and its kernel compiled on a worker thread as soon as the
MRI's slice size is known, while the PET is read and resampled on the calling thread (XLA compiles
without holding the GIL, so the two compilations overlap); the fuser is kept for later volumes with
the same slice size and options. Nothing here changes JAX's configuration; JAX's own persistent
compilation cache (``JAX_COMPILATION_CACHE_DIR``) works as usual if the user switches it on.

Memory: the MRI and the resampled PET as float32 on the device, the output as uint8 RGB on the
host, and one chunk of slices at a time through the kernel.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import math
import os
import threading
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxfuse._host_buffers import aligned_copy
from jaxfuse.io._volume import Volume, check_affine, finite_float32
from jaxfuse.io.images import ImageError
from jaxfuse.methods import METHODS, batch_fuser
from jaxfuse.volume.batches import Fuser, chunk_inputs, chunk_starts, slice_fuser, slice_layout
from jaxfuse.volume.colormap import COLORMAPS
from jaxfuse.volume.resample import grid_to_grid, resample_with_field_of_view
from jaxfuse.volume.slicing import AXES, slices_to_volume, to_canonical, volume_to_slices
from jaxfuse.volume.windows import DEFAULT_PET_WINDOW, WindowSpec, parse_window, resolve_window

__all__ = ["DEFAULT_BATCH_SLICES", "FusedVolume", "as_volume", "fuse_volumes"]

#: Slices per kernel call (every call has this many, so one program serves all; see chunk_starts).
DEFAULT_BATCH_SLICES = 64


@functools.partial(jax.jit, static_argnames=("axis", "order", "flips"))
def _slab_in_memory_order(fused, *, axis: str, order: tuple[int, ...], flips: tuple[bool, ...]):
    """Fused slices ``[n, H, W, 3]`` -> their canonical block, axes ``order``-ed and ``flips``-ed
    so that it lies as the output's memory does (the host copy is then a plain block copy)."""
    slab = slices_to_volume(fused, axis=axis).transpose(order)
    return slab[tuple(slice(None, None, -1) if flip else slice(None) for flip in flips)]


def _memory_order(view: np.ndarray) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    """Axes (outermost first) and flips that make ``view`` run forwards through its memory:
    ``view.transpose(order)[flips]`` has positive strides, largest first."""
    order = tuple(sorted(range(view.ndim), key=lambda a: -abs(view.strides[a])))
    return order, tuple(view.strides[a] < 0 for a in order)


def _flip(array, flips: tuple[bool, ...]):
    return array[tuple(slice(None, None, -1) if flip else slice(None) for flip in flips)]


# A method's fuser is built and compiled on a worker thread while the PET is read and resampled
# (XLA compiles without holding the GIL, so the kernel's compilation overlaps the resampling's), and
# kept for the next volume of the same slice size: building it traces the kernel once more. The
# cache holds the worker's future from the start, so volumes fused at once (folder mode) share
# one compilation, and its failure (a volume waiting on it gets the same error); a failed one is
# then dropped, and the next volume to ask compiles again.
_FUSERS: dict = {}
_FUSERS_LOCK = threading.Lock()


def _fuser_key(method: str, options: dict, *, size: int, height: int, width: int, gray: bool) -> tuple | None:
    """The cache key of a method's fuser, or None where an option is not a plain value (not cached)."""
    if not all(isinstance(v, bool | int | float | str) for v in options.values()):
        return None
    return (method, tuple(sorted(options.items())), size, height, width, gray, jax.default_backend())


def _prepared_fuser(method: str, options: dict, *, size: int, height: int, width: int, gray: bool) -> Fuser:
    mri = np.zeros((size, height, width), np.float32)
    pet = np.zeros((size, height, width) + (() if gray else (3,)), np.uint8)
    # The method as it is first: compiling it is the size check (slice_fuser's shape probe would
    # trace the kernel once more, a quarter of a second of the cold job); padded only if refused.
    fuser = batch_fuser(method, output_dtype=jnp.uint8, **options)
    try:
        jax.block_until_ready(fuser(mri, pet))  # compiles the program every chunk runs
    except ValueError:  # a size the method cannot take (e.g. the DWT's multiples of 16)
        fuser = slice_fuser(method, height=height, width=width, **options)
        jax.block_until_ready(fuser(mri, pet))
    return fuser


def _cached_fuser(method: str, options: dict, **shapes) -> concurrent.futures.Future:
    """The future of the method's compiled fuser for these slices: the cached one, else a new one
    being compiled on a worker thread (cached at once where the options allow a key)."""
    key = _fuser_key(method, options, **shapes)
    with _FUSERS_LOCK:
        future = _FUSERS.get(key) if key is not None else None
        if future is not None:
            return future
        future = _in_background(_prepared_fuser, method, options, **shapes)
        if key is not None:
            _FUSERS[key] = future
    if key is not None:  # outside the lock: a future already done calls back at once
        future.add_done_callback(functools.partial(_forget_failed, key))
    return future


def _forget_failed(key: tuple, future: concurrent.futures.Future) -> None:
    if future.exception() is not None:
        with _FUSERS_LOCK:
            if _FUSERS.get(key) is future:
                del _FUSERS[key]


def _in_background(function, /, *args, **kwargs) -> concurrent.futures.Future:
    """``function(*args, **kwargs)`` on a new thread; its result or error through the future."""
    future: concurrent.futures.Future = concurrent.futures.Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(function(*args, **kwargs))
            except BaseException as error:  # noqa: BLE001 - handed to the caller by result()
                future.set_exception(error)

    threading.Thread(target=run, name="jaxfuse-kernel").start()
    return future


def as_volume(image, *, role: str = "image") -> Volume:
    """An input as a checked :class:`~jaxfuse.io.Volume` (float32 ``[X, Y, Z]``, float64 affine).

    Args:
        image: a :class:`~jaxfuse.io.Volume`; a path of a ``.nii``/``.nii.gz`` file or of a folder
            holding one DICOM series (read with :func:`jaxfuse.io.read_volume`); or a nibabel
            spatial image (``get_fdata()`` values, i.e. ``scl_slope``/``scl_inter`` applied, and
            its ``affine``).
        role: ``"MRI"`` or ``"PET"``, for messages about in-memory images.

    Raises:
        ImageError: unreadable file, not 3-D, non-finite values or a degenerate affine.
        TypeError: anything else.
    """
    if isinstance(image, Volume):
        volume = image
    elif isinstance(image, str | os.PathLike):
        from jaxfuse.io.volumes import read_volume

        return read_volume(image)
    elif hasattr(image, "affine") and hasattr(image, "get_fdata"):
        name = image.get_filename() if hasattr(image, "get_filename") and image.get_filename() else f"<{role} image>"
        shape = tuple(image.shape)
        while len(shape) > 3 and shape[-1] == 1:
            shape = shape[:-1]
        if len(shape) != 3:
            raise ImageError(name, f"is {len(image.shape)}-D (shape {tuple(image.shape)}); need a 3-D volume (pick one frame)")
        data = np.asarray(image.get_fdata(dtype=np.float64)).reshape(shape).astype(np.float32)
        volume = Volume(data=data, affine=np.asarray(image.affine, np.float64), path=str(name))
    else:
        raise TypeError(f"{role}: need a nibabel image, a path or a jaxfuse.io.Volume, got {type(image).__name__}")
    path = volume.path or f"<{role} volume>"
    data = np.asarray(volume.data)
    if data.ndim != 3:
        raise ImageError(path, f"has shape {data.shape}; need a 3-D volume [X, Y, Z]")
    data = finite_float32(path, data.astype(np.float32, copy=False))
    return dataclasses.replace(volume, data=data, affine=check_affine(path, volume.affine), path=path)


@dataclasses.dataclass(frozen=True)
class FusedVolume:
    """The fused volume on the MRI's grid.

    Attributes:
        rgb: uint8 ``[X, Y, Z, 3]``, in the MRI's voxel order.
        affine: float64 ``[4, 4]``, the MRI's voxel -> RAS+ mm affine.
        description: how it was made (stored in the NIfTI header, at most 79 bytes are kept).
        axis: the slice orientation fused (``"axial"``, ``"coronal"`` or ``"sagittal"``).
        method: the fusion method (``"custom"`` for a caller's ``fuser``).
        pet_cmap: the palette the PET was coloured with.
        mri_window, pet_window: ``(lo, hi)`` used, in each image's units.
        pet_units: the PET's units (``"SUVbw"``, ``"Bq/ml"`` or ``""``).
        timings: seconds per stage (``resample``, ``window``, ``colour``, ``fuse``, ``assemble``).
    """

    rgb: np.ndarray
    affine: np.ndarray
    description: str
    axis: str
    method: str
    pet_cmap: str
    mri_window: tuple[float, float]
    pet_window: tuple[float, float]
    pet_units: str = ""
    timings: dict = dataclasses.field(default_factory=dict)

    def to_nifti(self):
        """The result as a ``nibabel.Nifti1Image`` with NIfTI ``RGB24`` voxels and the MRI's affine."""
        import nibabel as nib

        from jaxfuse.io.volumes import RGB_DTYPE, rgb24_memory

        # [X, Y, Z] RGB24 over the file-ordered memory: no copy for fuse_volumes' own output
        voxels = rgb24_memory(self.rgb).view("V3")[..., 0].view(RGB_DTYPE).transpose(2, 1, 0)
        image = nib.Nifti1Image(voxels, self.affine)
        image.header.set_data_dtype(RGB_DTYPE)
        image.header.set_xyzt_units("mm")
        image.header["descrip"] = self.description.encode("utf-8")[:79]
        return image

    def save(self, path: os.PathLike | str, **options) -> None:
        """Writes ``.nii``/``.nii.gz`` RGB24 atomically (:func:`jaxfuse.io.write_rgb_nifti`)."""
        from jaxfuse.io.volumes import write_rgb_nifti

        write_rgb_nifti(path, self.rgb, self.affine, description=self.description, **options)

    def slices(self, axis: str | None = None) -> np.ndarray:
        """uint8 ``[N, H, W, 3]``: the slices in the radiological layout of SPEC section 7."""
        canonical = to_canonical(self.rgb, self.affine)[0]
        return np.asarray(volume_to_slices(canonical, axis=axis or self.axis))

    def slice_positions(self, axis: str | None = None) -> np.ndarray:
        """float64 ``[N]``: world position (mm along R, A or S) of each slice's centre, in slice order."""
        axis = axis or self.axis
        canonical, canonical_affine = to_canonical(self.rgb, self.affine)[:2]
        dim = AXES[axis]
        centre = (np.asarray(canonical.shape[:3], np.float64) - 1) / 2
        index = np.tile(np.append(centre, 1.0), (canonical.shape[dim], 1))
        index[:, dim] = np.arange(canonical.shape[dim])
        return (index @ np.asarray(canonical_affine).T)[:, dim]


def _world_box(volume: Volume, to_world: np.ndarray | None = None) -> np.ndarray:
    """``[2, 3]``: min and max world coordinate (mm) of the volume's voxel centres (seen through
    ``to_world @ affine`` when ``to_world`` is given)."""
    corners = np.array([[i, j, k, 1.0] for i in (0, volume.shape[0] - 1) for j in (0, volume.shape[1] - 1) for k in (0, volume.shape[2] - 1)])
    affine = volume.affine if to_world is None else to_world @ volume.affine
    world = corners @ affine.T
    return np.stack([world[:, :3].min(0), world[:, :3].max(0)])


def _no_overlap(mri: Volume, pet: Volume, transform: np.ndarray | None = None) -> ImageError:
    fmt = lambda box: " x ".join(f"[{lo:.1f}, {hi:.1f}]" for lo, hi in box.T)  # noqa: E731
    if transform is None:
        mri_box, hint = _world_box(mri), "are both in the same world space?"
    else:
        mri_box, hint = _world_box(mri, transform), "is the transform right?"
    return ImageError(
        pet.path,
        f"no overlap with the MRI's field of view ({mri.path}{' through the transform' if transform is not None else ''}): "
        f"PET voxels span {fmt(_world_box(pet))} mm, MRI voxels span {fmt(mri_box)} mm (RAS); {hint}",
    )


def _check_transform(transform) -> np.ndarray | None:
    """``transform`` as float64 ``[4, 4]`` with an exact last row (None stays None)."""
    if transform is None:
        return None
    matrix = np.asarray(transform, np.float64)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise ValueError(f"transform must be a finite [4, 4] matrix, got shape {matrix.shape}")
    if not np.allclose(matrix[3], [0.0, 0.0, 0.0, 1.0], atol=1e-6):
        raise ValueError(f"transform's last row must be [0, 0, 0, 1], got {matrix[3].tolist()}")
    if abs(np.linalg.det(matrix[:3, :3])) < 1e-6:
        raise ValueError("transform is singular")
    matrix[3] = [0.0, 0.0, 0.0, 1.0]
    return matrix


def _index_along(dim: int, start: int, stop: int) -> tuple[slice, ...]:
    return (slice(None),) * dim + (slice(start, stop),)


def fuse_volumes(
    mri,
    pet,
    *,
    method: str = "vgg19",
    pet_cmap: str = "pet",
    pet_window: str | tuple | WindowSpec | None = DEFAULT_PET_WINDOW,
    mri_window: str | tuple | WindowSpec | None = None,
    axis: str = "axial",
    batch_slices: int = DEFAULT_BATCH_SLICES,
    fuser: Fuser | None = None,
    progress: Callable[[int, int], None] | None = None,
    transform=None,
    **options,
) -> FusedVolume:
    """Fuses a scalar PET/SPECT volume with an MRI volume, slice by slice, as SPEC section 7 fixes.

    Args:
        mri: the anatomical volume: a nibabel image, a path (``.nii``, ``.nii.gz`` or a DICOM
            series folder) or a :class:`~jaxfuse.io.Volume`. Its grid, voxel order and affine are
            the output's.
        pet: the functional volume (Bq/ml, SUVbw, any scalar), same forms, on any grid that
            overlaps the MRI's in world space.
        method: a key of :data:`jaxfuse.METHODS` (default the paper's ``vgg19``).
        pet_cmap: a palette name of :data:`jaxfuse.volume.colormap.COLORMAPS` (default ``"pet"``,
            DICOM PS3.6 Annex B); ``"gray"`` fuses the PET as a gray image.
        pet_window: ``"pLO,pHI"`` percentiles of the PET voxels inside its field of view (default
            ``"p0,p99.5"``), ``"LO,HI"`` or ``(lo, hi)`` in the PET's units, ``None`` min-max.
        mri_window: the same forms over all MRI voxels; default ``None``: min-max of the volume.
        axis: ``"axial"`` (default), ``"coronal"`` or ``"sagittal"`` slices.
        batch_slices: slices per kernel call (>= 1; default 64), which bounds the kernel's memory.
        fuser: instead of ``method``, a ``(mri float32 [N, H, W] in [0, 1], pet uint8 [N, H, W, 3]
            (or [N, H, W] for gray)) -> uint8 [N, H, W, 3]`` function.
        progress: called as ``progress(slices_done, slices_total)`` after each chunk.
        transform: ``[4, 4]`` map from MRI world (RAS mm) to PET world (RAS mm), e.g. from
            :func:`jaxfuse.registration.register_rigid`: the MRI voxel at world point ``x`` is
            given the PET's value at ``transform @ x``. Default None: the identity (the PET is
            already registered in world space).
        **options: the vgg19 method's options (``a``, ``b``, ``normalisation``, ``reduction``,
            ``colour_space``).

    Returns:
        A :class:`FusedVolume`: uint8 ``[X, Y, Z, 3]`` on the MRI's grid, with the MRI's affine.

    Raises:
        ImageError: an unreadable or unusable input (naming its file), or no overlap between the
            PET's and the MRI's fields of view.
        ValueError: an unknown method, palette or axis, a bad window, a transform that is not a
            finite invertible ``[4, 4]`` affine, or options for a method that takes none.

    Example:
        >>> result = fuse_volumes("t1.nii.gz", "fdg.nii.gz", pet_window="p1,p99")  # doctest: +SKIP
        >>> result.save("fused.nii.gz")  # doctest: +SKIP
    """
    if axis not in AXES:
        raise ValueError(f"axis must be one of {', '.join(AXES)}, got {axis!r}")
    if pet_cmap not in COLORMAPS:
        raise ValueError(f"unknown colour map {pet_cmap!r}; known: {', '.join(COLORMAPS)}")
    if fuser is None and method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    if batch_slices < 1:
        raise ValueError(f"batch_slices must be >= 1, got {batch_slices}")
    pet_spec = parse_window(pet_window, what="pet_window")
    mri_spec = parse_window(mri_window, what="mri_window")
    transform = _check_transform(transform)
    if fuser is not None and options:
        raise ValueError(f"options {', '.join(sorted(options))} apply to a method, not to a custom fuser")
    mri = as_volume(mri, role="MRI")
    canonical_mri, canonical_affine = to_canonical(mri.data, mri.affine)[:2]
    slice_view, canonical_shape = volume_to_slices(canonical_mri, axis=axis), canonical_mri.shape  # a view
    total, height, width = slice_view.shape
    size, dim, done = min(batch_slices, total), AXES[axis], 0
    prepared, name = None, "custom"
    if fuser is None:
        batch_fuser(method, output_dtype=jnp.uint8, **options)  # option errors now, not after the reading
        shapes = {"size": size, "height": height, "width": width, "gray": pet_cmap == "gray"}
        prepared, name = _cached_fuser(method, options, **shapes), method  # compiling while the PET is resampled
    pet = as_volume(pet, role="PET")
    timings: dict[str, float] = dict.fromkeys(("resample", "window", "colour", "fuse", "assemble"), 0.0)
    no_overlap = _no_overlap(mri, pet, transform)
    box_mri, box_pet = _world_box(mri, transform), _world_box(pet)
    if np.any(box_mri[0] > box_pet[1] + 1e-3) or np.any(box_pet[0] > box_mri[1] + 1e-3):
        raise no_overlap
    clock = time.perf_counter()
    mri_affine, mri_shape, mri_lohi = mri.affine, mri.shape, resolve_window(mri.data, mri_spec)
    timings["window"] = time.perf_counter() - clock

    clock = time.perf_counter()
    # The slice stack is the working grid, so each chunk of slices is one contiguous block. Only
    # the device copy of the MRI is kept from here on (the host arrays go if nobody else holds them).
    mri_slices = jax.device_put(aligned_copy(slice_view))  # on a CPU: used in place, not copied again
    del mri, canonical_mri, slice_view

    mri_to_pet_world = canonical_affine if transform is None else transform @ canonical_affine
    voxel_map = grid_to_grid(pet.affine, mri_to_pet_world) @ slice_layout(canonical_shape, axis=axis)
    # One chunk: without a gradient to take, XLA fuses the whole resampling into one loop that
    # holds no intermediates, so chunks would only add a loop (measured: the same peak memory for
    # a 512x512x400 grid, 1.5x faster, and a third less to compile).
    whole = math.prod(mri_slices.shape)
    pet_slices, inside = resample_with_field_of_view(pet.data, voxel_map, out_shape=mri_slices.shape, chunk_voxels=whole)
    inside = np.asarray(inside)
    timings["resample"] = time.perf_counter() - clock
    if not inside.any():
        raise no_overlap

    clock = time.perf_counter()
    pet_lohi = resolve_window(np.asarray(pet_slices), pet_spec, mask=inside)
    pet_units = pet.units
    del inside, pet
    timings["window"] += time.perf_counter() - clock

    from jaxfuse.io.volumes import rgb24_layout  # here: nibabel and pydicom load on first use

    # The output is laid out as the NIfTI file stores it (jaxfuse.io.volumes.rgb24_layout), so
    # writing it needs no copy; `canonical_out` is a view of it in the canonical orientation.
    memory, out = rgb24_layout(mri_shape)
    canonical_out = to_canonical(out, mri_affine)[0]
    if not np.shares_memory(canonical_out, memory):
        raise RuntimeError("to_canonical copied the output array; expected a view")
    order, flips = _memory_order(canonical_out)
    kept_axis = order.index(dim)
    for start in chunk_starts(total, size):
        clock = time.perf_counter()
        mri_unit, pet_image = jax.block_until_ready(
            chunk_inputs(mri_slices, pet_slices, start, size=size, mri_window=mri_lohi, pet_window=pet_lohi, cmap=pet_cmap)
        )
        timings["colour"] += time.perf_counter() - clock
        clock = time.perf_counter()
        if prepared is not None:  # waiting for the kernel's compilation counts as fusing
            if not prepared.done():  # rather than wait idle, compile the hand-back of the chunks
                _slab_in_memory_order(np.zeros((size, height, width, 3), np.uint8), axis=axis, order=order, flips=flips)
            fuser, prepared = prepared.result(), None  # (raises the worker's errors)
        fused = jax.block_until_ready(fuser(mri_unit, pet_image))
        timings["fuse"] += time.perf_counter() - clock
        clock = time.perf_counter()
        slab = _flip(np.asarray(_slab_in_memory_order(fused, axis=axis, order=order, flips=flips)), flips)
        kept = _flip(slab[_index_along(kept_axis, done - start, size)], flips)
        _flip(canonical_out[_index_along(dim, done, start + size)].transpose(order), flips)[...] = kept
        done = start + size
        timings["assemble"] += time.perf_counter() - clock
        if progress is not None:
            progress(done, total)

    units = f" {pet_units}" if pet_units else ""
    description = (
        f"jaxfuse {name} {axis}; PET {pet_cmap} {pet_lohi[0]:.4g}-{pet_lohi[1]:.4g}{units}; "
        f"MRI {mri_lohi[0]:.4g}-{mri_lohi[1]:.4g}"
    )
    return FusedVolume(
        rgb=out,
        affine=mri_affine,
        description=description,
        axis=axis,
        method=name,
        pet_cmap=pet_cmap,
        mri_window=mri_lohi,
        pet_window=pet_lohi,
        pet_units=pet_units,
        timings=timings,
    )
