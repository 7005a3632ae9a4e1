"""Footprint of the bundle as `make run` runs it: peak RSS per process, start-up and first data in the cloud.

Starts ``python -m localcore run`` (recipes/, deployments/local.yaml, the embedded cloud) as its own
process, samples the resident set size of the core and of every component process with psutil
every 100 ms, and reports:

- peak RSS of each component process and of the core (the core includes the embedded moto
  cloud, which a device does not run: its share is shown separately as the moto server thread
  lives in the core process), and each component's peak PSS (shared library pages split among
  the processes mapping them, which RSS counts in full in every process);
- CPU % of one core per process once started (from ``STEADY_AFTER_S`` to the end), at the
  rates ``deployments/local.yaml`` sets: what the bundle costs a gateway while it runs;
- start-up: seconds from launching the command to every component RUNNING (as the nucleus counts
  a Run step), and to every component having published on the local bus (its first useful work);
- the first S3 object in the embedded cloud, seconds from the command;
- the web console's cost (``--view bundle``, as ``make run``): the core process's CPU % with the
  console off, on with no browser, and on with one browser's event stream read; the console runs
  in the core's process, so its cost is the difference (``--no-console`` skips these three runs).

The peers are the floors measured on this machine in the same run: a bare Python process that
imports the IPC client (the cheapest possible component), and one that also builds a boto3 S3 client.

    .venv/bin/python benchmarks/footprint.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import boto3
import psutil

PROJECT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
# Start-up (imports, model loading, the embedded cloud) is done by then: CPU is counted after it.
STEADY_AFTER_S = 10.0


# VmHWM, the process' own peak RSS. Not getrusage's ru_maxrss: Linux carries it over exec from the
# parent (this benchmark, with boto3 loaded), which made every floor read about 41 MiB.
_PEAK_PROBE = (
    "\nprint(next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:')))"
)


def _floor(code: str) -> float:
    """Peak RSS in MiB of a Python process that runs ``code`` then reports its own peak."""
    out = subprocess.run(
        [sys.executable, "-c", code + _PEAK_PROBE], capture_output=True, text=True, check=True, cwd=PROJECT
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024  # VmHWM is in kB


def _pss_mib(pid: int) -> float:
    """Proportional set size in MiB: shared pages (libpython, numpy's and awscrt's libraries) split
    among the processes mapping them, so a sum over processes counts them once. 0 if unreadable."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _component_of(process: psutil.Process) -> str | None:
    try:
        cmdline = process.cmdline()
    except psutil.Error:
        return None
    for index, part in enumerate(cmdline):
        if part == "-m" and index + 1 < len(cmdline) and cmdline[index + 1].startswith("components."):
            return cmdline[index + 1].split(".")[1]
    return None


