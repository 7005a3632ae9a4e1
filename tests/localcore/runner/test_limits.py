"""Resource limits from a deployment's runWith.systemResourceLimits."""

from __future__ import annotations

import os
from pathlib import Path

from localcore.runner.limits import LimitEnforcer, ResourceLimits
from localcore.testing import running_core

from .conftest import lifecycle

HOG = "test.life.MemoryHog"


def test_memory_limit_is_enforced_and_reported(tmp_path: Path) -> None:
    # GIVEN the same 300 MB allocation with and without a 100 MB limit
    limited = {
        "components": {HOG: {"runWith": {"systemResourceLimits": {"memory": 100 * 1024, "cpus": 0.5}}}}
    }
    with running_core(tmp_path / "limited", lifecycle("memory_hog"), deployment=limited) as core:
        core.wait_for_state(HOG, "BROKEN")
        (row,) = core.runner.status()
        log = core.log(HOG)
    with running_core(tmp_path / "free", lifecycle("memory_hog")) as free:
        free.wait_for_state(HOG, "FINISHED")
    # THEN only the limited one ran out of memory, and status says what enforced it
    assert "MemoryError" in log
    assert "allocated" in free.log(HOG)
    if row.limits.startswith("rlimit"):
        assert (
            row.limits
            == f"rlimit RLIMIT_AS={100 * 1024 * 1024} cpus not enforced (no rlimit for a CPU share)"
        )
    else:
        assert row.limits.startswith("cgroup-v2 ")


def test_cgroup_files_are_written(tmp_path: Path) -> None:
    # A stand-in cgroup folder: the enforcer writes the same files it would in /sys/fs/cgroup.
    enforcer = LimitEnforcer(cgroup_parent=tmp_path)
    preexec, described = enforcer.preexec("com.example.A", ResourceLimits(memory_kb=2048, cpus=1.5))
    assert preexec is not None and enforcer.mechanism == "cgroup-v2"
    group = tmp_path / "com.example.A"
    assert (group / "memory.max").read_text() == str(2048 * 1024)
    assert (group / "cpu.max").read_text() == "150000 100000"
    assert described == f"cgroup-v2 {group} memory_kb=2048 cpus=1.5"
    for name in os.listdir(group):
        (group / name).unlink()
    enforcer.cleanup()
    assert not tmp_path.exists()


def test_no_limits_means_no_preexec() -> None:
    assert LimitEnforcer(cgroup_parent=None).preexec("a", ResourceLimits()) == (None, "none")
