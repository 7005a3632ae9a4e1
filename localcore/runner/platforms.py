"""Manifest platforms: this machine in the nucleus' vocabulary, and whether a ``Platform`` matches it."""

from __future__ import annotations

import platform
import re
from collections.abc import Mapping


def machine_platform() -> dict[str, str]:
    """This machine in the nucleus' platform vocabulary (``os``, ``architecture``, ``architecture.detail``)."""
    machine = platform.machine().lower()
    architecture = {
        "x86_64": "amd64",
        "amd64": "amd64",
        "aarch64": "aarch64",
        "arm64": "aarch64",
        "i386": "x86",
        "i686": "x86",
        "x86": "x86",
    }.get(machine, "arm" if machine.startswith("arm") else machine)
    found = {"os": platform.system().lower(), "architecture": architecture}
    detail = {"armv6l": "arm61", "armv7l": "arm71", "armv8l": "arm81"}.get(machine)
    if detail:
        found["architecture.detail"] = detail
    return found


def platform_matches(wanted: Mapping[str, str], machine: Mapping[str, str]) -> bool:
    """Whether a manifest's Platform accepts ``machine``: exact, ``*`` (also ``all``), or ``/regex/``."""
    for key, value in wanted.items():
        if value in ("*", "all"):
            continue
        actual = machine.get(key.lower())
        if actual is None:
            return False
        if len(value) > 1 and value.startswith("/") and value.endswith("/"):
            if not re.fullmatch(value[1:-1], actual):
                return False
        elif value.lower() != actual.lower():
            return False
    return True
