"""The lifecycle, run by the real runner from the recipes in ``recipes/``."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from localcore.runner.dependencies import dependency_levels
from localcore.runner.supervisor import SupervisorSettings
from localcore.testing import running_core

from .conftest import LIFECYCLE, RECIPES, lifecycle


class Transitions:
    """Records every state change, in the order the runner announced them."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, component: str, old: str, new: str) -> None:
        with self._lock:
            self.events.append((component, old, new))

    def index(self, component: str, new: str) -> int:
        with self._lock:
            return next(i for i, event in enumerate(self.events) if event[0] == component and event[2] == new)

    def states(self, component: str) -> list[str]:
        with self._lock:
            return [new for name, _, new in self.events if name == component]


def test_hard_dependency_is_running_before_its_dependent_starts(local_core: Any) -> None:
    # GIVEN HardDependent with a HARD dependency on a Startup component, and a SOFT pair
    core = local_core(RECIPES / "order")
    transitions = Transitions()
    core.core.add_state_listener(transitions)
    core.wait_for_state("test.order.HardDependent", "FINISHED")
    core.wait_for_state("test.order.SoftBase", "RUNNING")
    core.wait_for_state("test.order.SoftDependent", "FINISHED")
    # THEN the HARD dependent started only after its dependency was RUNNING
    order = (core.root / "order.txt").read_text().split()
    assert order.index("HardBase") < order.index("HardDependent")
    assert (
        core.runner.recipes["test.order.HardDependent"].dependencies["test.order.HardBase"].dependency_type
        == "HARD"
    )
    # AND the SOFT dependent did not wait: SoftBase could only finish starting after it ran
    assert order.index("SoftDependent") < order.index("SoftBase")


def test_hard_dependent_waits_in_new(tmp_path: Path) -> None:
    # Listener attached before start: the whole sequence of transitions is seen.
    transitions = Transitions()
    from localcore.core import LocalCore

    core = LocalCore(
        root=tmp_path / "core",
        recipes=RECIPES / "order",
        thing_name="t",
        settings=SupervisorSettings(backoff_base=0.1),
        control=False,
    )
    core.add_state_listener(transitions)
    with core:
        assert core.runner.wait_for_state("test.order.HardDependent", "FINISHED", 30)
    assert transitions.index("test.order.HardBase", "RUNNING") < transitions.index(
        "test.order.HardDependent", "STARTING"
    )
    assert transitions.states("test.order.HardBase") == [
        "INSTALLED",
        "STARTING",
        "RUNNING",
        "STOPPING",
        "FINISHED",
    ]


def test_install_runs_once_per_version(tmp_path: Path) -> None:
    recipe_dir = tmp_path / "recipes"
    recipe_dir.mkdir()
    template = (LIFECYCLE / "install_once.yaml").read_text()
    count_file = tmp_path / "run" / "core" / "install-count.txt"
    for version, expected_installs in (("1.0.0", 1), ("1.0.0", 1), ("1.1.0", 2)):
        # WHEN the core starts with this version (same root each time)
        (recipe_dir / "install_once.yaml").write_text(template.replace('"1.0.0"', f'"{version}"'))
        with running_core(tmp_path / "run", recipe_dir) as core:
            core.wait_for_state("test.life.InstallOnce", "RUNNING")
        # THEN Install ran only for a version it had not installed yet
        assert count_file.read_text().count("installed") == expected_installs


def test_skipif_onpath_skips_install(local_core: Any) -> None:
    core = local_core(lifecycle("skip_install"))
    core.wait_for_state("test.life.SkipInstall", "FINISHED")
    assert not (core.root / "skipped.txt").exists()
    assert "install: skipped (Skipif onpath sh)" in core.log("test.life.SkipInstall")


def test_install_timeout_is_an_error_and_three_make_it_broken(local_core: Any) -> None:
    core = local_core(lifecycle("install_times_out"))
    core.wait_for_state("test.life.InstallTimesOut", "BROKEN")
    log = core.log("test.life.InstallTimesOut")
    assert log.count("install: timed out after 1s, killed") == 3
    assert "state: ERRORED -> NEW" in log  # an Install error goes back to NEW and installs again


