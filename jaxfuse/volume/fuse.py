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
   of view (:func:`jaxfuse.volume.resample.resample`, which works in bounded chunks);
   :func:`jaxfuse.volume.resample.field_of_view` marks the voxels inside that field of view;
4. windows, once per volume (:mod:`jaxfuse.volume.windows`): the MRI min-max (or ``mri_window``),
   the PET ``p0,p99.5`` of the voxels inside its field of view (or ``pet_window``);
5. chunks of ``batch_slices`` slices (contiguous blocks of the stacks) are windowed and coloured
   (:func:`jaxfuse.volume.batches.kernel_inputs`), fused by one compiled kernel call per chunk (all
   calls the same size, see :func:`jaxfuse.volume.batches.chunk_starts`) and brought back to the
   canonical layout, all on the device;
6. each fused chunk is written into the canonical view of an array in the MRI's own voxel order, so
   the result has the MRI's voxel order and affine exactly, with no copy back.

Memory: the MRI and the resampled PET as float32 on the device, the output as uint8 RGB on the
host, and one chunk of slices at a time through the kernel.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxfuse.io._volume import Volume, check_affine, finite_float32
from jaxfuse.io.images import ImageError
from jaxfuse.methods import METHODS
from jaxfuse.volume.batches import Fuser, chunk_inputs, chunk_starts, slice_fuser, slice_layout
from jaxfuse.volume.colormap import COLORMAPS
from jaxfuse.volume.resample import field_of_view, grid_to_grid, resample
from jaxfuse.volume.slicing import AXES, slices_to_volume, to_canonical, volume_to_slices
from jaxfuse.volume.windows import DEFAULT_PET_WINDOW, WindowSpec, parse_window, resolve_window

__all__ = ["DEFAULT_BATCH_SLICES", "FusedVolume", "as_volume", "fuse_volumes"]

#: Slices per kernel call (every call has this many, so one program serves all; see chunk_starts).
DEFAULT_BATCH_SLICES = 64


@functools.partial(jax.jit, static_argnames=("axis",))
def _canonical_slab(fused, *, axis: str):
    return slices_to_volume(fused, axis=axis)


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

        from jaxfuse.io.volumes import RGB_DTYPE

        voxels = np.ascontiguousarray(self.rgb).view("V3")[..., 0].view(RGB_DTYPE)
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
    mri, pet = as_volume(mri, role="MRI"), as_volume(pet, role="PET")
    timings: dict[str, float] = dict.fromkeys(("resample", "window", "colour", "fuse", "assemble"), 0.0)
    no_overlap = _no_overlap(mri, pet, transform)
    box_mri, box_pet = _world_box(mri, transform), _world_box(pet)
    if np.any(box_mri[0] > box_pet[1] + 1e-3) or np.any(box_pet[0] > box_mri[1] + 1e-3):
        raise no_overlap
    clock = time.perf_counter()
    mri_affine, mri_shape, mri_lohi = mri.affine, mri.shape, resolve_window(mri.data, mri_spec)
    timings["window"] = time.perf_counter() - clock

    clock = time.perf_counter()
    canonical_mri, canonical_affine = to_canonical(mri.data, mri_affine)[:2]
    slice_view, canonical_shape = volume_to_slices(canonical_mri, axis=axis), canonical_mri.shape  # a view
    total, height, width = slice_view.shape
    if fuser is None:
        fuser, name = slice_fuser(method, height=height, width=width, **options), method
    elif options:
        raise ValueError(f"options {', '.join(sorted(options))} apply to a method, not to a custom fuser")
    else:
        name = "custom"
    # The slice stack is the working grid, so each chunk of slices is one contiguous block. Only
    # the device copy of the MRI is kept from here on (the host arrays go if nobody else holds them).
    mri_slices = jnp.asarray(np.ascontiguousarray(slice_view))
    del mri, canonical_mri, slice_view

    mri_to_pet_world = canonical_affine if transform is None else transform @ canonical_affine
    voxel_map = grid_to_grid(pet.affine, mri_to_pet_world) @ slice_layout(canonical_shape, axis=axis)
    pet_slices = resample(pet.data, voxel_map, out_shape=mri_slices.shape)
    inside = np.asarray(field_of_view(pet.shape, voxel_map, out_shape=mri_slices.shape))
    timings["resample"] = time.perf_counter() - clock
    if not inside.any():
        raise no_overlap

    clock = time.perf_counter()
    pet_lohi = resolve_window(np.asarray(pet_slices), pet_spec, mask=inside)
    pet_units = pet.units
    del inside, pet
    timings["window"] += time.perf_counter() - clock

    out = np.zeros(mri_shape + (3,), np.uint8)
    canonical_out = to_canonical(out, mri_affine)[0]  # a view: writing it fills `out` in the MRI's order
    if not np.shares_memory(canonical_out, out):
        raise RuntimeError("to_canonical copied the output array; expected a view")
    size, dim, done = min(batch_slices, total), AXES[axis], 0
    for start in chunk_starts(total, size):
        clock = time.perf_counter()
        mri_unit, pet_image = jax.block_until_ready(
            chunk_inputs(mri_slices, pet_slices, start, size=size, mri_window=mri_lohi, pet_window=pet_lohi, cmap=pet_cmap)
        )
        timings["colour"] += time.perf_counter() - clock
        clock = time.perf_counter()
        fused = jax.block_until_ready(fuser(mri_unit, pet_image))
        timings["fuse"] += time.perf_counter() - clock
        clock = time.perf_counter()
        slab = np.asarray(_canonical_slab(fused, axis=axis))  # [size, H, W, 3] -> canonical, on the device
        canonical_out[_index_along(dim, done, start + size)] = slab[_index_along(dim, done - start, size)]
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
