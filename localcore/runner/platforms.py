"""Manifest platforms: machines in the nucleus's vocabulary, and whether a ``Platform`` matches one.

This is the project's ONE table of platform values. localcore's manifest selection uses it for
this machine, and ``make build`` (``bundlebuild``) uses it to write the ``Platform`` of each
per-architecture manifest, so a built recipe matches on a device exactly when the nucleus says so.

The values are the nucleus's (``aws-greengrass/aws-greengrass-nucleus``,
``src/main/java/com/aws/greengrass/config/PlatformResolver.java``):

- ``os``: ``"linux"`` when ``/proc`` exists (``darwin`` when ``uname -a`` says so, ``windows`` by
  ``os.name``), else ``"unknown"``.
- ``architecture`` from Java's ``os.arch``: ``x86_64``/``amd64`` -> ``"amd64"``, ``i386``/``x86`` ->
  ``"x86"``, anything containing ``arm`` -> ``"arm"``, ``aarch64`` -> ``"aarch64"``, else ``"unknown"``.
- ``architecture.detail``: ``uname -m`` itself, only when it is ``armv6l``, ``armv7l`` or ``armv8l``
  (absent otherwise), so 32-bit ARM boards tell their instruction set apart.

A 32-bit ARM manifest therefore says ``{os: linux, architecture: arm, architecture.detail: armv7l}``,
and a 64-bit PC says ``amd64``, never ``x86_64``.

Example::

    >>> linux_platform("armv7l")
    {'os': 'linux', 'architecture': 'arm', 'architecture.detail': 'armv7l'}
    >>> DEVICE_MACHINES["amd64"].platform
    {'os': 'linux', 'architecture': 'amd64'}
"""

from __future__ import annotations

import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass

OS_KEY = "os"
ARCHITECTURE_KEY = "architecture"
ARCHITECTURE_DETAIL_KEY = "architecture.detail"

OS_LINUX = "linux"
OS_DARWIN = "darwin"
OS_WINDOWS = "windows"
UNKNOWN = "unknown"

ARCH_AMD64 = "amd64"
ARCH_X86 = "x86"
ARCH_ARM = "arm"
ARCH_AARCH64 = "aarch64"

# PlatformResolver.getArchDetailInfo: `uname -m`, returned only for these three.
ARM_DETAILS = ("armv6l", "armv7l", "armv8l")


def nucleus_architecture(os_arch: str) -> str:
    """The nucleus's ``architecture`` for Java's ``os.arch`` (PlatformResolver.getArchInfo, in its order)."""
    arch = os_arch.lower()
    if arch in ("x86_64", "amd64"):
        return ARCH_AMD64
    if arch in ("i386", "x86"):
        return ARCH_X86
    if "arm" in arch:
        return ARCH_ARM
    if arch == "aarch64":
        return ARCH_AARCH64
    return UNKNOWN


def nucleus_architecture_detail(uname_machine: str) -> str | None:
    """The nucleus's ``architecture.detail`` for ``uname -m`` (PlatformResolver.getArchDetailInfo)."""
    machine = uname_machine.lower()
    return machine if machine in ARM_DETAILS else None


def _java_os_arch(uname_machine: str) -> str:
    # What a JVM reports as os.arch where `uname -m` says this: Linux JVMs say amd64 on x86_64 and
    # arm on every 32-bit ARM; macOS on Apple silicon says aarch64 where uname says arm64.
    machine = uname_machine.lower()
    if machine == "x86_64":
        return "amd64"
    if machine == "arm64":
        return "aarch64"
    if machine in ("i486", "i586", "i686"):
        return "x86"
    if machine.startswith("arm"):
        return "arm"
    return machine


def linux_platform(uname_machine: str) -> dict[str, str]:
    """The platform a Linux nucleus reports on a machine whose ``uname -m`` is ``uname_machine``."""
    found = {OS_KEY: OS_LINUX, ARCHITECTURE_KEY: nucleus_architecture(_java_os_arch(uname_machine))}
    detail = nucleus_architecture_detail(uname_machine)
    if detail:
        found[ARCHITECTURE_DETAIL_KEY] = detail
    return found