def test_run_exit_codes(local_core: Any) -> None:
    # GIVEN one component that exits 0, one that fails once, one that always fails, and a bystander
    core = local_core(lifecycle("finishes", "fails_once", "always_fails", "steady"))
    transitions = Transitions()
    core.core.add_state_listener(transitions)
    # THEN exit 0 is FINISHED; non-zero is ERRORED then a restart; the third error is BROKEN
    core.wait_for_state("test.life.Finishes", "FINISHED")
    core.wait_for_state("test.life.FailsOnce", "FINISHED")
    core.wait_for_state("test.life.AlwaysFails", "BROKEN")
    statuses = {row.name: row for row in core.runner.status()}
    assert statuses["test.life.FailsOnce"].restarts == 1
    assert statuses["test.life.FailsOnce"].detail == ""  # FINISHED: the earlier error's reason is gone
    assert "ERRORED" in core.log("test.life.FailsOnce")
    assert statuses["test.life.AlwaysFails"].restarts == 2
    assert statuses["test.life.AlwaysFails"].detail == "Run exited with code 3"
    assert core.log("test.life.AlwaysFails").count("state: RUNNING -> ERRORED") == 2
    # AND the failures never disturbed the bystander
    assert core.state("test.life.Steady") == "RUNNING"
    assert core.core.any_broken()


def test_recover_runs_on_each_error(local_core: Any) -> None:
    core = local_core(lifecycle("always_fails"))
    core.wait_for_state("test.life.AlwaysFails", "BROKEN")
    # ERRORED twice (Recover each time), then BROKEN: the nucleus runs Recover on ERRORED only
    recovered = (core.root / "work/test.life.AlwaysFails/recover.txt").read_text().split()
    assert recovered == ["recovered", "recovered"]


def test_restart_brings_a_broken_component_back(local_core: Any) -> None:
    core = local_core(lifecycle("always_fails", "steady"))
    core.wait_for_state("test.life.AlwaysFails", "BROKEN")
    assert core.runner.restart_component("test.life.AlwaysFails")[0]
    core.wait_for_state("test.life.AlwaysFails", "ERRORED")
    # restarting a running one goes through STOPPING and back to RUNNING
    before = core.runner.status()
    assert core.runner.restart_component("test.life.Steady")[0]
    core.core.runner.wait_until(
        lambda: any(r.name == "test.life.Steady" and r.restarts == 1 for r in core.runner.status()), 10
    )
    core.wait_for_state("test.life.Steady", "RUNNING")
    assert [r.restarts for r in before if r.name == "test.life.Steady"] == [0]
    assert core.runner.restart_component("nope") == (False, "component nope not found")


def test_stop_component(local_core: Any) -> None:
    core = local_core(lifecycle("steady"))
    core.wait_for_state("test.life.Steady", "RUNNING")
    assert core.runner.stop_component("test.life.Steady")[0]
    core.wait_for_state("test.life.Steady", "FINISHED")
    assert "run: ended with code -15" in core.log("test.life.Steady")


def test_shutdown_that_hangs_is_killed_and_the_core_still_stops(tmp_path: Path) -> None:
    quick = SupervisorSettings(backoff_base=0.1, stop_grace=0.5)
    with running_core(tmp_path, lifecycle("hangs_on_shutdown", "steady"), settings=quick) as core:
        core.wait_for_log("test.life.HangsOnShutdown", "started")
    # THEN the Shutdown script was killed at its Timeout, the Run process (ignoring SIGTERM) SIGKILLed
    log = core.log("test.life.HangsOnShutdown")
    assert (
        "[INFO] (Copier) test.life.HangsOnShutdown: stdout. shutting down. {scriptName=services.test.life.HangsOnShutdown.lifecycle.Shutdown,"
        in log
    )
    assert "shutdown: timed out after 1s, killed" in log
    assert "run: still running 0.5s after SIGTERM, sending SIGKILL" in log
    assert core.runner.state("test.life.HangsOnShutdown") == "FINISHED"
    assert core.runner.state("test.life.Steady") == "FINISHED"


def test_setenv_precedence(tmp_path: Path) -> None:
    from localcore.ipc.recording_cloud import RecordingCloudAdapter

    class CloudWithEnvironment(RecordingCloudAdapter):
        def environment(self, component: str, token: str, dependencies: list[str]) -> dict[str, str]:
            return {
                "EXTRA_FROM_CLOUD": "cloud",
                "EXTRA_TOKEN_MATCHES": str(bool(token)),
                "AWS_REGION": "from-cloud",
            }

    with running_core(tmp_path, lifecycle("setenv"), cloud=lambda context: CloudWithEnvironment()) as core:
        core.wait_for_state("test.life.Setenv", "FINISHED")
        token = core.token("test.life.Setenv")
    env = dict(
        line.split("=", 1) for line in (core.root / "work/test.life.Setenv/env.txt").read_text().splitlines()
    )
    # step Setenv > lifecycle Setenv > the extra-environment hook > nucleus variables > the core's environment
    assert env["LEVEL_A"] == "lifecycle"
    assert env["LEVEL_B"] == "step"
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["EXTRA_FROM_CLOUD"] == "overridden-by-step"
    assert env["EXTRA_TOKEN_MATCHES"] == "True"
    assert env["SVCUID"] == env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] == token
    assert env["WITH_VARIABLE"] == f"{core.root}/work/test.life.Setenv/x"
    assert env["GGC_VERSION"].startswith("2.")
    import sys

    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)


