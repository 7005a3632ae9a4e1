"""The amd64 artifacts install offline into a clean venv of each device Python this machine has.

The recipes' Install step (``bundlebuild/install.py``) runs with the device's ``python3`` from the
unpacked artifact and ``pip install --no-index`` from the artifact's wheels: no PyPI on the device.
This machine has CPython 3.11 only, so 3.11 is installed here; the 3.13 folder is checked for the
same requirements (its wheels are tagged for 3.13 and cannot install on 3.11).
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bundlebuild import build as bb
from bundlebuild.install import python_tag

# Per component: modules whose import proves the native wheels work (hardware libraries are
# checked as installed distributions: Blinka refuses to load `board` on a PC without GPIO).
NATIVE_IMPORTS = {
    "com.edgebundle.Sensing": ["psutil", "msgspec", "awscrt"],
    "com.edgebundle.Inference": ["numpy", "ai_edge_litert.interpreter", "msgspec", "awscrt"],
    "com.edgebundle.QualityInspection": ["cv2", "numpy", "PIL.Image", "ai_edge_litert.interpreter", "awscrt"],
    "com.edgebundle.Sync": ["zstandard", "msgspec", "awscrt"],
}
PACKAGES = {
    "com.edgebundle.Sensing": "components.sensing",
    "com.edgebundle.Inference": "components.inference",
    "com.edgebundle.QualityInspection": "components.inspection",
    "com.edgebundle.Sync": "components.sync",
}


@pytest.mark.parametrize("name", sorted(NATIVE_IMPORTS))
def test_wheels_install_with_no_index_and_the_component_imports(
    amd64_build: dict[str, bb.BuiltComponent], name: str, tmp_path: Path
) -> None:
    assert python_tag() == "cp311", "this machine's Python is the one the test installs for"
    (artifact,) = amd64_build[name].artifacts
    unpacked = tmp_path / "edgebundle"
    zipfile.ZipFile(artifact).extractall(unpacked)
    venv = tmp_path / "venv"
    # As the recipe's Install step runs it: the system python3, isolated, from the unpacked artifact.
    install = subprocess.run(
        [sys.executable, "-I", "-u", str(unpacked / "bundlebuild" / "install.py"), "--venv", str(venv)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-3000:]
    assert "--no-index" in install.stdout
    requirements = (unpacked / "wheels" / "cp311" / "requirements.txt").read_text().split()
    distributions = [line.split(">")[0].split("=")[0] for line in requirements]
    script = (
        "import importlib, importlib.metadata, pkgutil, sys\n"
        f"sys.path.insert(0, {str(unpacked)!r})\n"
        f"for dist in {distributions!r}:\n"
        "    importlib.metadata.version(dist)\n"
        f"for module in {NATIVE_IMPORTS[name]!r}:\n"
        "    importlib.import_module(module)\n"
        f"package = importlib.import_module({PACKAGES[name]!r})\n"
        "for info in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "    if not info.name.endswith('__main__'):\n"
        "        importlib.import_module(info.name)\n"
        "print('ok')\n"
    )
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert check.returncode == 0, check.stderr[-3000:]
    assert check.stdout.strip() == "ok"
    # The 3.13 folder asks for the same distributions, with wheels built for 3.13.
    cp313 = (unpacked / "wheels" / "cp313" / "requirements.txt").read_text().split()
    assert cp313 == requirements
    assert any("cp313" in p.name for p in (unpacked / "wheels" / "cp313").glob("*.whl"))
