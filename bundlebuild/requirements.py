"""Which distributions a component's artifact carries, derived from what the component imports.

The import closure (:mod:`bundlebuild.closure`) names every third-party module a component can
import. Each name maps to the distributions that provide it on a device (:data:`IMPORT_DISTRIBUTIONS`),
and the requirement strings (version ranges, markers) come from ``pyproject.toml``. A name the table
does not know fails the build, naming the component and the module, so a new import cannot ship
without its wheel. A component that can reach a module it never needs on a device says so, with
the reason, in :data:`NOT_SHIPPED`.

Hardware drivers are ordinary imports here: ``adafruit_dht`` brings adafruit-circuitpython-dht,
``board``/``digitalio`` bring Blinka and, on Raspberry Pi (ARM), the GPIO stack Blinka's pins use
there: Blinka 10 drives every Pi from the 1 to the 5 through libgpiod's Python binding ``gpiod``
(``adafruit_blinka/microcontroller/generic_linux/raspberry_pi_pin.py``: ``import gpiod``), which it
does not declare as a dependency. ``gpiod`` 2.x has wheels on PyPI with libgpiod built in, so no
OS package is needed (``RPi.GPIO``, the older route, is an sdist whose C extension cannot be built
for another machine here, and it does not drive a Pi 5). ``cv2`` brings OpenCV headless (USB,
RTSP and GStreamer cameras); the Pi camera's ``picamera2`` comes from the OS (docs/cloud.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
from packaging.markers import Marker

from bundlebuild.closure import Closure


class RequirementError(ValueError):
    """A component imports something the build cannot map to a declared distribution."""


# Third-party top-level import name -> the distributions (pyproject names) that provide it.
IMPORT_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "awsiot": ("awsiotsdk",),
    "awscrt": ("awsiotsdk",),  # awsiotsdk's own dependency; pinned by it
    "msgspec": ("msgspec",),
    "yaml": ("pyyaml",),
    "psutil": ("psutil",),
    "numpy": ("numpy",),
    "zstandard": ("zstandard",),
    "PIL": ("pillow",),
    "cv2": ("opencv-python-headless",),
    "adafruit_dht": ("adafruit-circuitpython-dht",),
    "board": ("adafruit-blinka", "gpiod"),
    "digitalio": ("adafruit-blinka", "gpiod"),
    "ai_edge_litert": ("ai-edge-litert",),
    "tflite_runtime": ("tflite-runtime",),
}

# Modules importing by a computed name: what they import, held against their source in
# tests/bundlebuild/test_component_artifacts.py so the list cannot go stale unnoticed.
DYNAMIC_IMPORTS: dict[str, tuple[str, ...]] = {
    "components.common.model_runtime": ("ai_edge_litert", "tflite_runtime"),
}

# Per component: import names it can reach but whose distribution stays out of its artifact, and why.
NOT_SHIPPED: dict[str, dict[str, str]] = {
    "com.edgebundle.Sensing": {
        "numpy": "only SimulatedDht.series() imports it, to build training windows (models/train.py)",
    },
    "com.edgebundle.Inference": {},
    "com.edgebundle.QualityInspection": {
        "picamera2": "comes with Raspberry Pi OS (apt install python3-picamera2), not from PyPI: see docs/cloud.md",
    },
}


def normalize(name: str) -> str:
    """A distribution name in PEP 503 normal form (``PyYAML`` -> ``pyyaml``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_requirements(pyproject: Path) -> dict[str, str]:
    """Map each declared distribution's normalized name to its requirement string (dependencies, then extras)."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    declared: dict[str, str] = {}
    groups = [data["project"]["dependencies"], *data["project"].get("optional-dependencies", {}).values()]
    for group in groups:
        for requirement in group:
            name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]
            declared.setdefault(normalize(name), requirement)
    return declared


def imported_names(closure: Closure) -> set[str]:
    """Every third-party name the closure imports, the dynamic ones of :data:`DYNAMIC_IMPORTS` included."""
    names = closure.all_third_party()
    for module, dynamic in DYNAMIC_IMPORTS.items():
        if module in closure.modules:
            names.update(dynamic)
    return names


def component_distributions(component: str, closure: Closure) -> list[str]:
    """The distributions (pyproject names, sorted) ``component`` ships, from its imports.

    Raises:
        RequirementError: an import with no entry in :data:`IMPORT_DISTRIBUTIONS` or :data:`NOT_SHIPPED`.
    """
    skipped = NOT_SHIPPED.get(component, {})
    wanted: set[str] = set()
    unknown: list[str] = []
    for name in sorted(imported_names(closure)):
        if name in skipped:
            continue
        if name not in IMPORT_DISTRIBUTIONS:
            unknown.append(name)
            continue
        wanted.update(IMPORT_DISTRIBUTIONS[name])
    if unknown:
        raise RequirementError(
            f"{component} imports {', '.join(unknown)}, which bundlebuild/requirements.py does not map to a "
            f"distribution; add it to IMPORT_DISTRIBUTIONS (and pyproject.toml) or to NOT_SHIPPED with a reason"
        )
    return sorted(wanted)


def requirement_lines(
    component: str, distributions: list[str], declared: dict[str, str], *, machine: str, python: str
) -> list[str]:
    """The requirement lines for one device (``uname -m`` ``machine``, CPython ``python``), markers applied.

    Raises:
        RequirementError: a distribution not declared in ``pyproject.toml``.
    """
    lines = []
    for name in distributions:
        requirement = declared.get(normalize(name))
        if requirement is None:
            raise RequirementError(f"{component}: requirement {name!r} is not declared in pyproject.toml")
        spec, _, marker = requirement.partition(";")
        environment = {"platform_machine": machine, "python_version": python, "sys_platform": "linux"}
        if marker and not Marker(marker).evaluate(environment):
            continue
        lines.append(spec.strip())
    return lines


def uncovered_imports(component: str, closure: Closure, lines: list[str]) -> list[str]:
    """The imports no selected requirement line provides (pyproject markers excluded them all).

    A module of :data:`DYNAMIC_IMPORTS` needs one of its names (the TFLite wrapper takes whichever
    runtime is installed); every other import needs one of its distributions.
    """
    selected = {normalize(re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0]) for line in lines}
    skipped = NOT_SHIPPED.get(component, {})

    def provided(name: str) -> bool:
        return any(normalize(d) in selected for d in IMPORT_DISTRIBUTIONS.get(name, ()))

    problems = [
        name for name in sorted(closure.all_third_party()) if name not in skipped and not provided(name)
    ]
    for module, names in DYNAMIC_IMPORTS.items():
        if module in closure.modules and not any(provided(name) for name in names):
            problems.append(" or ".join(names))
    return problems
