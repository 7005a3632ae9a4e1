"""How fast localcore's runner takes in a component's output, and how quickly it starts components.

1. Output: one component writes N lines of B bytes as fast as it can. Measured: the time from
   Run start until the last line is in ``<root>/logs/<name>.log`` (with rotation), next to the same
   command whose shell sends its output straight to a file (the peer: no capture at all).
2. Start: K components with a trivial Run step, from ``LocalCore.start()`` until all are RUNNING,
   next to starting the same K shell processes with ``subprocess.Popen`` (the peer).

    .venv/bin/python benchmarks/runner_output.py [--lines 200000] [--bytes 100] [--components 20]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localcore.core import LocalCore
from localcore.runner.supervisor import SupervisorSettings

FLOOD = "python3 -c \"import sys; line = 'x' * {width} + '\\n'; w = sys.stdout.write; [w(line) for _ in range({lines})]; print('END-OF-FLOOD')\""


def recipe(name: str, run: str) -> str:
    escaped = run.replace("'", "''")
    return (
        'RecipeFormatVersion: "2020-01-25"\n'
        f"ComponentName: {name}\n"
        'ComponentVersion: "1.0.0"\n'
        f"Manifests:\n  - Lifecycle:\n      Run: '{escaped}'\n"
    )


def output_through_runner(lines: int, width: int, work: Path) -> float:
    recipes = work / "flood-recipes"
    recipes.mkdir()
    (recipes / "flood.yaml").write_text(recipe("bench.Flood", FLOOD.format(width=width - 1, lines=lines)))
    core = LocalCore(
        root=work / "flood-root",
        recipes=recipes,
        thing_name="bench",
        control=False,
        log_max_bytes=64 * 1024 * 1024,
    )
    started = time.monotonic()
    with core:
        assert core.runner.wait_for_state("bench.Flood", "FINISHED", timeout=600)
        elapsed = time.monotonic() - started
    assert "END-OF-FLOOD" in (work / "flood-root/logs/bench.Flood.log").read_text()[-2000:]
    return elapsed


def output_to_file(lines: int, width: int, work: Path) -> float:
    started = time.monotonic()
    subprocess.run(
        ["/bin/sh", "-c", FLOOD.format(width=width - 1, lines=lines) + f" > {work / 'direct.log'}"],
        check=True,
    )
    return time.monotonic() - started


def start_through_runner(count: int, work: Path) -> float:
    recipes = work / "start-recipes"
    recipes.mkdir()
    for index in range(count):
        (recipes / f"c{index}.yaml").write_text(recipe(f"bench.C{index}", "exec sleep 60"))
    core = LocalCore(
        root=work / "start-root",
        recipes=recipes,
        thing_name="bench",
        control=False,
        settings=SupervisorSettings(stop_grace=1),
    )
    started = time.monotonic()
    core.start()
    try:
        names = [f"bench.C{index}" for index in range(count)]
        assert core.runner.wait_until(lambda: all(core.runner.state(n) == "RUNNING" for n in names), 120)
        return time.monotonic() - started
    finally:
        core.stop()


def start_with_popen(count: int) -> float:
    started = time.monotonic()
    processes = [
        subprocess.Popen(["/bin/sh", "-c", "exec sleep 60"], start_new_session=True) for _ in range(count)
    ]
    elapsed = time.monotonic() - started
    for process in processes:
        process.kill()
        process.wait()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--bytes", type=int, default=100, help="bytes per line, newline included")
    parser.add_argument("--components", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-runner-") as folder:
        work = Path(folder)
        megabytes = args.lines * args.bytes / 1e6
        runner_output = output_through_runner(args.lines, args.bytes, work)
        direct_output = output_to_file(args.lines, args.bytes, work)
        runner_start = start_through_runner(args.components, work)
        popen_start = start_with_popen(args.components)
    print(f"{'measure':<44}{'localcore':>12}{'peer':>12}{'ratio':>8}")
    print(
        f"{f'output {args.lines} lines x {args.bytes} B ({megabytes:.0f} MB), s':<44}{runner_output:>12.2f}{direct_output:>12.2f}{runner_output / direct_output:>8.1f}"
    )
    print(f"{'  lines/s':<44}{args.lines / runner_output:>12.0f}{args.lines / direct_output:>12.0f}")
    print(
        f"{f'start {args.components} components to RUNNING, s':<44}{runner_start:>12.3f}{popen_start:>12.3f}{runner_start / popen_start:>8.1f}"
    )
    print("peer: output = the shell redirecting to a file (no capture); start = subprocess.Popen only")


if __name__ == "__main__":
    main()
