"""Component logs: the nucleus' line format and levels, rotation bounds, and how the pump cuts a
process's output into lines.

The nucleus files a component's stdout lines at INFO and its stderr lines at WARN
(``aws-greengrass-nucleus``, ``lifecyclemanager/ShellRunner.java``)::

    }).withOut(s -> {
        String ss = s.toString().trim();
        logger.atInfo().setEventType("stdout").kv(SCRIPT_NAME_KEY, note).log(ss);
    }).withErr(s -> {
        String ss = s.toString().trim();
        logger.atWarn().setEventType("stderr").kv(SCRIPT_NAME_KEY, note).log(ss);
    })

and writes them with ``aws-greengrass-logging-java``'s text layout
(``GreengrassLogMessage.getTextMessage``: ``"%s [%s] (%s) %s: %s", time, level, thread,
loggerName, eventType. message. {contexts}``), as a device's log shows::

    2022-03-04T08:30:32.220Z [INFO] (Copier) aws.greengrass.StreamManager: stdout. <line>. {scriptName=services.aws.greengrass.StreamManager.lifecycle.startup.script, serviceName=aws.greengrass.StreamManager, currentState=STARTING}
"""

from __future__ import annotations

import re
from pathlib import Path

from localcore.runner.logs import ComponentLog
from localcore.runner.process import MAX_LINE_BYTES, run_step_to_end
from tests.components.rig import wait_until
from tests.full_disk import fill, small_filesystem

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
OUTPUT = re.compile(
    rf"^{TIME} \[(INFO|WARN)\] \(Copier\) com\.example\.A: (stdout|stderr)\. (?:(.*)\. )?"
    r"\{scriptName=services\.com\.example\.A\.lifecycle\.(\w+), serviceName=com\.example\.A, "
    r"currentState=(\w+)\}$"
)
NOTE = re.compile(
    rf"^{TIME} \[(?:INFO|WARN)\] \(localcore\) com\.example\.A: (.*)\. "
    r"\{serviceName=com\.example\.A, currentState=(\w+)\}$"
)


def entries(path: Path) -> list[tuple[str, ...]]:
    """Each line as (level, stream, message, step, state) or ("NOTE", message, state)."""
    found: list[tuple[str, ...]] = []
    for line in path.read_text().splitlines():
        if output := OUTPUT.match(line):
            level, stream, message, step, state = output.groups()
            found.append((level, stream, message or "", step, state))
        elif note := NOTE.match(line):
            found.append(("NOTE", *note.groups()))
        else:
            raise AssertionError(f"not a nucleus-style line: {line!r}")
    return found


def stdout_texts(path: Path) -> list[str]:
    return [entry[2] for entry in entries(path) if entry[:2] == ("INFO", "stdout")]


def test_stdout_is_info_stderr_is_warn_with_the_nucleus_contexts(tmp_path: Path) -> None:
    log = ComponentLog(tmp_path / "a.log", "com.example.A")
    log.info("state: NEW -> INSTALLED")
    log.set_state("RUNNING")
    log.write_output("run", "stdout", ["one", "  two  ", ""])
    log.write_output("startup", "stderr", ["oops"])
    log.close()
    log.info("after close: dropped")
    assert entries(tmp_path / "a.log") == [
        ("NOTE", "state: NEW -> INSTALLED", "NEW"),
        ("INFO", "stdout", "one", "Run", "RUNNING"),
        ("INFO", "stdout", "two", "Run", "RUNNING"),  # trimmed, as the nucleus' trim()
        ("INFO", "stdout", "", "Run", "RUNNING"),  # an empty line has no message part
        ("WARN", "stderr", "oops", "Startup", "RUNNING"),
    ]


def test_rotation_keeps_at_most_the_backups(tmp_path: Path) -> None:
    log = ComponentLog(tmp_path / "a.log", "com.example.A", max_bytes=1000, backups=2)
    for index in range(100):
        log.write_output("run", "stdout", [f"line {index:03d} " + "x" * 40])
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["a.log", "a.log.1", "a.log.2"]
    assert all((tmp_path / name).stat().st_size <= 1000 for name in files)
    # the newest lines are in a.log, the ones before in a.log.1
    assert stdout_texts(tmp_path / "a.log")[-1].startswith("line 099")
    assert int(stdout_texts(tmp_path / "a.log.1")[-1][5:8]) + 1 == int(
        stdout_texts(tmp_path / "a.log")[0][5:8]
    )


def test_the_pump_files_each_stream_at_its_level(tmp_path: Path) -> None:
    log = ComponentLog(tmp_path / "a.log", "com.example.A")
    code = run_step_to_end(
        step="run",
        script="echo to-out; echo to-err >&2",
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        output=log,
        timeout=30,
        should_abort=lambda: False,
    )
    log.close()
    assert code == 0
    assert sorted(entry[:3] for entry in entries(tmp_path / "a.log")) == [
        ("INFO", "stdout", "to-out"),
        ("WARN", "stderr", "to-err"),
    ]


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
    texts = stdout_texts(tmp_path / "a.log")
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
            log.write_output("run", "stdout", [f"line {index} " + "x" * 200])
        assert log.dropped_lines > 0
        # THEN once space is back the log resumes, saying how many lines it dropped
        junk.unlink()

        def written_again() -> bool:
            log.write_output("run", "stdout", ["after"])
            return "lines dropped: the log could not be written" in (fs / "logs" / "a.log").read_text()

        wait_until(written_again, what="the log written again")
        log.close()
        lines = (fs / "logs" / "a.log").read_text().splitlines()
        first = NOTE.match(lines[0])
        assert first is not None and first.group(1) == "before"
        # the note starts a line of its own, even after a line the full disk cut short
        assert any(NOTE.match(line) and "lines dropped" in line for line in lines)


def test_a_log_that_cannot_be_opened_does_not_stop_the_component(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    log = ComponentLog(blocker / "a.log", "com.example.A")  # its folder cannot be created
    log.info("dropped")
    assert log.dropped_lines == 1
    log.close()
