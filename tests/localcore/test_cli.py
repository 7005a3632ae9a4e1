"""``python -m localcore``: run, status, logs, config, restart against real cores."""

from __future__ import annotations

import argparse
import io
import itertools
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from localcore.cli import TerminalReporter, build_parser, follow, main, run_core
from localcore.core import LocalCore
from localcore.testing import TEST_SETTINGS, running_core

from .runner.conftest import LIFECYCLE, RECIPES, lifecycle

REPO = Path(__file__).resolve().parents[2]


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-command parsers by name: the choices of the parser's sub-parsers action."""
    assert parser._subparsers is not None
    action = parser._subparsers._group_actions[0]
    assert isinstance(action, argparse._SubParsersAction)
    return action.choices


# The embedded cloud's CLI hook makes moto the default cloud of `run`; these tests need none.
_RUN_PARSER = _commands(build_parser())["run"]
RECORDING_CLOUD = ["--cloud", "recording"] if "--cloud" in _RUN_PARSER._option_string_actions else []


def test_run_for_a_duration_then_stop_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "run",
            "--recipes",
            str(RECIPES / "order"),
            "--root",
            str(tmp_path / "root"),
            "--thing-name",
            "t-1",
            "--duration",
            "1.5",
            "--json",
            *RECORDING_CLOUD,
        ]
    )
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert events[0] == {
        "event": "started",
        "root": str((tmp_path / "root").resolve()),
        "thingName": "t-1",
        "refused": {},
    }
    # how far the components got in 1.5 s depends on the machine; every change is reported in order
    states = [(e["component"], e["old"], e["new"]) for e in events if e["event"] == "state"]
    assert {name for name, _, _ in states} <= {
        "test.order.HardBase",
        "test.order.HardDependent",
        "test.order.SoftBase",
        "test.order.SoftDependent",
    }
    for name in {name for name, _, _ in states}:
        mine = [(old, new) for n, old, new in states if n == name]
        assert all(previous[1] == current[0] for previous, current in itertools.pairwise(mine))
    finished = events[-1]
    assert finished["event"] == "finished" and finished["exitCode"] == 0
    assert len(finished["components"]) == 4


def test_run_exits_non_zero_when_a_recipe_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    for path in [*lifecycle("finishes"), RECIPES / "bad" / "bad_timeout.yaml"]:
        (recipes / path.name).write_text(path.read_text())
    code = main(
        [
            "run",
            "--recipes",
            str(recipes),
            "--root",
            str(tmp_path / "root"),
            "--thing-name",
            "t",
            "--duration",
            "0.5",
            *RECORDING_CLOUD,
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert (
        "REFUSED  test.bad.bad_timeout: " in out
        and "expected a positive number of seconds, got 'soon'" in out
    )
    assert "test.life.Finishes" in out


def test_run_exits_non_zero_when_a_component_ended_broken(tmp_path: Path) -> None:
    # GIVEN a run that ends as soon as a component is BROKEN (instead of after a duration)
    core = LocalCore(
        root=tmp_path / "root",
        recipes=lifecycle("always_fails", "steady"),
        thing_name="t",
        settings=TEST_SETTINGS,
    )
    stop = threading.Event()
    core.add_state_listener(lambda name, old, new: stop.set() if new == "BROKEN" else None)
    out = io.StringIO()
    # WHEN run_core runs it
    code = run_core(core, TerminalReporter(out), duration=60, stop_event=stop)
    # THEN the exit code says so and the final table shows it
    assert code == 1
    final = out.getvalue().splitlines()
    assert any("test.life.AlwaysFails" in line and "BROKEN" in line for line in final)
    assert final[-1] == "localcore: stopped (exit code 1)"


def test_run_with_a_missing_recipe_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["run", "--recipes", str(tmp_path / "nope"), "--root", str(tmp_path), "--thing-name", "t"]) == 2
    )
    assert "no recipe file or folder at" in capsys.readouterr().err


