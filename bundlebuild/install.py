"""The recipes' Install step: build the component's virtual environment from bundled wheels.

Runs on the device with the system ``python3`` and the standard library only, from the unarchived
artifact: ``python3 -u {artifacts:decompressedPath}/edgebundle/bundlebuild/install.py --venv
{work:path}/venv``. A device build (``make build --arch ...``) carries ``wheels/cp311/`` and
``wheels/cp313/``, each with the component's ``requirements.txt`` (and ``wheels/shared/``); the folder of the Python running
this script is installed offline (``pip install --no-index``). Another Python fails with a message
naming it and the ones the artifact supports. Without a ``wheels/`` folder (a development artifact)
there is nothing to install: the component runs with the core's interpreter, and the script says
so and exits 0.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import venv
from pathlib import Path

SHARED = "shared"  # wheels every Python takes, stored once (bundlebuild/component_zip.py)


def python_tag(version: tuple[int, int] | None = None) -> str:
    """The wheel folder for a CPython version (default: this one), e.g. ``cp311``."""
    major, minor = version or (sys.version_info.major, sys.version_info.minor)
    return f"cp{major}{minor}"


def venv_python_version(target: Path) -> str | None:
    """The ``major.minor`` CPython a venv was made with (from its ``pyvenv.cfg``), or None."""
    try:
        lines = (target / "pyvenv.cfg").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return ".".join(value.strip().split(".")[:2])
    return None


def main(argv: list[str] | None = None) -> int:
    """Install the component's wheels for this Python into ``--venv``; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", required=True, type=Path, help="where to create the virtual environment")
    parser.add_argument(
        "--wheels",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "wheels",
        help="folder of per-Python wheel folders (default: beside bundlebuild/)",
    )
    parser.add_argument(
        "--system-site-packages",
        action="store_true",
        help="let the venv see the OS's Python packages (e.g. apt's python3-picamera2)",
    )
    args = parser.parse_args(argv)
    wheels: Path = args.wheels
    if not wheels.is_dir():
        print(
            f"install: no wheels folder at {wheels}: a development artifact, nothing to install", flush=True
        )
        return 0
    tag = python_tag()
    chosen = wheels / tag
    if not (chosen / "requirements.txt").is_file():
        offered = sorted(p.name for p in wheels.iterdir() if (p / "requirements.txt").is_file())
        print(
            f"install: this artifact has no wheels for {sys.executable} (CPython "
            f"{sys.version_info.major}.{sys.version_info.minor}, {tag}); it carries "
            f"{', '.join(offered) or 'none'}: run the component on a device whose python3 is one of those",
            file=sys.stderr,
            flush=True,
        )
        return 1
    target: Path = args.venv
    python = target / "bin" / "python"
    built_for = venv_python_version(target)
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if not python.exists() or built_for != here:
        # A venv of another Python (the OS was upgraded, 3.11 -> 3.13) cannot be reused: rebuild it.
        reason = f" (it was built for CPython {built_for})" if built_for and built_for != here else ""
        print(f"install: creating virtual environment {target}{reason}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True, system_site_packages=args.system_site_packages).create(
            target
        )
    # The source itself is on PYTHONPATH from the artifact: only the dependencies are installed.
    command = [str(python), "-m", "pip", "install", "--no-index", "--find-links", str(chosen)]
    if (wheels / SHARED).is_dir():
        command += ["--find-links", str(wheels / SHARED)]
    command += ["--disable-pip-version-check", "-r", str(chosen / "requirements.txt")]
    print(f"install: {' '.join(command)}", flush=True)
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
