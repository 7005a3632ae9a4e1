"""``bundlebuild/install.py``: a development artifact (no wheels) installs nothing and succeeds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bundlebuild import install

REPO = Path(__file__).resolve().parents[2]


def test_without_wheels_it_is_a_dev_artifact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert install.main(["--venv", str(tmp_path / "venv"), "--wheels", str(tmp_path / "nowheels")]) == 0
    assert "a development artifact, nothing to install" in capsys.readouterr().out
    assert not (tmp_path / "venv").exists()


def test_runs_as_a_plain_script_with_the_standard_library(tmp_path: Path) -> None:
    # The device runs it with the system python3 from the unarchived artifact, no packages installed.
    result = subprocess.run(
        [sys.executable, "-I", str(REPO / "bundlebuild" / "install.py"), "--venv", str(tmp_path / "venv")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "nothing to install" in result.stdout


@pytest.mark.soak
def test_with_wheels_it_builds_the_venv_offline(tmp_path: Path) -> None:
    # An empty wheels folder: the venv is created, and pip (offline) fails to find the bundle.
    (tmp_path / "wheels").mkdir()
    code = install.main(["--venv", str(tmp_path / "venv"), "--wheels", str(tmp_path / "wheels")])
    assert (tmp_path / "venv" / "bin" / "python").exists()
    assert code != 0