def test_a_component_that_exits_at_once_and_one_that_reports_running(local_core: Any) -> None:
    core = local_core(lifecycle("finishes", "reports_running"))
    core.wait_for_state("test.life.Finishes", "FINISHED")
    # A Startup step that never exits is RUNNING once the component says so over IPC
    core.wait_for_state("test.life.ReportsRunning", "RUNNING")
    assert "lifecycle.Startup," in core.wait_for_log("test.life.ReportsRunning", "stdout. reported.")
    assert core.ipc.reported_state("test.life.ReportsRunning") == "RUNNING"


def test_a_component_printing_megabytes_costs_bounded_disk(tmp_path: Path) -> None:
    with running_core(tmp_path, lifecycle("floods", "steady"), log_max_bytes=1024 * 1024) as core:
        core.wait_for_state("test.life.Floods", "FINISHED")
        # the bystander is untouched and the whole output arrived (the last line is in the log)
        assert core.state("test.life.Steady") == "RUNNING"
        assert "stdout. flood-end. {scriptName=services.test.life.Floods.lifecycle.Run," in core.log(
            "test.life.Floods"
        )
    logs = sorted((core.root / "logs").glob("test.life.Floods.log*"))
    assert [p.name for p in logs] == [
        "test.life.Floods.log",
        *(f"test.life.Floods.log.{i}" for i in (1, 2, 3)),
    ]
    assert sum(p.stat().st_size for p in logs) <= 4 * 1024 * 1024 + 64 * 1024


def test_a_failing_hard_dependency_restarts_its_dependents(local_core: Any) -> None:
    # GIVEN a HARD and a SOFT dependent of a base component, all RUNNING
    core = local_core(lifecycle("flaky_base", "flaky_dependent", "soft_on_flaky"))
    for name in ("test.life.FlakyBase", "test.life.FlakyDependent", "test.life.SoftOnFlaky"):
        core.wait_for_state(name, "RUNNING")
    transitions = Transitions()
    core.core.add_state_listener(transitions)
    # WHEN the base fails once
    (core.root / "work/test.life.FlakyBase/fail-now").touch()

    def settled() -> bool:
        base, dependent = (
            transitions.states("test.life.FlakyBase"),
            transitions.states("test.life.FlakyDependent"),
        )
        return base[-1:] == ["RUNNING"] and "STOPPING" in dependent and dependent[-1] == "RUNNING"

    assert core.runner.wait_until(settled, 20), transitions.events
    # THEN the HARD dependent was restarted (stopped, then started once the base ran again)
    dependent = transitions.states("test.life.FlakyDependent")
    assert dependent[:2] == ["STOPPING", "INSTALLED"] and dependent[-1] == "RUNNING"
    assert transitions.index("test.life.FlakyBase", "ERRORED") < transitions.index(
        "test.life.FlakyDependent", "STOPPING"
    )
    # AND the SOFT one was left alone
    assert transitions.states("test.life.SoftOnFlaky") == []


def test_a_component_reporting_errored_is_restarted(local_core: Any) -> None:
    core = local_core(lifecycle("reports_errored"))
    core.wait_for_state("test.life.ReportsErrored", "BROKEN")
    row = next(r for r in core.runner.status() if r.name == "test.life.ReportsErrored")
    assert row.detail == "the component reported ERRORED"
    assert (
        core.log("test.life.ReportsErrored").count("RUNNING -> ERRORED (the component reported ERRORED)") == 2
    )


def test_refused_components_and_their_dependents_do_not_stop_the_others(local_core: Any) -> None:
    # GIVEN recipes that load but cannot run (bad accessControl, a YAML date in the configuration,
    # a missing artifact), a dependent of one of them, a broken recipe file, and a good component
    core = local_core([RECIPES / "refused", RECIPES / "bad" / "unknown_step.yaml", *lifecycle("steady")])
    core.wait_for_state("test.life.Steady", "RUNNING")
    refused = {name: str(err) for name, err in core.runner.refused.items()}
    assert set(refused) == {
        "test.refused.BadAccessControl",
        "test.refused.DateInConfiguration",
        "test.refused.MissingArtifact",
        "test.refused.DependsOnRefused",
        "test.bad.unknown_step",
    }
    assert (
        "bad_access_control.yaml: ComponentConfiguration.DefaultConfiguration.accessControl: "
        in refused["test.refused.BadAccessControl"]
    )
    assert (
        "date_in_configuration.yaml: ComponentConfiguration.DefaultConfiguration: "
        in refused["test.refused.DateInConfiguration"]
    )
    assert "artifact file:does/not/exist.zip: no such file" in refused["test.refused.MissingArtifact"]
    assert (
        "depends on test.refused.MissingArtifact, which was refused"
        in refused["test.refused.DependsOnRefused"]
    )
    assert "Manifests[0].Lifecycle.Rnu: unknown lifecycle step" in refused["test.bad.unknown_step"]
    # AND status lists them with their reason; ListComponents only what runs
    rows = {row.name: row for row in core.runner.status()}
    assert rows["test.refused.MissingArtifact"].state == "REFUSED"
    assert [info.name for info in core.runner.list_components()] == ["test.life.Steady"]