def _first_object_time(root: Path, started: float, deadline: float, result: dict[str, float]) -> None:
    endpoint_file = root / "cloud" / "endpoint.json"
    while time.monotonic() < deadline and not endpoint_file.exists():
        time.sleep(0.1)
    if not endpoint_file.exists():
        return
    endpoint = json.loads(endpoint_file.read_text())
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint["url"],
        region_name=endpoint["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    while time.monotonic() < deadline:
        try:
            for bucket in s3.list_buckets()["Buckets"]:
                if s3.list_objects_v2(Bucket=bucket["Name"], MaxKeys=1).get("KeyCount", 0):
                    result["first_object"] = time.monotonic() - started
                    return
        except Exception:  # the cloud may still be starting or already stopping
            pass
        time.sleep(0.2)


def measure(seconds: float) -> dict[str, object]:
    """Run the bundle for ``seconds`` and return the measurements."""
    root = Path(tempfile.mkdtemp(prefix="footprint-"))
    command = [
        sys.executable, "-m", "localcore", "run", "--recipes", "recipes", "--root", str(root),
        "--thing-name", "dev-1", "--deployment", "deployments/local.yaml", "--duration", str(seconds), "--json",
    ]  # fmt: skip
    started = time.monotonic()
    started_wall = time.time()
    core = subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE, text=True)
    core_process = psutil.Process(core.pid)
    peaks: dict[str, float] = {}
    pss_peaks: dict[str, float] = {}
    # CPU seconds (user + system) per process: the first reading after start-up, and the last.
    cpu_from: dict[str, tuple[float, float]] = {}
    cpu_to: dict[str, tuple[float, float]] = {}
    steady_after = started + STEADY_AFTER_S
    running: dict[str, float] = {}
    components: set[str] = set()
    cloud: dict[str, float] = {}
    watcher = threading.Thread(
        target=_first_object_time, args=(root, started, started + seconds + 5, cloud), daemon=True
    )
    watcher.start()

    def read_events() -> None:
        assert core.stdout is not None
        for line in core.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("event") == "state":
                components.add(event["component"])
                if event["new"] == "RUNNING":
                    # The core stamps each change; the line itself may come later (the reporter
                    # holds changes back until its "started" line, so the output reads in order).
                    at = event.get("time")
                    since = at - started_wall if isinstance(at, float) else time.monotonic() - started
                    running.setdefault(event["component"], since)

    reader = threading.Thread(target=read_events, daemon=True)
    reader.start()

    def note_cpu(name: str, process: psutil.Process) -> None:
        now = time.monotonic()
        if now < steady_after:
            return
        times = process.cpu_times()
        reading = (now, times.user + times.system)
        cpu_from.setdefault(name, reading)
        cpu_to[name] = reading

    while core.poll() is None:
        try:
            peaks["core"] = max(peaks.get("core", 0.0), core_process.memory_info().rss / MIB)
            note_cpu("core", core_process)
            for child in core_process.children(recursive=True):
                name = _component_of(child)
                if name is not None:
                    peaks[name] = max(peaks.get(name, 0.0), child.memory_info().rss / MIB)
                    pss_peaks[name] = max(pss_peaks.get(name, 0.0), _pss_mib(child.pid))
                    note_cpu(name, child)
        except psutil.Error:
            pass
        time.sleep(0.1)
    reader.join(5)
    all_running = max(running.values()) if running and set(running) == components else float("nan")
    cpu_percent = {
        name: (cpu_to[name][1] - first[1]) / (cpu_to[name][0] - first[0]) * 100
        for name, first in cpu_from.items()
        if cpu_to[name][0] - first[0] > 1.0
    }
    return {
        "peaks": peaks,
        "pss_peaks": pss_peaks,
        "cpu_percent": cpu_percent,
        "all_running": all_running,
        "first_object": cloud.get("first_object"),
        "root": root,
    }


CONSOLE_URL = re.compile(r"(http://127\.0\.0\.1:\d+/\?token=[A-Za-z0-9_-]+)")


def core_cpu_with_console(seconds: float, console: bool, client: bool) -> float:
    """The core process's CPU % of one core from ``STEADY_AFTER_S`` to near the end of a
    ``--view bundle`` run: the console off, or on, with one event-stream reader or none."""
    root = Path(tempfile.mkdtemp(prefix="footprint-console-"))
    command = [
        sys.executable, "-m", "localcore", "run", "--recipes", "recipes", "--root", str(root),
        "--thing-name", "dev-1", "--deployment", "deployments/local.yaml", "--duration", str(seconds),
        "--view", "bundle",
    ]  # fmt: skip
    env = {**os.environ, "BUNDLE_CONSOLE": "on" if console else "off"}
    started = time.monotonic()
    core = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, text=True)
    process = psutil.Process(core.pid)

    def read_output() -> None:
        assert core.stdout is not None
        for line in core.stdout:
            match = CONSOLE_URL.search(line)
            if match and client:
                url = match.group(1)
                base, token = url.split("/?token=")
                threading.Thread(
                    target=_read_stream, args=(f"{base}/api/events?token={token}",), daemon=True
                ).start()

    threading.Thread(target=read_output, daemon=True).start()
    time.sleep(max(0.0, started + STEADY_AFTER_S - time.monotonic()))
    first = (time.monotonic(), sum(process.cpu_times()[:2]))
    time.sleep(max(1.0, seconds - STEADY_AFTER_S - 2.0))
    last = (time.monotonic(), sum(process.cpu_times()[:2]))
    core.wait()
    return (last[1] - first[1]) / (last[0] - first[0]) * 100


