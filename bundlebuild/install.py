"""The recipes' Install step: build the component's virtual environment from bundled wheels.

Runs on the device with the system ``python3`` and the standard library only, from the unarchived
artifact: ``python3 -u {artifacts:decompressedPath}/edgebundle/bundlebuild/install.py --venv
{work:path}/venv``. With a ``wheels/`` folder beside ``bundlebuild/`` (a device build), it creates
the venv and installs ``edge-bundle`` offline from those wheels. Without one (a local development
artifact) there is nothing to install: the component runs with the core's interpreter, and the
script says so and exits 0.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import venv
from pathlib import Path

DISTRIBUTION = "edge-bundle"


def main(argv: list[str] | None = None) -> int:
    """Install the bundle into ``--venv`` from ``wheels/``; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", required=True, type=Path, help="where to create the virtual environment")
    parser.add_argument(
        "--wheels",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "wheels",
        help="folder of wheels (default: beside bundlebuild/)",
    )
    args = parser.parse_args(argv)
    wheels: Path = args.wheels
    if not wheels.is_dir():
        print(
            f"install: no wheels folder at {wheels}: a development artifact, nothing to install", flush=True
        )
        return 0
    target: Path = args.venv
    python = target / "bin" / "python"
    if not python.exists():
        print(f"install: creating virtual environment {target}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(target)
    # `make build` writes the component's own requirement list beside the wheels; the source itself
    # is on PYTHONPATH from the artifact, so only the dependencies are installed.
    requirements = wheels.parent / "requirements.txt"
    wanted = ["-r", str(requirements)] if requirements.is_file() else [DISTRIBUTION]
    command = [str(python), "-m", "pip", "install", "--no-index", "--find-links", str(wheels), *wanted]
    print(f"install: {' '.join(command)}", flush=True)
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
