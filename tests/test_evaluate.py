"""``jaxfuse evaluate``: the report files, their numbers, and bad pairs."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from conftest import require_data
from PIL import Image

import jaxfuse.metrics as metrics
from jaxfuse.cli import main
from jaxfuse.methods import fuse_with


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    source = require_data("PET-MRI")
    root = tmp_path_factory.mktemp("pairs")
    names = sorted(p.name for p in (source / "MRI").glob("*.png"))[:5]
    for sub in ("MRI", "PET"):
        (root / sub).mkdir()
        for name in names:
            shutil.copy(source / sub / name, root / sub / name)
    return root, names


def test_report_files_and_numbers(folders, tmp_path, capsys):
    root, names = folders
    report = tmp_path / "report"
    code = main(["evaluate", "--mri-dir", str(root / "MRI"), "--pet-dir", str(root / "PET"),
                 "--methods", "vgg19,average", "--report", str(report), "--batch-size", "4", "--save-fused"])
    assert code == 0, capsys.readouterr()
    with open(report / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * len(names)
    assert set(rows[0]) == {"pair", "method", *metrics.HIGHER_IS_BETTER}
    # one row re-computed independently of the report code
    row = next(r for r in rows if r["pair"] == names[1] and r["method"] == "vgg19")
    mri = np.asarray(Image.open(root / "MRI" / names[1]).convert("L"))
    pet = np.asarray(Image.open(root / "PET" / names[1]).convert("RGB"))
    fused = np.asarray(fuse_with(mri, pet, method="vgg19", output_dtype=np.uint8))
    saved = np.asarray(Image.open(report / "fused" / "vgg19" / names[1]))
    assert np.array_equal(saved, fused)
    expected_d = np.abs(fused.astype(float) - pet.astype(float)).mean()
    assert float(row["D"]) == pytest.approx(expected_d, rel=1e-4)
    values, counts = np.unique(fused, return_counts=True)
    probabilities = counts / counts.sum()
    assert float(row["EN"]) == pytest.approx(-(probabilities * np.log2(probabilities)).sum(), rel=1e-4)
    summary = (report / "summary.md").read_text()
    assert "| vgg19 |" in summary and "| average |" in summary and "VGG19 method" in summary
    assert "**" in summary and "assumption" in summary
    figure = Image.open(report / "figure.png")
    assert figure.size[0] > 4 * 256
    out = capsys.readouterr().out
    assert "pairs/s" in out


def test_bad_pair_is_reported_and_skipped(folders, tmp_path, capsys):
    root, names = folders
    broken = tmp_path / "pairs"
    shutil.copytree(root, broken)
    (broken / "PET" / names[2]).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    report = tmp_path / "report"
    code = main(["evaluate", "--mri-dir", str(broken / "MRI"), "--pet-dir", str(broken / "PET"),
                 "--methods", "hsi", "--report", str(report)])
    assert code == 1
    captured = capsys.readouterr()
    assert names[2] in captured.err and names[2] not in captured.out  # failures on stderr
    with open(report / "metrics.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(names) - 1
    assert "Failures (1)" in (report / "summary.md").read_text()


def test_unknown_method_is_a_usage_error(folders, tmp_path, capsys):
    root, _ = folders
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--mri-dir", str(root / "MRI"), "--pet-dir", str(root / "PET"),
              "--methods", "vgg19,nope", "--report", str(tmp_path / "r")])
    assert exit_info.value.code == 2
    assert "nope" in capsys.readouterr().err


def test_fuse_cli_method_option(folders, tmp_path, capsys):
    root, names = folders
    out = tmp_path / "f.png"
    assert main(["fuse", str(root / "MRI" / names[0]), str(root / "PET" / names[0]), "-o", str(out), "--method", "dwt"]) == 0
    mri = np.asarray(Image.open(root / "MRI" / names[0]).convert("L"))
    pet = np.asarray(Image.open(root / "PET" / names[0]).convert("RGB"))
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(fuse_with(mri, pet, method="dwt", output_dtype=np.uint8)))
    assert main(["fuse", str(root / "MRI" / names[0]), str(root / "PET" / names[0]), "-o", str(out), "--method", "dwt", "--a", "0.5"]) == 2
    assert "vgg19 only" in capsys.readouterr().err
