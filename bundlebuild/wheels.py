"""Binary wheels for one device (machine and CPython version), fetched by pip and cached.

Devices run the distribution's ``python3``: CPython 3.11 on Raspberry Pi OS / Debian 12
(bookworm, glibc 2.36) and 3.13 on Debian 13 (trixie, glibc 2.41). For each, pip downloads
``--only-binary=:all:`` wheels whose platform tags that glibc accepts (``manylinux_2_17`` up to
the release's glibc, ``manylinux2014`` and plain ``linux_<machine>``), so what is fetched installs
on the device with ``pip install --no-index``. Nothing is built: a C extension cannot be compiled
for another machine here, and a missing wheel is reported, naming the distribution, the machine
and the Python (:class:`MissingWheelError`). Extra wheels (e.g. built on a device with ``pip
wheel``) can be offered with ``find_links``.

Downloads are cached under :func:`default_cache_dir` by the exact request (requirements, tags,
Python), so a repeated build or test resolves nothing and touches no network.

Example::

    wheels = fetch_wheels(["numpy>=1.23"], DEVICE_MACHINES["aarch64"], "3.11", default_cache_dir())
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from localcore.runner.platforms import DeviceMachine

CACHE_ENV = "EDGEBUNDLE_WHEEL_CACHE"
COMPLETE_MARKER = "complete.json"


@dataclass(frozen=True)
class DevicePython:
    """One CPython a device may run, with the newest glibc of the OS release that ships it."""

    version: str
    glibc_minor: int  # glibc 2.<minor>
    shipped_by: str

    @property
    def tag(self) -> str:
        """The wheel's interpreter tag, also the artifact's wheel folder name (``cp311``)."""
        return "cp" + self.version.replace(".", "")


DEVICE_PYTHONS: dict[str, DevicePython] = {
    "3.11": DevicePython("3.11", 36, "Raspberry Pi OS / Debian 12 (bookworm)"),
    "3.13": DevicePython("3.13", 41, "Raspberry Pi OS / Debian 13 (trixie)"),
}


class MissingWheelError(RuntimeError):
    """PyPI (and any ``find_links``) has no wheel of ``distribution`` for this machine and Python."""

    def __init__(self, distribution: str, machine: str, python: str, detail: str) -> None:
        self.distribution = distribution
        self.machine = machine
        self.python = python
        super().__init__(
            f"no wheel of {distribution} for {machine} / CPython {python}"
            + (f" ({detail})" if detail else "")
        )


def default_cache_dir() -> Path:
    """``$EDGEBUNDLE_WHEEL_CACHE``, else ``$XDG_CACHE_HOME/edge-bundle/wheels`` (``~/.cache/...``)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edge-bundle" / "wheels"


def platform_tags(machine: DeviceMachine, python: DevicePython) -> list[str]:
    """The wheel platform tags a device of ``machine`` running ``python``'s OS release accepts."""
    arch = machine.uname_machine
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(python.glibc_minor, 16, -1)]
    return [*tags, f"manylinux2014_{arch}", f"linux_{arch}"]


def fetch_wheels(
    requirements: Sequence[str],
    machine: DeviceMachine,
    python: str,
    cache_dir: Path,
    *,
    find_links: Sequence[Path] = (),
) -> list[Path]:
    """The wheels (requirements and their dependencies) for one device, from the cache or pip.

    Raises:
        MissingWheelError: a distribution has no wheel for this machine and Python.
        RuntimeError: pip failed otherwise (its last lines are in the message).
    """
    target = DEVICE_PYTHONS[python]
    tags = platform_tags(machine, target)
    request = {"requirements": sorted(requirements), "tags": tags, "python": python, "links": []}
    # The offered wheels' names are part of the request: adding one to a folder is a new request.
    request["links"] = sorted(f"{p.resolve()}/{w.name}" for p in find_links for w in p.glob("*.whl"))
    key = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:20]
    folder = cache_dir / f"{machine.uname_machine}-{target.tag}-{key}"
    cached = _cached(folder)
    if cached is not None:
        return cached
    partial = cache_dir / f".{folder.name}.{os.getpid()}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
    command += ["--only-binary=:all:", "--dest", str(partial), "--python-version", python]
    command += ["--implementation", "cp", "--abi", target.tag, "--abi", "abi3", "--abi", "none"]
    for tag in tags:
        command += ["--platform", tag]
    for link in find_links:
        command += ["--find-links", str(link)]
    result = subprocess.run([*command, *requirements], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        missing = _missing_distribution(result.stderr)
        if missing is not None:
            raise MissingWheelError(missing[0], machine.name, python, missing[1])
        raise RuntimeError(
            f"pip download for {machine.name} / CPython {python} failed:\n{result.stderr.strip()[-2000:]}"
        )
    wheels = sorted(p.name for p in partial.glob("*.whl"))
    (partial / COMPLETE_MARKER).write_text(json.dumps({"request": request, "wheels": wheels}, indent=1))
    try:
        partial.rename(folder)
    except OSError:
        # Another build finished the same request first; its copy is as good.
        shutil.rmtree(partial, ignore_errors=True)
    found = _cached(folder)
    if found is None:
        raise RuntimeError(f"{folder}: the wheel cache entry vanished while it was being written")
    return found


def _cached(folder: Path) -> list[Path] | None:
    marker = folder / COMPLETE_MARKER
    if not marker.is_file():
        return None
    names = json.loads(marker.read_text())["wheels"]
    wheels = [folder / name for name in names]
    return wheels if all(w.is_file() for w in wheels) else None


_NO_VERSION = re.compile(
    r"Could not find a version that satisfies the requirement (\S+)(?: \(from ([^)]*)\))?"
)


def _missing_distribution(stderr: str) -> tuple[str, str] | None:
    """pip's name for the distribution it found no wheel of, and what asked for it."""
    match = _NO_VERSION.search(stderr)
    if match is None:
        return None
    name = re.split(r"[<>=!~;\[ ]", match.group(1), maxsplit=1)[0]
    asker = match.group(2) or ""
    return name, "" if not asker or asker.startswith("versions:") else f"required by {asker}"
