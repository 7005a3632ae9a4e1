"""Component logs: format, rotation bounds, and how the pump cuts a process's output into lines."""

from __future__ import annotations

import re
from pathlib import Path

from localcore.runner.logs import ComponentLog
from localcore.runner.process import MAX_LINE_BYTES, run_step_to_end
from tests.components.rig import wait_until
from tests.full_disk import fill, small_filesystem

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO com\.example\.A: (.*)$")


def messages(path: Path) -> list[str]:
    found = []
    for line in path.read_text().splitlines():
        match = LINE.match(line)
        assert match, line
        found.append(match.group(1))
    return found


def test_lines_are_timestamped_and_named(tmp_path: Path) -> None:
    log = ComponentLog(tmp_path / "a.log", "com.example.A")
    log.info("state: NEW -> INSTALLED")
    log.write_lines("run.stdout: ", ["one", "two"])
    log.close()
    log.info("after close: dropped")
    assert messages(tmp_path / "a.log") == ["state: NEW -> INSTALLED", "run.stdout: one", "run.stdout: two"]


def test_rotation_keeps_at_most_the_backups(tmp_path: Path) -> None:
    log = ComponentLog(tmp_path / "a.log", "com.example.A", max_bytes=1000, backups=2)
    for index in range(100):
        log.write_lines("", [f"line {index:03d} " + "x" * 40])
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["a.log", "a.log.1", "a.log.2"]
    assert all((tmp_path / name).stat().st_size <= 1000 for name in files)
    # the newest lines are in a.log, the ones before in a.log.1
    assert messages(tmp_path / "a.log")[-1].startswith("line 099")
    assert int(messages(tmp_path / "a.log.1")[-1][5:8]) + 1 == int(messages(tmp_path / "a.log")[0][5:8])


def test_the_pump_splits_runaway_lines_and_keeps_a_last_line_without_newline(tmp_path: Path) -> None:
    log = ComponentLog(tmp_path / "a.log", "com.example.A", max_bytes=10 * 1024 * 1024)
    script = f"yes y | tr -d '\\n' | head -c {MAX_LINE_BYTES * 3}; echo; printf 'no newline at the end'"
    code = run_step_to_end(
        step="run",
        script=script,
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        output=log,
        timeout=30,
        should_abort=lambda: False,
    )
    log.close()
    assert code == 0
    lines = [m for m in messages(tmp_path / "a.log") if m.startswith("run.stdout: ")]
    texts = [m.removeprefix("run.stdout: ") for m in lines]
    assert texts[-1] == "no newline at the end"
    assert "".join(texts[:-1]) == "y" * MAX_LINE_BYTES * 3
    assert all(len(text) <= MAX_LINE_BYTES + 64 * 1024 for text in texts)


def test_a_full_disk_drops_and_counts_lines_and_the_log_resumes_by_itself(tmp_path: Path) -> None:
    """The core's own writes fail soft: a component whose log cannot be written keeps running
    (its output pump must not die, or the component would block on a full pipe)."""
    with small_filesystem(tmp_path / "fs") as fs:
        # GIVEN a component log on a file system that fills up
        log = ComponentLog(fs / "logs" / "a.log", "com.example.A")
        log.info("before")
        junk = fill(fs)
        # WHEN lines keep coming: they are dropped and counted, nothing raises
        for index in range(200):
            log.write_lines("run.stdout: ", [f"line {index} " + "x" * 200])
        assert log.dropped_lines > 0
        # THEN once space is back the log resumes, saying how many lines it dropped
        junk.unlink()

        def written_again() -> bool:
            log.write_lines("run.stdout: ", ["after"])
            return "lines dropped: the log could not be written" in (fs / "logs" / "a.log").read_text()

        wait_until(written_again, what="the log written again")
        log.close()
        assert messages(fs / "logs" / "a.log")[0] == "before"


def test_a_log_that_cannot_be_opened_does_not_stop_the_component(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    log = ComponentLog(blocker / "a.log", "com.example.A")  # its folder cannot be created
    log.info("dropped")
    assert log.dropped_lines == 1
    log.close()