def test_status_config_restart_and_logs_against_a_running_core(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_core(tmp_path, lifecycle("configured", "steady"), control=True) as core:
        core.wait_for_state("test.life.Steady", "RUNNING")
        core.wait_for_state("test.life.Configured", "RUNNING")
        root = str(core.root)
        capsys.readouterr()
        assert main(["status", "--root", root]) == 0
        table = capsys.readouterr().out
        assert "test.life.Steady" in table and "RUNNING" in table and "RESTARTS" in table
        assert main(["status", "--root", root, "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert {c["name"] for c in status["components"]} == {"test.life.Configured", "test.life.Steady"}

        assert main(["config", "set", "test.life.Configured", "mqtt/port", "1883", "--root", root]) == 0
        # config set is a configuration-only local deployment (issue #17): its id follows the value.
        assert (
            capsys.readouterr().out.strip().startswith("test.life.Configured: mqtt/port = 1883  (deployment ")
        )
        assert main(["config", "set", "test.life.Configured", "mode", "turbo", "--root", root]) == 0
        capsys.readouterr()
        assert main(["config", "get", "test.life.Configured", "mode", "--root", root]) == 0
        assert capsys.readouterr().out.strip() == "turbo"
        assert main(["config", "get", "test.life.Configured", "--root", root]) == 0
        assert json.loads(capsys.readouterr().out)["mqtt"] == {"port": 1883, "host": "localhost"}
        assert main(["config", "get", "test.life.Configured", "nothing", "--root", root]) == 1
        assert "nothing" in capsys.readouterr().err

        assert main(["restart", "test.life.Steady", "--root", root]) == 0
        assert "restart of test.life.Steady requested" in capsys.readouterr().out
        assert main(["stop", "test.life.Steady", "--root", root, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["component"] == "test.life.Steady"
        assert main(["restart", "test.life.Nope", "--root", root]) == 1
        assert "component test.life.Nope not found" in capsys.readouterr().err

        assert main(["logs", "test.life.Steady", "-n", "50", "--root", root]) == 0
        assert (
            "[INFO] (Copier) test.life.Steady: stdout. steady. {scriptName=services.test.life.Steady.lifecycle.Run,"
            in capsys.readouterr().out
        )
    # a stopped core's configuration is still readable
    assert main(["config", "get", "test.life.Configured", "mode", "--root", root]) == 0
    assert capsys.readouterr().out.strip() == "turbo"
    assert main(["status", "--root", root]) == 1
    assert "no core is running with root" in capsys.readouterr().err


def test_logs_of_an_unknown_component(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "nobody", "--root", str(tmp_path)]) == 1
    assert "no log for nobody" in capsys.readouterr().err


def test_parser_has_every_command() -> None:
    parser = build_parser()
    choices = _commands(parser)
    assert {"run", "status", "logs", "config", "restart", "stop"} <= set(choices)


def test_python_dash_m_localcore_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "localcore", "--help"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0
    assert "run" in result.stdout and "status" in result.stdout


def test_a_second_core_on_the_same_root_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_core(tmp_path, lifecycle("steady"), control=True) as core:
        core.wait_for_state("test.life.Steady", "RUNNING")
        args = [
            "run",
            "--recipes",
            str(LIFECYCLE),
            "--root",
            str(core.root),
            "--thing-name",
            "t",
            *RECORDING_CLOUD,
        ]
        assert main(args) == 2
        assert f"another core is already running with root {core.root}" in capsys.readouterr().err
        # the running core was not disturbed
        assert core.state("test.life.Steady") == "RUNNING"
        assert main(["status", "--root", str(core.root)]) == 0


class _Collector(io.StringIO):
    """Output that can be waited on."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()

    def write(self, text: str) -> int:
        with self.changed:
            written = super().write(text)
            self.changed.notify_all()
        return written

    def wait_for(self, text: str, timeout: float = 10) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: text in self.getvalue(), timeout)


def test_follow_prints_new_lines_across_a_rotation(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    log.write_text("old line\n")
    out = _Collector()
    stop, following = threading.Event(), threading.Event()
    follower = threading.Thread(target=follow, args=(log, out, stop, 0.01, following))
    follower.start()
    try:
        assert following.wait(10)
        # WHEN lines are appended, then the file is rotated and written again
        with log.open("a") as handle:
            handle.write("first\n")
        assert out.wait_for("first")
        log.rename(tmp_path / "c.log.1")
        log.write_text("after rotation\n")
        assert out.wait_for("after rotation")
    finally:
        stop.set()
        follower.join(5)
    # THEN only new lines were printed, including those of the new file
    assert out.getvalue() == "first\nafter rotation\n"