@dataclass(frozen=True)
class DeviceMachine:
    """A Linux device class ``make build`` can target.

    Attributes:
        name: the build's name for it (``amd64``, ``aarch64``, ``armv7l``).
        uname_machine: ``uname -m`` on such a device; also the suffix of its wheels' platform tags.
        platform: the ``Platform`` the nucleus reports there (what a manifest must say).
    """

    name: str
    uname_machine: str

    @property
    def platform(self) -> dict[str, str]:
        """The manifest ``Platform`` for this device, in the nucleus's values."""
        return linux_platform(self.uname_machine)


# The device classes `make build --arch` accepts, by the build's name. 64-bit devices use the
# nucleus's architecture names; 32-bit ARM is named by its architecture.detail, because "arm"
# alone does not say which instruction set the wheels need.
DEVICE_MACHINES: dict[str, DeviceMachine] = {
    "amd64": DeviceMachine("amd64", "x86_64"),
    "aarch64": DeviceMachine("aarch64", "aarch64"),
    "armv7l": DeviceMachine("armv7l", "armv7l"),
    "armv6l": DeviceMachine("armv6l", "armv6l"),
}

# Other spellings an engineer types for the same device class (uname -m, Debian, Apple).
MACHINE_ALIASES: dict[str, str] = {"x86_64": "amd64", "arm64": "aarch64"}


def device_machine(name: str) -> DeviceMachine:
    """The device class called ``name`` (or an alias such as ``x86_64``).

    Raises:
        ValueError: an unknown name; the message lists the accepted ones.
    """
    key = MACHINE_ALIASES.get(name.lower(), name.lower())
    found = DEVICE_MACHINES.get(key)
    if found is None:
        hint = " ('arm' is ambiguous: say armv7l or armv6l)" if key == ARCH_ARM else ""
        accepted = ", ".join([*DEVICE_MACHINES, *(f"{a} (= {b})" for a, b in MACHINE_ALIASES.items())])
        raise ValueError(f"unknown architecture {name!r}{hint}; expected one of {accepted}")
    return found


def machine_platform() -> dict[str, str]:
    """This machine in the nucleus's platform vocabulary (``os``, ``architecture``, ``architecture.detail``)."""
    system = platform.system().lower()
    machine = platform.machine()
    found = linux_platform(machine)
    if system != OS_LINUX:
        found[OS_KEY] = system if system in (OS_DARWIN, OS_WINDOWS) else UNKNOWN
        if system == OS_WINDOWS:
            # getArchDetailInfo returns null on Windows.
            found.pop(ARCHITECTURE_DETAIL_KEY, None)
    return found


WILDCARD = "*"
_SIMPLE_LABEL = re.compile(r"[a-zA-Z0-9]")


def platform_matches(wanted: Mapping[str, str | None], machine: Mapping[str, str]) -> bool:
    """Whether a manifest's ``Platform`` accepts ``machine``, as the nucleus decides it.

    ``PlatformHelper.isAttributeSatisfied`` (``aws-greengrass/aws-greengrass-component-common``):
    every key of the manifest's ``Platform`` must be satisfied; ``*`` (or no value) matches
    anything, even a key the machine lacks; otherwise the machine must have a non-empty value.
    ``/regex/`` must match that whole value; ``all`` and ``any`` are wildcards for ``os`` and
    ``architecture`` only; any other label must start with a letter or digit and equal the value
    exactly (case-sensitive: ``Linux`` is not ``linux``).
    """
    for key, template in wanted.items():
        if template is None or template == WILDCARD:
            continue
        label = machine.get(key.lower())
        if not label:
            return False
        if len(template) >= 2 and template.startswith("/") and template.endswith("/"):
            if re.fullmatch(template[1:-1], label) is None:
                return False
            continue
        if key.lower() in (OS_KEY, ARCHITECTURE_KEY) and template in ("all", "any"):
            continue
        if not _SIMPLE_LABEL.match(template) or template != label:
            return False
    return True
