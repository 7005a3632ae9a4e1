"""``bundlebuild/install.py``: picks the wheel folder of the Python running it, or says why it cannot."""

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


def test_python_tags() -> None:
    assert install.python_tag((3, 11)) == "cp311"
    assert install.python_tag((3, 13)) == "cp313"


def test_another_python_is_refused_naming_it_and_the_supported_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheels = tmp_path / "wheels"
    for tag in ("cp310", "cp399"):  # neither is this interpreter
        (wheels / tag).mkdir(parents=True)
        (wheels / tag / "requirements.txt").write_text("msgspec>=0.18\n")
    (wheels / "shared").mkdir()
    code = install.main(["--venv", str(tmp_path / "venv"), "--wheels", str(wheels)])
    err = capsys.readouterr().err
    assert code == 1
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"CPython {here}, {install.python_tag()}" in err
    assert "it carries cp310, cp399" in err, "shared/ is not a Python"
    assert not (tmp_path / "venv").exists(), "nothing is created for a Python the artifact cannot serve"


def test_a_venv_of_another_python_is_recognised(tmp_path: Path) -> None:
    (tmp_path / "venv").mkdir()
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.2\n")
    assert install.venv_python_version(tmp_path / "venv") == "3.11"
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\nversion_info = 3.13.5.final.0\n")
    assert install.venv_python_version(tmp_path / "venv") == "3.13"
    assert install.venv_python_version(tmp_path / "absent") is None


def test_a_venv_left_by_another_python_is_rebuilt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # An OS upgrade (Debian 12 -> 13) leaves a 3.11 venv behind; the Install step must not reuse it.
    stale = tmp_path / "venv"
    (stale / "bin").mkdir(parents=True)
    (stale / "bin" / "python").write_text("stale")
    (stale / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.1.0\n")
    wheels = tmp_path / "wheels" / install.python_tag()
    wheels.mkdir(parents=True)
    (wheels / "requirements.txt").write_text("")  # nothing to install: only the venv is at stake
    assert install.main(["--venv", str(stale), "--wheels", str(tmp_path / "wheels")]) == 0
    assert "it was built for CPython 3.1" in capsys.readouterr().out
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert install.venv_python_version(stale) == here
