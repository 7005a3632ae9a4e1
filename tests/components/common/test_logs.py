"""A component's log lines: INFO and DEBUG on stdout, WARNING and above on stderr, one line each.

Why the streams matter: the nucleus files every stdout line of a component at INFO and every
stderr line at WARN (``aws-greengrass-nucleus``, ``lifecyclemanager/ShellRunner.java``)::

    }).withOut(s -> {
        String ss = s.toString().trim();
        logger.atInfo().setEventType("stdout").kv(SCRIPT_NAME_KEY, note).log(ss);
    }).withErr(s -> {
        String ss = s.toString().trim();
        logger.atWarn().setEventType("stderr").kv(SCRIPT_NAME_KEY, note).log(ss);
    })

and it cuts the streams into lines at ``\\n`` (``util/Exec.java``, ``Copier.run``), so a
multi-line traceback would become one WARN entry per line.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

from components.common.logs import kv

ROOT = Path(__file__).resolve().parents[3]
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) demo (.*)$")


def run_component(body: str) -> subprocess.CompletedProcess[str]:
    """Run ``body`` after ``setup_logging("demo", "DEBUG")`` in a fresh interpreter, both streams piped."""
    script = "from components.common.logs import kv, setup_logging\nlog = setup_logging('demo', 'DEBUG')\n"
    return subprocess.run(
        [sys.executable, "-c", script + textwrap.dedent(body)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def parsed(stream: str) -> list[tuple[str, str]]:
    found = []
    for line in stream.splitlines():
        match = LINE.match(line)
        assert match, f"not one structured line: {line!r}"
        found.append((match.group(1), match.group(2)))
    return found


def test_info_and_debug_go_to_stdout_warnings_and_errors_to_stderr() -> None:
    result = run_component(
        """
        log.debug(kv(event="detail"))
        log.info(kv(event="running"))
        log.warning(kv(event="slow"))
        log.error(kv(event="failed"))
        log.critical(kv(event="gave_up"))
        """
    )
    assert result.returncode == 0, result.stderr
    assert parsed(result.stdout) == [("DEBUG", "event=detail"), ("INFO", "event=running")]
    assert parsed(result.stderr) == [
        ("WARNING", "event=slow"),
        ("ERROR", "event=failed"),
        ("CRITICAL", "event=gave_up"),
    ]


def test_a_traceback_stays_on_the_line_of_its_event() -> None:
    result = run_component(
        """
        try:
            raise ValueError("bad\\nvalue")
        except ValueError:
            log.exception(kv(event="component_failed"))
        log.error("an f-string message\\nwith a second line")
        """
    )
    events = parsed(result.stderr)
    assert len(events) == 2
    level, message = events[0]
    assert level == "ERROR"
    assert message.startswith('event=component_failed traceback="Traceback (most recent call last):\\n')
    assert '\\n  File \\"<string>\\", line ' in message
    assert message.endswith('ValueError: bad\\nvalue"')
    assert events[1] == ("ERROR", "an f-string message\\nwith a second line")


def test_uncaught_exceptions_in_threads_and_main_are_one_line_each() -> None:
    result = run_component(
        """
        import threading
        thread = threading.Thread(target=lambda: 1 / 0, name="worker")
        thread.start()
        thread.join()
        raise RuntimeError("boom")
        """
    )
    assert result.returncode == 1
    events = parsed(result.stderr)
    assert [level for level, _ in events] == ["ERROR", "CRITICAL"]
    assert events[0][1].startswith(
        "event=thread_crashed thread=worker error=\"ZeroDivisionError('division by zero')\""
    )
    assert events[1][1].startswith("event=uncaught_exception error=RuntimeError('boom') traceback=")


def test_python_warnings_are_logged_at_warning() -> None:
    result = run_component(
        """
        import warnings
        warnings.warn("old api", DeprecationWarning, stacklevel=1)
        """
    )
    (event,) = parsed(result.stderr.replace(" py.warnings ", " demo "))
    assert event[0] == "WARNING" and "DeprecationWarning: old api" in event[1]


def test_lines_are_flushed_as_they_are_logged() -> None:
    """Both streams are pipes (block-buffered by default): each line must reach the pipe at once."""
    script = (
        "import sys\n"
        "from components.common.logs import kv, setup_logging\n"
        "log = setup_logging('demo')\n"
        "log.info(kv(event='first'))\n"
        "log.warning(kv(event='second'))\n"
        "sys.stdin.readline()\n"  # blocks until the test has read both lines
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None and process.stdin is not None
        assert parsed(process.stdout.readline()) == [("INFO", "event=first")]
        assert parsed(process.stderr.readline()) == [("WARNING", "event=second")]
        process.stdin.write("\n")
        process.stdin.flush()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_kv_escapes_line_breaks_so_a_value_never_splits_an_event() -> None:
    rendered = kv(error='a "quoted"\nsecond\tline\r', plain="x", empty="")
    assert "\n" not in rendered and "\r" not in rendered
    assert rendered == 'error="a \\"quoted\\"\\nsecond\\tline\\r" plain=x empty=""'


def test_levels_survive_into_the_component_log_under_a_core(tmp_path: Path) -> None:
    """End to end: a component using :func:`setup_logging`, run from its recipe by localcore, whose
    ``<root>/logs/<Component>.log`` files its lines as the nucleus would: INFO for the INFO line,
    WARN for the warning and the error, and the traceback inside the error's one line."""
    from localcore.testing import running_core

    script = (
        "from components.common.logs import kv, setup_logging\n"
        "log = setup_logging('demo')\n"
        "log.info(kv(event='running'))\n"
        "log.warning(kv(event='slow_sensor'))\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError:\n"
        "    log.exception(kv(event='read_failed'))\n"
    )
    (tmp_path / "demo.py").write_text(script)
    recipe = tmp_path / "test.LogLevels.yaml"
    recipe.write_text(
        textwrap.dedent(
            f"""\
            RecipeFormatVersion: "2020-01-25"
            ComponentName: test.LogLevels
            ComponentVersion: "1.0.0"
            Manifests:
              - Platform: {{os: linux}}
                Lifecycle:
                  Setenv: {{PYTHONPATH: "{ROOT}"}}
                  Run: "exec python3 {tmp_path / "demo.py"}"
            """
        )
    )
    with running_core(tmp_path, recipe) as core:
        core.wait_for_state("test.LogLevels", "FINISHED")
        text = core.log("test.LogLevels")
    # stdout and stderr are two pipes read by two threads (as the nucleus' two Copiers): the order
    # across streams is not kept, so each event is looked up by its name.
    output = {
        event: line
        for line in text.splitlines()
        if " (Copier) " in line
        for event in ("event=running", "event=slow_sensor", "event=read_failed")
        if event in line
    }
    assert len([line for line in text.splitlines() if " (Copier) " in line]) == 3, text
    assert "[INFO] (Copier) test.LogLevels: stdout. " in output["event=running"]
    assert " INFO demo event=running. {scriptName=" in output["event=running"]
    assert "[WARN] (Copier) test.LogLevels: stderr. " in output["event=slow_sensor"]
    assert " WARNING demo event=slow_sensor. {scriptName=" in output["event=slow_sensor"]
    failed = output["event=read_failed"]
    assert "[WARN] (Copier) test.LogLevels: stderr. " in failed
    assert " ERROR demo event=read_failed traceback=" in failed
    assert "ZeroDivisionError: division by zero" in failed
