"""The source artifact: what it holds, where entries sit, and that it is deterministic."""

from __future__ import annotations

import zipfile
from pathlib import Path

from bundlebuild.source_zip import build_source_zip

REPO = Path(__file__).resolve().parents[2]


def make_project(root: Path) -> Path:
    files = {
        "components/__init__.py": "",
        "components/sensing/__main__.py": "print('hi')\n",
        "components/sensing/__pycache__/x.cpython-311.pyc": "junk",
        "components/sensing/tests/test_x.py": "",
        "bundlebuild/install.py": "",
        "bundlespec/__init__.py": "",
        "models/__init__.py": "",
        "models/anomaly.tflite": "TFL3",
        "models/manifest.json": "{}",
        "models/training_data.csv": "big",
        "localcore/core.py": "",
        "tests/test_everything.py": "",
        "bundle.yaml": "project: x\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_entries_sit_at_the_zip_root_and_only_shipped_files_go_in(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    archive = build_source_zip(project, tmp_path / "out" / "edgebundle.zip")
    assert zipfile.ZipFile(archive).namelist() == [
        "bundle.yaml",
        "bundlebuild/install.py",
        "bundlespec/__init__.py",
        "components/__init__.py",
        "components/sensing/__main__.py",
        "models/__init__.py",
        "models/anomaly.tflite",
        "models/manifest.json",
    ]


def test_same_tree_same_bytes(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    first = build_source_zip(project, tmp_path / "a.zip").read_bytes()
    (project / "bundle.yaml").touch()  # a newer mtime changes nothing
    assert build_source_zip(project, tmp_path / "b.zip").read_bytes() == first


def test_the_real_project_zip_has_no_localcore(tmp_path: Path) -> None:
    names = zipfile.ZipFile(build_source_zip(REPO, tmp_path / "edgebundle.zip")).namelist()
    assert "bundle.yaml" in names
    assert any(n.startswith("components/") for n in names)
    assert "bundlebuild/install.py" in names
    assert not any(n.startswith(("localcore/", "tests/")) or "__pycache__" in n for n in names)
