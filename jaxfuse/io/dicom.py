"""Reading one DICOM series (one file per slice) as a :class:`~jaxfuse.io.volumes.Volume` (NumPy).

Voxel axes: pydicom's ``pixel_array`` is ``[rows, columns]``; the volume is ``data[x, y, z]`` with
x = column index, y = row index, z = slice index after sorting along the slice normal
``n = r x c`` (``r``, ``c`` = first and last three values of ImageOrientationPatient: the direction
of increasing column index, and of increasing row index). PixelSpacing is ``[row spacing, column
spacing]``: the distance between rows (a step along ``c``) first. In DICOM's LPS+ patient space
voxel ``(x, y, z)`` lies at ``P_0 + x * dc * r + y * dr * c + z * s``, where ``dr, dc`` =
PixelSpacing, ``P_0`` = ImagePositionPatient of the first sorted slice and ``s`` the mean step
between sorted slices' positions (a vector: a gantry tilt gives a sheared affine, not an error).
The affine is that map converted to RAS+ (x and y negated).

Slices: sorted by the projection of ImagePositionPatient on ``n``. Refused: positions closer than
:data:`DUPLICATE_TOLERANCE_MM` (duplicates), gaps that differ from the median gap by more than
:data:`SPACING_TOLERANCE` of it (a missing slice), positions off the line ``P_0 + k s`` by more
than that tolerance of the spacing, and orientation, size or spacing that differ between slices.

Values: ``stored * RescaleSlope + RescaleIntercept`` per slice (float64, then float32). For PET
(Modality ``PT``) with Units ``BQML`` the values are converted to SUVbw (g/ml):
``SUV = value * weight_g / dose_at_series_start``, the dose decayed from the injection time
(RadiopharmaceuticalStartDateTime, else RadiopharmaceuticalStartTime on the series' day) to
SeriesDate/SeriesTime with RadionuclideHalfLife when DecayCorrection is ``START`` (not decayed for
``ADMIN``). Where a tag needed for that is missing or unusable, a :class:`UserWarning` naming the
folder and the tag is issued and the values stay in Bq/ml (units ``"Bq/ml"``). Times without
dates are taken on the same day, a series time earlier than the injection as the next day; time
zone offsets are ignored. Units ``GML`` is already SUVbw; CT is ``"HU"``; others ``""``.

Files: every non-hidden file in the folder (names starting with ``.`` and a ``DICOMDIR`` are
skipped, subfolders are not read). Each must be a DICOM Part 10 file (with the ``DICM`` preamble);
multi-frame files are refused, and so are files over :data:`MAX_DICOM_FILE_BYTES` on disk or, in the
deflated transfer syntax, once inflated (checked in bounded pieces before pydicom reads them).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import pathlib
import warnings
import zlib

import numpy as np
import pydicom
from isal import isal_zlib
from pydicom.errors import InvalidDicomError
from pydicom.uid import DeflatedExplicitVRLittleEndian

from jaxfuse.io._volume import DEFAULT_MAX_VOXELS, Volume, check_affine, check_budget, finite_float32
from jaxfuse.io.images import ImageError

__all__ = ["read_dicom_series", "SPACING_TOLERANCE", "DUPLICATE_TOLERANCE_MM", "MAX_DICOM_FILE_BYTES"]

#: Largest accepted deviation of a gap between slices from the median gap, as a fraction of it.
SPACING_TOLERANCE = 0.01
#: Slice positions (projected on the normal) closer than this, in mm, are duplicates.
DUPLICATE_TOLERANCE_MM = 1e-3
_ORIENTATION_TOLERANCE = 1e-4  # direction cosines: equal across slices, unit, orthogonal
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
#: Largest DICOM file read, on disk and, for the deflated transfer syntax, once inflated. pydicom
#: reads every element before the pixels into memory and inflates a deflated file whole, so a
#: 300 kB deflated file of zeros took 2.7 s and 600 MB before this bound (now refused in 0.16 s).
#: One 4096 x 4096 slice of 32-bit pixels is 64 MiB (multi-frame files are refused).
MAX_DICOM_FILE_BYTES = 128 << 20


@dataclasses.dataclass(frozen=True)
class _Slice:
    path: pathlib.Path
    series: str
    rows: int
    columns: int
    orientation: np.ndarray  # [6] float64: row cosines r, column cosines c (LPS)
    position: np.ndarray  # [3] float64 mm (LPS)
    spacing: tuple[float, float]  # (row spacing, column spacing) mm
    thickness: float | None  # SpacingBetweenSlices or SliceThickness, mm
    header: pydicom.Dataset  # without the pixel data


def read_dicom_series(folder: os.PathLike | str, *, max_voxels: int = DEFAULT_MAX_VOXELS) -> Volume:
    """Reads the single DICOM series in ``folder`` (one slice per file) as a volume.

    Args:
        folder: a folder holding the files of exactly one series (SeriesInstanceUID).
        max_voxels: refuse series with more than ``columns * rows * slices`` voxels (checked from
            the headers, before any pixel data is read).

    Returns:
        A :class:`~jaxfuse.io.volumes.Volume`: float32 ``[columns, rows, slices]``, float64
        ``[4, 4]`` voxel -> RAS+ mm affine, units ``"SUVbw"``, ``"Bq/ml"``, ``"HU"`` or ``""``.

    Raises:
        ImageError: no files, a non-DICOM or corrupt file (named), several series, missing or
            inconsistent geometry tags, uneven or duplicate slice positions, multi-frame files,
            over the voxel budget, or non-finite values.
    """
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise ImageError(folder, "no such folder" if not folder.exists() else "is not a folder")
    try:
        files = sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.name.upper() != "DICOMDIR" and p.is_file())
    except PermissionError:
        raise ImageError(folder, "permission denied") from None
    if not files:
        raise ImageError(folder, "holds no DICOM files")
    slices = [_read_header(path) for path in files]
    series = sorted({s.series for s in slices})
    if len(series) != 1:
        counts = ", ".join(f"{uid} ({sum(s.series == uid for s in slices)} files)" for uid in series)
        raise ImageError(folder, f"holds {len(series)} series; need exactly one per folder: {counts}")
    slices, affine = _geometry(folder, slices)
    check_budget(folder, (slices[0].columns, slices[0].rows, len(slices)), max_voxels)

    first = slices[0].header
    units, factor = _units(folder, first)
    data = np.empty((slices[0].columns, slices[0].rows, len(slices)), dtype=np.float32)
    for z, record in enumerate(slices):
        dataset, pixels = _read_pixels(record)
        slope = float(dataset.get("RescaleSlope", 1.0))
        inter = float(dataset.get("RescaleIntercept", 0.0))
        values = pixels.astype(np.float64) * slope + inter
        if factor is not None:  # SUVbw = Bq/ml * weight_g / decayed dose, still in float64
            values *= factor
        data[:, :, z] = values.T  # [rows, columns] -> [x = column, y = row]
    description = str(first.get("SeriesDescription", "")).strip()
    return Volume(data=finite_float32(folder, data), affine=affine, units=units, path=str(folder), description=description)


def _check_size(path: pathlib.Path) -> None:
    """Refuses a file over :data:`MAX_DICOM_FILE_BYTES` on disk, or a deflated one that inflates
    past it (inflated here in bounded pieces, none kept, before pydicom inflates it whole)."""
    size = path.stat().st_size
    if size > MAX_DICOM_FILE_BYTES:
        raise ImageError(path, f"is {size:,} bytes, over the {MAX_DICOM_FILE_BYTES:,} a DICOM slice file may have")
    meta = pydicom.filereader.read_file_meta_info(path)  # no DICM preamble: InvalidDicomError, as dcmread
    if meta.get("TransferSyntaxUID", "") != DeflatedExplicitVRLittleEndian:
        return
    inflater, room = isal_zlib.decompressobj(-zlib.MAX_WBITS), MAX_DICOM_FILE_BYTES  # ISA-L: 3x zlib's speed
    with open(path, "rb") as handle:
        handle.seek(132 + 12 + int(meta.get("FileMetaInformationGroupLength", 0)))
        while room >= 0 and (chunk := handle.read(1 << 20)):
            while chunk and room >= 0:
                room -= len(inflater.decompress(chunk, 1 << 24))
                chunk = inflater.unconsumed_tail
    if room < 0:
        raise ImageError(path, f"inflates to more than {MAX_DICOM_FILE_BYTES:,} bytes (deflated transfer syntax); refused")


def _read_header(path: pathlib.Path) -> _Slice:
    """The geometry tags of one file, read without its pixel data."""
    try:
        _check_size(path)
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        if frames > 1:
            raise ImageError(path, f"is a multi-frame file ({frames} frames); only one slice per file is supported")
        if int(ds.get("SamplesPerPixel", 1)) != 1:
            raise ImageError(path, f"has {ds.SamplesPerPixel} samples per pixel; need a scalar (gray) image")
        missing = [tag for tag in ("SeriesInstanceUID", "Rows", "Columns", "ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing") if ds.get(tag) in (None, "")]
        if missing:
            raise ImageError(path, f"lacks {', '.join(missing)}; cannot place the slice in space (damaged, or not an image slice)")
        thickness = ds.get("SpacingBetweenSlices") or ds.get("SliceThickness")
        record = _Slice(
            path=path,
            series=str(ds.SeriesInstanceUID),
            rows=int(ds.Rows),
            columns=int(ds.Columns),
            orientation=np.array([float(v) for v in ds.ImageOrientationPatient], dtype=np.float64),
            position=np.array([float(v) for v in ds.ImagePositionPatient], dtype=np.float64),
            spacing=tuple(float(v) for v in ds.PixelSpacing),
            thickness=float(thickness) if thickness else None,
            header=ds,
        )
    except ImageError:
        raise
    except PermissionError:
        raise ImageError(path, "permission denied") from None
    except InvalidDicomError:
        raise ImageError(path, "not a DICOM file (no DICM preamble); remove it from the series folder") from None
    except Exception as error:  # pydicom's failures on damaged bytes are not a closed set
        raise ImageError(path, f"corrupt DICOM file ({type(error).__name__}: {error})") from None
    if record.orientation.shape != (6,) or record.position.shape != (3,) or len(record.spacing) != 2:
        raise ImageError(path, "ImageOrientationPatient, ImagePositionPatient or PixelSpacing has the wrong number of values")
    if record.rows < 1 or record.columns < 1 or min(record.spacing) <= 0 or not np.all(np.isfinite(record.spacing)):
        raise ImageError(path, f"bad size {record.rows}x{record.columns} or PixelSpacing {record.spacing}")
    return record


def _geometry(folder: pathlib.Path, slices: list[_Slice]) -> tuple[list[_Slice], np.ndarray]:
    """Slices sorted along the normal, and the RAS+ affine of ``data[column, row, slice]``."""
    ref = slices[0]
    for s in slices[1:]:
        if (s.rows, s.columns) != (ref.rows, ref.columns):
            raise ImageError(s.path, f"is {s.rows}x{s.columns} pixels, {ref.path.name} is {ref.rows}x{ref.columns}")
        if not np.allclose(s.orientation, ref.orientation, rtol=0.0, atol=_ORIENTATION_TOLERANCE):
            raise ImageError(s.path, f"ImageOrientationPatient {s.orientation.tolist()} differs from {ref.path.name}'s {ref.orientation.tolist()}")
        if not np.allclose(s.spacing, ref.spacing, rtol=1e-4, atol=0.0):
            raise ImageError(s.path, f"PixelSpacing {list(s.spacing)} differs from {ref.path.name}'s {list(ref.spacing)}")
    row_cos, col_cos = ref.orientation[:3], ref.orientation[3:]
    if (abs(np.linalg.norm(row_cos) - 1) > 1e-3 or abs(np.linalg.norm(col_cos) - 1) > 1e-3 or abs(row_cos @ col_cos) > 1e-3):
        raise ImageError(ref.path, f"ImageOrientationPatient {ref.orientation.tolist()} is not two orthogonal unit vectors")
    normal = np.cross(row_cos, col_cos)
    depth = np.array([s.position @ normal for s in slices])
    order = np.argsort(depth, kind="stable")
    slices = [slices[i] for i in order]
    depth = depth[order]
    if len(slices) == 1:
        if ref.thickness is None or ref.thickness <= 0:
            raise ImageError(folder, "holds one slice without SliceThickness or SpacingBetweenSlices; its depth is unknown")
        step = normal * ref.thickness
    else:
        gaps = np.diff(depth)
        close = np.flatnonzero(gaps < DUPLICATE_TOLERANCE_MM)
        if close.size:
            a, b = slices[close[0]], slices[close[0] + 1]
            raise ImageError(folder, f"duplicate slice position {a.position.tolist()} mm in {a.path.name} and {b.path.name}")
        median = float(np.median(gaps))
        worst = int(np.argmax(np.abs(gaps - median)))
        if abs(gaps[worst] - median) > SPACING_TOLERANCE * median:
            raise ImageError(
                folder,
                f"unevenly spaced slices: a gap of {gaps[worst]:.4g} mm between {slices[worst].path.name} and "
                f"{slices[worst + 1].path.name}, the median gap is {median:.4g} mm (tolerance {SPACING_TOLERANCE:.0%}); "
                "is a slice missing?",
            )
        step = (slices[-1].position - slices[0].position) / (len(slices) - 1)
        expected = slices[0].position + np.arange(len(slices))[:, None] * step
        off = np.linalg.norm(np.array([s.position for s in slices]) - expected, axis=1)
        if off.max() > SPACING_TOLERANCE * median:
            bad = slices[int(np.argmax(off))]
            raise ImageError(folder, f"slice positions are not on one line: {bad.path.name} is {off.max():.4g} mm off")
    row_spacing, col_spacing = ref.spacing
    lps = np.eye(4)
    lps[:3, 0] = row_cos * col_spacing  # x = column index: along r, one column spacing per step
    lps[:3, 1] = col_cos * row_spacing  # y = row index: along c, one row spacing per step
    lps[:3, 2] = step
    lps[:3, 3] = slices[0].position
    return slices, check_affine(folder, _LPS_TO_RAS @ lps)


def _read_pixels(record: _Slice) -> tuple[pydicom.Dataset, np.ndarray]:
    """The whole file and its ``[rows, columns]`` stored pixel values."""
    path = record.path
    try:
        ds = pydicom.dcmread(path)
        if "PixelData" not in ds:
            raise ImageError(path, "has no pixel data")
        pixels = ds.pixel_array
    except ImageError:
        raise
    except PermissionError:
        raise ImageError(path, "permission denied") from None
    except Exception as error:  # truncated pixel data, missing decoder plugins, damaged elements
        raise ImageError(path, f"cannot decode the pixel data ({type(error).__name__}: {error})") from None
    if pixels.shape != (record.rows, record.columns):
        raise ImageError(path, f"pixel data has shape {pixels.shape}; Rows x Columns is {record.rows} x {record.columns}")
    return ds, pixels


def _units(folder: pathlib.Path, ds: pydicom.Dataset) -> tuple[str, float | None]:
    """The units of the rescaled values and, for PET in Bq/ml, the factor to SUVbw (or None)."""
    modality = str(ds.get("Modality", "")).upper()
    if modality == "CT":
        return "HU", None
    if modality != "PT":
        return "", None
    units = str(ds.get("Units", "")).upper()
    if units == "GML":
        return "SUVbw", None
    if units and units != "BQML":
        warnings.warn(f"{folder}: PET values are in {units}, not BQML; SUVbw not computed", stacklevel=3)
        return units, None
    factor, problems = _suv_factor(ds) if units else (None, ["Units (0054,1001)"])
    if factor is None:
        warnings.warn(f"{folder}: SUVbw not computed: missing or unusable {', '.join(problems)}; values kept in Bq/ml", stacklevel=3)
        return "Bq/ml", None
    return "SUVbw", factor


def _suv_factor(ds: pydicom.Dataset) -> tuple[float | None, list[str]]:
    """``weight_g / dose_at_series_start`` in g/Bq, or None and the tags that stopped it."""
    problems = []
    weight = _positive(ds, "PatientWeight")
    if weight is None:
        problems.append("PatientWeight (0010,1030)")
    correction = str(ds.get("DecayCorrection", "")).upper()
    if correction not in ("START", "ADMIN"):
        problems.append(f"DecayCorrection (0054,1102) = {correction!r} (need START or ADMIN)" if correction else "DecayCorrection (0054,1102)")
    sequence = ds.get("RadiopharmaceuticalInformationSequence")
    drug = sequence[0] if sequence else None
    if drug is None:
        return None, [*problems, "RadiopharmaceuticalInformationSequence (0054,0016)"]
    dose = _positive(drug, "RadionuclideTotalDose")
    half_life = _positive(drug, "RadionuclideHalfLife")
    if dose is None:
        problems.append("RadionuclideTotalDose (0018,1074)")
    if half_life is None:
        problems.append("RadionuclideHalfLife (0018,1075)")
    elapsed = None
    if correction == "START":
        elapsed, problem = _seconds_from_injection(ds, drug)
        if problem:
            problems.append(problem)
    if problems:
        return None, problems
    decayed = dose if correction == "ADMIN" else dose * 2.0 ** (-elapsed / half_life)
    return weight * 1000.0 / decayed, []


def _positive(ds: pydicom.Dataset, keyword: str) -> float | None:
    try:
        value = float(ds.get(keyword))
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) and value > 0 else None


def _seconds_from_injection(ds: pydicom.Dataset, drug: pydicom.Dataset) -> tuple[float | None, str | None]:
    """Seconds from injection to series start, or None and the tag that was missing or bad."""
    series_time = ds.get("SeriesTime")
    if not series_time:
        return None, "SeriesTime (0008,0031)"
    try:
        series_seconds = _time_seconds(str(series_time))
    except ValueError:
        return None, f"SeriesTime (0008,0031) = {str(series_time)!r}"
    start = drug.get("RadiopharmaceuticalStartDateTime")
    series_date = ds.get("SeriesDate")
    if start and series_date:
        try:
            text = str(start).strip().split("+")[0].split("-")[0]
            injected = _date(text[:8]) + datetime.timedelta(seconds=_time_seconds(text[8:] or "00"))
            series = _date(str(series_date)) + datetime.timedelta(seconds=series_seconds)
        except ValueError:
            return None, f"RadiopharmaceuticalStartDateTime (0018,1078) = {str(start)!r} or SeriesDate {str(series_date)!r}"
        elapsed = (series - injected).total_seconds()
        if elapsed < 0:
            return None, "RadiopharmaceuticalStartDateTime (0018,1078) after the series start"
        return elapsed, None
    start_time = drug.get("RadiopharmaceuticalStartTime")
    if not start_time:
        return None, "RadiopharmaceuticalStartTime (0018,1072)"
    try:
        elapsed = series_seconds - _time_seconds(str(start_time))
    except ValueError:
        return None, f"RadiopharmaceuticalStartTime (0018,1072) = {str(start_time)!r}"
    return (elapsed + 86400.0 if elapsed < 0 else elapsed), None  # injected before midnight


def _time_seconds(text: str) -> float:
    """DICOM TM ``HH[MM[SS[.FFFFFF]]]`` (or the old ``HH:MM:SS``) as seconds after midnight."""
    whole, _, fraction = text.strip().replace(":", "").partition(".")
    if len(whole) not in (2, 4, 6) or not whole.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError(text)
    hours, minutes, seconds = int(whole[:2]), int(whole[2:4] or 0), int(whole[4:6] or 0)
    if hours > 23 or minutes > 59 or seconds > 60:
        raise ValueError(text)
    return hours * 3600.0 + minutes * 60.0 + seconds + (float("0." + fraction) if fraction else 0.0)


def _date(text: str) -> datetime.datetime:
    """DICOM DA ``YYYYMMDD`` (or the old ``YYYY.MM.DD``) as a datetime at midnight."""
    return datetime.datetime.strptime(text.strip().replace(".", ""), "%Y%m%d")