def test_startup_daemon_is_ended_with_the_component_and_bootstrap_runs_once(tmp_path: Path) -> None:
    for _ in range(2):
        with running_core(tmp_path, lifecycle("background_daemon")) as core:
            core.wait_for_state("test.life.BackgroundDaemon", "RUNNING")
            pid = int((core.root / "work/test.life.BackgroundDaemon/daemon.pid").read_text())
            assert _alive(pid)
        # THEN the daemon did not outlive the core
        assert not _alive(pid)
        log = core.log("test.life.BackgroundDaemon")
        assert (
            "stdout. shutdown ran. {scriptName=services.test.life.BackgroundDaemon.lifecycle.Shutdown," in log
        )
        assert "startup: ended the processes it left running" in log
    # Bootstrap (exit 100 = "restart the nucleus": nothing to do locally) ran once for this version
    assert (core.root / "bootstrap.txt").read_text().split() == ["bootstrapped"]


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (ended, not yet reaped by its parent) counts as gone
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


def test_dependents_stop_before_their_dependencies(tmp_path: Path) -> None:
    transitions = Transitions()
    with running_core(tmp_path, lifecycle("flaky_base", "flaky_dependent", "steady")) as core:
        core.wait_for_state("test.life.FlakyDependent", "RUNNING")
        core.core.add_state_listener(transitions)
    assert transitions.index("test.life.FlakyDependent", "FINISHED") < transitions.index(
        "test.life.FlakyBase", "STOPPING"
    )
    assert dependency_levels(core.runner._order, core.runner.recipes) == [
        ["test.life.FlakyBase", "test.life.Steady"],
        ["test.life.FlakyDependent"],
    ]


def test_lifecycle_operations_through_the_real_ipc_client(local_core: Any) -> None:
    core = local_core(lifecycle("cli_user", "steady"))
    core.wait_for_state("test.life.CliUser", "RUNNING")
    core.wait_for_state("test.life.Steady", "RUNNING")
    client = core.client_for("test.life.CliUser")
    listed = {c.component_name: (c.version, c.state) for c in client.list_components().components}
    assert listed == {"test.life.CliUser": ("3.2.1", "RUNNING"), "test.life.Steady": ("1.0.0", "RUNNING")}
    details = client.get_component_details(component_name="test.life.CliUser").component_details
    assert details.configuration["color"] == "blue"
    assert client.stop_component(component_name="test.life.Steady").stop_status == "SUCCEEDED"
    core.wait_for_state("test.life.Steady", "FINISHED")
    assert client.restart_component(component_name="test.life.Steady").restart_status == "SUCCEEDED"
    core.wait_for_state("test.life.Steady", "RUNNING")


def test_a_core_killed_with_sigkill_leaves_no_component_running(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    # GIVEN a core in its own process, running a component
    script = (
        "import sys, threading; from pathlib import Path; from localcore.core import LocalCore;"
        f"core = LocalCore(root=Path({str(tmp_path / 'root')!r}), recipes=Path({str(LIFECYCLE / 'steady.yaml')!r}), thing_name='t', control=False);"
        "core.start(); core.runner.wait_for_state('test.life.Steady', 'RUNNING', 30);"
        "print(core.runner._supervisors['test.life.Steady']._main.pid, flush=True); threading.Event().wait()"
    )
    core_process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        assert core_process.stdout is not None
        component_pid = int(core_process.stdout.readline())
        assert _alive(component_pid)
        # WHEN the core dies without any chance to clean up
        core_process.send_signal(signal.SIGKILL)
        core_process.wait(10)
        # THEN the component dies with it (the kernel delivers SIGKILL to it)
        deadline = time.monotonic() + 10
        while _alive(component_pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # another process's exit: nothing to wait() on
        assert not _alive(component_pid)
    finally:
        if core_process.poll() is None:
            os.kill(core_process.pid, signal.SIGKILL)
            core_process.wait()
