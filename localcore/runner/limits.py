"""Per-component memory and CPU limits (``runWith.systemResourceLimits``), where the OS allows.

A deployment's ``systemResourceLimits`` gives ``memory`` in KB and ``cpus`` as a share of cores.
The nucleus enforces them with cgroups. localcore uses a cgroup v2 child group when the unified
hierarchy is mounted, delegated to it, and writable (``memory.max`` and ``cpu.max``: both limits
are enforced). Otherwise it falls back to rlimits: ``RLIMIT_AS`` caps the address space at the
memory limit, which is stricter than a cgroup's resident-memory cap, and there is no rlimit for a
CPU *share* (``RLIMIT_CPU`` caps total CPU seconds and would kill a long-running component), so
``cpus`` is then NOT enforced and the log says so.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from localcore.logfmt import kv

_log = logging.getLogger("localcore.runner.limits")

CPU_PERIOD_US = 100_000
_GROUP_NUMBERS = itertools.count(1)  # several cores in one process (tests) get separate groups


@dataclass(frozen=True)
class ResourceLimits:
    """Limits for one component: memory in KB, CPU as a (fractional) number of cores."""

    memory_kb: int | None = None
    cpus: float | None = None

    def __bool__(self) -> bool:
        return self.memory_kb is not None or self.cpus is not None


class LimitEnforcer:
    """Applies :class:`ResourceLimits` to step processes with the best mechanism available."""

    def __init__(self, cgroup_parent: Path | None) -> None:
        """``cgroup_parent``: a writable cgroup v2 folder to create component groups in, or None for rlimits."""
        self.cgroup_parent = cgroup_parent

    @property
    def mechanism(self) -> str:
        """``cgroup-v2`` or ``rlimit``."""
        return "cgroup-v2" if self.cgroup_parent else "rlimit"

    @classmethod
    def detect(cls, name: str) -> LimitEnforcer:
        """Use cgroup v2 under the core's own cgroup if delegated and writable, else rlimits."""
        parent = _writable_cgroup_v2(name)
        return cls(parent)

    def preexec(self, component: str, limits: ResourceLimits) -> tuple[Callable[[], None] | None, str]:
        """A function run in the child before exec, and a description of what it enforces."""
        if not limits:
            return None, "none"
        if self.cgroup_parent is not None:
            group = self._component_cgroup(component, limits)
            if group is not None:
                procs = group / "cgroup.procs"

                def join_cgroup() -> None:
                    procs.write_text("0")

                return join_cgroup, f"cgroup-v2 {group} memory_kb={limits.memory_kb} cpus={limits.cpus}"
        memory_bytes = limits.memory_kb * 1024 if limits.memory_kb is not None else None

        def set_rlimits() -> None:
            if memory_bytes is not None:
                resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

        cpu_note = "cpus not enforced (no rlimit for a CPU share)" if limits.cpus is not None else ""
        memory_note = f"RLIMIT_AS={memory_bytes}" if memory_bytes is not None else ""
        return set_rlimits, f"rlimit {memory_note} {cpu_note}".strip()

    def _component_cgroup(self, component: str, limits: ResourceLimits) -> Path | None:
        assert self.cgroup_parent is not None
        group = self.cgroup_parent / component
        try:
            group.mkdir(exist_ok=True)
            if limits.memory_kb is not None:
                (group / "memory.max").write_text(str(limits.memory_kb * 1024))
            if limits.cpus is not None:
                (group / "cpu.max").write_text(
                    f"{max(1000, int(limits.cpus * CPU_PERIOD_US))} {CPU_PERIOD_US}"
                )
        except OSError as err:
            _log.warning(kv(event="cgroup_unusable", component=component, error=err, fallback="rlimit"))
            return None
        return group

    def cleanup(self) -> None:
        """Remove the core's cgroups (they must be empty: call after every process ended)."""
        if self.cgroup_parent is None:
            return
        for child in self.cgroup_parent.iterdir():
            if child.is_dir():
                with contextlib.suppress(OSError):
                    child.rmdir()
        with contextlib.suppress(OSError):
            self.cgroup_parent.rmdir()


def _writable_cgroup_v2(name: str) -> Path | None:
    mount = _cgroup2_mount()
    if mount is None:
        return None
    try:
        own = next(
            line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines() if line.startswith("0::")
        )
    except (OSError, StopIteration):
        return None
    base = mount / own.strip().lstrip("/")
    controllers_file = base / "cgroup.subtree_control"
    try:
        enabled = controllers_file.read_text().split()
        if not {"memory", "cpu"}.issubset(enabled):
            controllers_file.write_text("+memory +cpu")
    except OSError:
        return None
    parent = base / f"localcore-{name}-{os.getpid()}-{next(_GROUP_NUMBERS)}"
    try:
        parent.mkdir()
        (parent / "cgroup.subtree_control").write_text("+memory +cpu")
    except OSError:
        with contextlib.suppress(OSError):
            parent.rmdir()
        return None
    return parent


def _cgroup2_mount() -> Path | None:
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        left, _, right = line.partition(" - ")
        if right.split(" ", 1)[0] == "cgroup2":
            return Path(left.split()[4])
    return None
