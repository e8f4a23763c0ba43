"""DICOM series reading: geometry and values against the NIfTI of the same array, SUVbw against a
hand calculation, and the refusals (several series, missing slice, foreign or damaged files).

The series are written here with pydicom, one file per slice, file names shuffled against the
slice order and InstanceNumber reversed, so only the geometry can give the right order.
"""

from __future__ import annotations

import pathlib
import shutil
import warnings

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, generate_uid

from jaxfuse.io import dicom
from jaxfuse.io.dicom import read_dicom_series
from jaxfuse.io.images import ImageError
from jaxfuse.io.volumes import read_volume

PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"

#: Series-level PET tags; "drug." keys go into RadiopharmaceuticalInformationSequence[0].
PET_TAGS = {
    "PatientWeight": "72.5",
    "Units": "BQML",
    "DecayCorrection": "START",
    "SeriesDate": "20240301",
    "SeriesTime": "103230",
    "SeriesDescription": "simulated FDG brain",
    "drug.Radiopharmaceutical": "Fluorodeoxyglucose",
    "drug.RadionuclideTotalDose": "370000000",
    "drug.RadionuclideHalfLife": "6586.2",
    "drug.RadiopharmaceuticalStartTime": "093000",
}

# Hand calculation for PET_TAGS: 09:30:00 -> 10:32:30 is 3750 s; F-18 half-life 6586.2 s;
# dose at series start = 370 MBq * 0.5 ** (3750 / 6586.2); SUVbw = Bq/ml * 72500 g / that dose.
SUV_PER_BQML = 72.5 * 1000.0 / (370e6 * 0.5 ** (3750.0 / 6586.2))


def ds_text(value: float) -> str:
    return f"{value:.10g}"  # DICOM DS holds 16 characters