def _read_stream(url: str) -> None:
    """One browser's share of the work: read the console's event stream until the core stops."""
    try:
        with urllib.request.urlopen(url, timeout=30) as stream:
            while stream.readline():
                pass
    except OSError:
        pass  # the core stopped


def main() -> int:
    """Print the footprint table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--no-console", action="store_true", help="skip the web console's three runs")
    args = parser.parse_args()
    ipc_floor = _floor("import awsiot.greengrasscoreipc.clientv2")
    boto_floor = _floor("import boto3; boto3.client('s3', region_name='us-east-1')")
    result = measure(args.seconds)
    peaks: dict[str, float] = result["peaks"]  # type: ignore[assignment]
    pss_peaks: dict[str, float] = result["pss_peaks"]  # type: ignore[assignment]
    cpu_percent: dict[str, float] = result["cpu_percent"]  # type: ignore[assignment]
    component_total = sum(value for name, value in peaks.items() if name != "core")
    pss_total = sum(pss_peaks.values())
    print(f"\nfootprint of `make run` for {args.seconds:.0f} s (root {result['root']})\n")
    print(f"{'process':<22}{'peak RSS MiB':>14}{'peak PSS MiB':>14}{'CPU % steady':>14}")
    for name, value in sorted(peaks.items()):
        pss = f"{pss_peaks[name]:>14.1f}" if name in pss_peaks else f"{'':>14}"
        cpu = f"{cpu_percent[name]:>14.1f}" if name in cpu_percent else f"{'':>14}"
        print(f"{name:<22}{value:>14.1f}{pss}{cpu}")
    cpu_total = sum(value for name, value in cpu_percent.items() if name != "core")
    print(
        f"{'components total':<22}{component_total:>14.1f}{pss_total:>14.1f}{cpu_total:>14.1f}"
        "   target < 200 (RSS)"
    )
    print(f"{'floor: IPC client':<22}{ipc_floor:>14.1f}   (bare process importing the IPC client)")
    print(f"{'floor: + boto3 S3':<22}{boto_floor:>14.1f}   (bare process with a boto3 S3 client)")
    print(
        "\nRSS counts the pages a component shares with the others (libpython, numpy, awscrt, litert)"
        " in full for each; PSS splits them among all processes mapping them, this machine's others"
        " included, so its total is a lower bound of what the four cost together."
        f" CPU % is of one core, from {STEADY_AFTER_S:.0f} s after the command to the end (start-up"
        " excluded), at `deployments/local.yaml`'s rates."
    )
    print(
        f"\nall components RUNNING after {result['all_running']:.2f} s from the command   target < 3 s after core start"
    )
    first = result["first_object"]
    first_text = f"{first:.1f} s" if isinstance(first, float) else "none within the run"
    print(f"first object in the embedded cloud's S3: {first_text} from the command   target < 10 s")
    if not args.no_console:
        off = core_cpu_with_console(args.seconds, console=False, client=False)
        idle = core_cpu_with_console(args.seconds, console=True, client=False)
        watched = core_cpu_with_console(args.seconds, console=True, client=True)
        print(f"\nweb console (core process CPU % of one core, --view bundle, {args.seconds:.0f} s runs)")
        print(f"{'console':<28}{'core CPU %':>12}{'console share':>18}")
        print(f"{'off':<28}{off:>12.1f}{'':>18}")
        print(f"{'on, no browser':<28}{idle:>12.1f}{idle - off:>18.1f}   target < 1")
        print(f"{'on, one browser streaming':<28}{watched:>12.1f}{watched - off:>18.1f}   target < 5")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