def write_series(folder, values, affine, *, modality="PT", tags=None, seed=0, series_uid=None) -> np.ndarray:
    """Writes float ``values [X, Y, Z]`` on the RAS ``affine`` as one int16 DICOM file per slice.

    x is the column index, y the row index (pixel rows are ``values[:, :, k].T``); each slice has
    its own RescaleSlope (6 significant digits). Returns the stored values, float64 ``[X, Y, Z]``
    (``int16 * slope``), which a correct reader must give back (before any SUV factor).
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tags = dict(PET_TAGS if modality == "PT" else {}) | dict(tags or {})
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine
    column_spacing, row_spacing = np.linalg.norm(lps[:3, 0]), np.linalg.norm(lps[:3, 1])
    orientation = [*(lps[:3, 0] / column_spacing), *(lps[:3, 1] / row_spacing)]
    series_uid = series_uid or generate_uid()
    study_uid, frame_uid = generate_uid(), generate_uid()
    count = values.shape[2]
    names = np.random.default_rng(seed).permutation(count)
    stored = np.empty(values.shape, dtype=np.float64)
    sop = PET_STORAGE if modality == "PT" else CT_STORAGE
    for k in range(count):
        plane = values[:, :, k].T  # [rows, columns]
        slope = float(f"{max(np.abs(plane).max(), 1e-3) / 32000.0:.6g}")
        raw = np.clip(np.round(plane / slope), -32768, 32767).astype(np.int16)
        stored[:, :, k] = (raw.astype(np.float64) * slope).T
        uid = generate_uid()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = sop, uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = sop, uid
        ds.Modality = modality
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.InstanceNumber = count - k  # reversed against the positions: must not be used to sort
        ds.Rows, ds.Columns = raw.shape
        ds.PixelSpacing = [ds_text(row_spacing), ds_text(column_spacing)]
        ds.ImageOrientationPatient = [ds_text(v) for v in orientation]
        ds.ImagePositionPatient = [ds_text(v) for v in lps[:3, 3] + k * lps[:3, 2]]
        ds.SliceThickness = ds_text(np.linalg.norm(lps[:3, 2]))
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.6g}", "0"
        drug = Dataset()
        for key, value in tags.items():
            if value is not None:
                setattr(drug, key[5:], value) if key.startswith("drug.") else setattr(ds, key, value)
        if len(drug):
            ds.RadiopharmaceuticalInformationSequence = Sequence([drug])
        ds.PixelData = raw.tobytes()
        ds.save_as(folder / f"IM{names[k]:04d}.dcm", enforce_file_format=True)
    return stored


def small_values(shape=(8, 6, 5), seed=1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 5000.0, shape)


def small_affine() -> np.ndarray:
    """Oblique (rotated 30 degrees about x, then 20 about z), 1.5 x 2.0 x 2.5 mm voxels."""
    ax, az = np.deg2rad(30.0), np.deg2rad(20.0)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rz @ rx @ np.diag([1.5, 2.0, 2.5])
    affine[:3, 3] = [-40.0, 12.5, 7.0]
    return affine


@pytest.fixture(scope="session")
def pet_series(tmp_path_factory, pet_sim):
    """The simulated PET as a DICOM folder: ``(folder, stored Bq/ml float64 [X, Y, Z])``."""
    folder = tmp_path_factory.mktemp("dicom") / "pet"
    return folder, write_series(folder, pet_sim["bqml"], pet_sim["affine"])


@pytest.fixture
def pet_copy(tmp_path, pet_series) -> pathlib.Path:
    folder = tmp_path / "pet"
    shutil.copytree(pet_series[0], folder)
    return folder


def test_geometry_and_values_equal_the_nifti_of_the_same_array(tmp_path, pet_series, pet_sim):
    folder, stored = pet_series
    volume = read_dicom_series(folder)
    nifti_path = tmp_path / "same.nii.gz"
    nib.save(nib.Nifti1Image(stored.astype(np.float32), pet_sim["affine"]), nifti_path)
    nifti = read_volume(nifti_path)
    assert volume.data.shape == nifti.data.shape == (64, 80, 50) and volume.data.dtype == np.float32
    np.testing.assert_allclose(volume.affine, nifti.affine, rtol=0.0, atol=1e-4)
    np.testing.assert_allclose(volume.affine, pet_sim["affine"], rtol=0.0, atol=1e-4)
    assert volume.units == "SUVbw" and volume.description == "simulated FDG brain"
    np.testing.assert_allclose(volume.data, nifti.data * SUV_PER_BQML, rtol=1e-6, atol=1e-9)
    assert 1.0 < volume.data.max() < 20.0  # a plausible brain SUV


def test_a_pixel_lands_where_its_tags_say(pet_series):
    folder, _ = pet_series
    volume = read_dicom_series(folder)
    ds = pydicom.dcmread(sorted(folder.iterdir())[7])
    row, column = 31, 17
    spacing = [float(v) for v in ds.PixelSpacing]  # [between rows, between columns]
    cosines = np.array([float(v) for v in ds.ImageOrientationPatient])
    lps = np.array([float(v) for v in ds.ImagePositionPatient]) + column * spacing[1] * cosines[:3] + row * spacing[0] * cosines[3:]
    ras = lps * [-1.0, -1.0, 1.0]
    # which slice of the volume is this file: the one whose origin maps to its position
    origins = (volume.affine @ np.stack([np.zeros(50), np.zeros(50), np.arange(50), np.ones(50)]))[:3].T
    z = int(np.argmin(np.linalg.norm(origins - np.array([float(v) for v in ds.ImagePositionPatient]) * [-1, -1, 1], axis=1)))
    np.testing.assert_allclose(volume.affine @ [column, row, z, 1.0], [*ras, 1.0], atol=1e-4)
    expected = float(ds.pixel_array[row, column]) * float(ds.RescaleSlope) * SUV_PER_BQML
    np.testing.assert_allclose(volume.data[column, row, z], expected, rtol=1e-6)


def test_slices_against_the_normal_are_sorted_along_it(tmp_path):
    """A source affine whose third axis points against r x c: the reader orders slices along the
    normal, so the volume is the same world image with the slice axis reversed."""
    values, affine = small_values(), small_affine()
    flipped = affine @ np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, -1.0, 0], [0, 0, 0, 1.0]])
    stored = write_series(tmp_path / "s", values, flipped, tags={"Units": "GML"})
    volume = read_dicom_series(tmp_path / "s")
    np.testing.assert_array_equal(volume.data, stored[:, :, ::-1].astype(np.float32))
    expected = flipped @ np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, -1.0, 4.0], [0, 0, 0, 1.0]])
    np.testing.assert_allclose(volume.affine, expected, atol=1e-6)
    assert np.linalg.det(volume.affine[:3, :3]) > 0 and volume.units == "SUVbw"


@pytest.mark.parametrize(
    ("tags", "factor"),
    [
        ({}, SUV_PER_BQML),
        # injection the day before, with full date-times: 23:50:00 -> 00:45:00 is 3300 s
        (
            {"SeriesDate": "20240302", "SeriesTime": "004500.000000", "drug.RadiopharmaceuticalStartTime": None,
             "drug.RadiopharmaceuticalStartDateTime": "20240301235000.00"},
            72.5 * 1000.0 / (370e6 * 0.5 ** (3300.0 / 6586.2)),
        ),
        # times only, across midnight: taken as the next day
        ({"SeriesTime": "004500", "drug.RadiopharmaceuticalStartTime": "235000"}, 72.5 * 1000.0 / (370e6 * 0.5 ** (3300.0 / 6586.2))),
        # images decay-corrected to the administration time: the dose is not decayed
        ({"DecayCorrection": "ADMIN"}, 72.5 * 1000.0 / 370e6),
    ],
)
def test_suvbw_hand_calculation(tmp_path, tags, factor):
    stored = write_series(tmp_path / "s", small_values(), small_affine(), tags=tags)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        volume = read_dicom_series(tmp_path / "s")
    assert volume.units == "SUVbw"
    np.testing.assert_allclose(volume.data, stored * factor, rtol=1e-6)


@pytest.mark.parametrize(
    ("tag", "named"),
    [
        ("PatientWeight", "PatientWeight"),
        ("drug.RadionuclideTotalDose", "RadionuclideTotalDose"),
        ("drug.RadionuclideHalfLife", "RadionuclideHalfLife"),
        ("drug.RadiopharmaceuticalStartTime", "RadiopharmaceuticalStartTime"),
        ("SeriesTime", "SeriesTime"),
        ("DecayCorrection", "DecayCorrection"),
        ("Units", "Units"),
    ],
)
def test_missing_tag_warns_and_keeps_bqml(tmp_path, tag, named):
    folder = tmp_path / "no_tag"
    stored = write_series(folder, small_values(), small_affine(), tags={tag: None})
    with pytest.warns(UserWarning, match=rf"no_tag: SUVbw not computed: missing or unusable .*{named}"):
        volume = read_dicom_series(folder)
    assert volume.units == "Bq/ml"
    np.testing.assert_array_equal(volume.data, stored.astype(np.float32))


def test_missing_sequence_and_zero_weight_named_together(tmp_path):
    folder = tmp_path / "s"
    write_series(folder, small_values(), small_affine(), tags={"PatientWeight": "0", **{k: None for k in PET_TAGS if k.startswith("drug.")}})
    with pytest.warns(UserWarning, match=r"PatientWeight \(0010,1030\), RadiopharmaceuticalInformationSequence"):
        assert read_dicom_series(folder).units == "Bq/ml"


def test_ct_rescale_intercept_and_units(tmp_path):
    values = small_values() - 1024.0
    stored = write_series(tmp_path / "ct", values, small_affine(), modality="CT")
    volume = read_volume(tmp_path / "ct")
    assert volume.units == "HU"
    np.testing.assert_array_equal(volume.data, stored.astype(np.float32))
    with pytest.raises(ImageError, match="frame=0 applies to 4-D NIfTI files"):
        read_volume(tmp_path / "ct", frame=0)


# --- refusals ----------------------------------------------------------------------------------


def edit(path: pathlib.Path, change) -> None:
    ds = pydicom.dcmread(path)
    change(ds)
    ds.save_as(path, enforce_file_format=True)


def file_of_slice(folder: pathlib.Path, k: int) -> pathlib.Path:
    """The file holding slice ``k`` (in position order along the normal)."""
    files = sorted(folder.glob("*.dcm"))
    depth = []
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        cosines = np.array([float(v) for v in ds.ImageOrientationPatient])
        depth.append(np.array([float(v) for v in ds.ImagePositionPatient]) @ np.cross(cosines[:3], cosines[3:]))
    return files[int(np.argsort(depth)[k])]


def test_two_series_in_one_folder(tmp_path, pet_copy):
    write_series(pet_copy, small_values(), small_affine(), seed=5)  # names IM0000.. overwrite five PET slices
    with pytest.raises(ImageError, match=r"pet: holds 2 series; need exactly one per folder: .*\(5 files\)"):
        read_dicom_series(pet_copy)


def test_missing_slice(pet_copy):
    file_of_slice(pet_copy, 20).unlink()
    with pytest.raises(ImageError, match=r"unevenly spaced slices: a gap of 6 mm .* median gap is 3 mm .* is a slice missing\?"):
        read_dicom_series(pet_copy)


def test_non_dicom_file_named_and_hidden_files_skipped(tmp_path):
    folder = tmp_path / "s"
    stored = write_series(folder, small_values(), small_affine(), tags={"Units": "GML"})
    (folder / ".DS_Store").write_bytes(b"\x00\x01 not dicom")
    (folder / "subfolder").mkdir()
    np.testing.assert_array_equal(read_dicom_series(folder).data, stored.astype(np.float32))
    (folder / "notes.txt").write_text("scanner notes\n")
    with pytest.raises(ImageError, match=r"notes\.txt: not a DICOM file"):
        read_dicom_series(folder)


def test_truncated_pixel_data_names_the_file(tmp_path):
    folder = tmp_path / "s"
    write_series(folder, small_values(), small_affine(), tags={"Units": "GML"})
    victim = file_of_slice(folder, 2)
    victim.write_bytes(victim.read_bytes()[:-40])
    with pytest.raises(ImageError, match=rf"{victim.name}: (cannot decode the pixel data|corrupt DICOM file)"):
        read_dicom_series(folder)


def test_damaged_header_names_the_file(tmp_path):
    folder = tmp_path / "s"
    write_series(folder, small_values(), small_affine(), tags={"Units": "GML"})
    victim = file_of_slice(folder, 1)
    data = bytearray(victim.read_bytes())
    data[200:260] = b"\xff" * 60  # inside the group 0002 meta information / first elements
    victim.write_bytes(bytes(data))
    with pytest.raises(ImageError, match=rf"{victim.name}: (corrupt DICOM file|lacks .* \(damaged, or not an image slice\))"):
        read_dicom_series(folder)


def test_duplicate_position(tmp_path):
    folder = tmp_path / "s"
    write_series(folder, small_values(), small_affine(), tags={"Units": "GML"})
    twin = folder / "twin.dcm"
    shutil.copy(file_of_slice(folder, 3), twin)
    edit(twin, lambda ds: setattr(ds, "SOPInstanceUID", generate_uid()))
    with pytest.raises(ImageError, match="duplicate slice position"):
        read_dicom_series(folder)


def test_position_off_the_line(tmp_path):
    folder = tmp_path / "s"
    write_series(folder, small_values(), small_affine(), tags={"Units": "GML"})

    def shift(ds):
        cosines = np.array([float(v) for v in ds.ImageOrientationPatient])
        ds.ImagePositionPatient = [ds_text(v) for v in np.array([float(v) for v in ds.ImagePositionPatient]) + 1.0 * cosines[:3]]

    edit(file_of_slice(folder, 2), shift)
    with pytest.raises(ImageError, match="not on one line"):
        read_dicom_series(folder)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda ds: setattr(ds, "ImageOrientationPatient", ["1", "0", "0", "0", "1", "0"]), "ImageOrientationPatient .* differs"),
        (lambda ds: setattr(ds, "PixelSpacing", ["2.1", "1.5"]), "PixelSpacing .* differs"),
        (lambda ds: (setattr(ds, "Rows", 3), setattr(ds, "PixelData", ds.PixelData[: 3 * 8 * 2])), r"is [36]x8 pixels, IM\d+\.dcm is [36]x8"),
        (lambda ds: setattr(ds, "NumberOfFrames", 2), "multi-frame file \\(2 frames\\)"),
        (lambda ds: delattr(ds, "ImagePositionPatient"), "lacks ImagePositionPatient"),
    ],
)
def test_inconsistent_or_unsupported_slice(tmp_path, change, problem):
    folder = tmp_path / "s"
    write_series(folder, small_values(), small_affine(), tags={"Units": "GML"})
    edit(file_of_slice(folder, 3), change)
    with pytest.raises(ImageError, match=problem):
        read_dicom_series(folder)


def test_voxel_budget_and_empty_folder(tmp_path):
    folder = tmp_path / "s"
    write_series(folder, small_values(), small_affine(), tags={"Units": "GML"})
    with pytest.raises(ImageError, match=r"8 x 6 x 5 = 240 voxels, over the budget of 239"):
        read_dicom_series(folder, max_voxels=239)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageError, match="holds no DICOM files"):
        read_volume(tmp_path / "empty")
    with pytest.raises(ImageError, match="no such folder"):
        read_dicom_series(tmp_path / "absent")


def _deflate(path: pathlib.Path, extra: bytes = b"") -> None:
    """Rewrites a file in the Deflated Explicit VR Little Endian transfer syntax, with ``extra``
    bytes in a private element."""

    def change(ds):
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
        if extra:
            ds.add_new(0x00091010, "OB", extra)

    edit(path, change)


def test_deflated_series_reads_as_the_plain_one(tmp_path):
    values, affine = small_values(), small_affine()
    write_series(tmp_path / "plain", values, affine)
    write_series(tmp_path / "deflated", values, affine)
    for path in (tmp_path / "deflated").glob("*.dcm"):
        _deflate(path)
    assert pydicom.dcmread(next((tmp_path / "deflated").glob("*.dcm"))).file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain, deflated = read_volume(tmp_path / "plain"), read_volume(tmp_path / "deflated")
    np.testing.assert_array_equal(deflated.data, plain.data)
    np.testing.assert_array_equal(deflated.affine, plain.affine)


def test_oversized_and_deflate_bomb_files_are_refused(tmp_path, monkeypatch):
    """A slice file over the size bound, and a small deflated one that inflates past it (4 MiB of
    zeros in a private element, under a 1 MiB bound): each refused, naming the file."""
    values, affine = small_values(), small_affine()
    write_series(tmp_path / "s", values, affine)
    victim = file_of_slice(tmp_path / "s", 2)
    _deflate(victim, bytes(4 << 20))
    assert victim.stat().st_size < 100_000
    monkeypatch.setattr(dicom, "MAX_DICOM_FILE_BYTES", 1 << 20)
    with pytest.raises(ImageError, match=rf"{victim.name}: inflates to more than 1,048,576 bytes \(deflated transfer syntax\)"):
        read_volume(tmp_path / "s")
    monkeypatch.setattr(dicom, "MAX_DICOM_FILE_BYTES", 1000)
    with pytest.raises(ImageError, match=r"\.dcm: is [0-9,]+ bytes, over the 1,000 a DICOM slice file may have"):
        read_volume(tmp_path / "s")
