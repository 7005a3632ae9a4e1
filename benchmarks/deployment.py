"""Deployment times on a running bundle: ``localcore deploy`` to SUCCEEDED (or to the rollback's end).

Starts the bundle as ``make run`` does (``python -m localcore run`` with recipes/ and
deployments/local.yaml, the embedded cloud), waits for every component RUNNING, then times, each
from submitting the deployment through the control socket to its final status:

- a configuration-only change (Sync's ``statusIntervalSeconds``): validated by Sync, merged, no
  restart; target < 2 s;
- a new version of Sensing (its recipe with the patch version bumped, from a recipe folder):
  stop, install, start, the health wait; target < 5 s;
- a new version of Sensing that exits at start: the health wait sees it BROKEN, ROLLBACK restores
  the previous version and configuration; target < 10 s.

The health wait asks for localcore's settle window (``HEALTH_SETTLE_SECONDS``, 2 s) of health in a
row after a start: it is part of the version-change and rollback times. A real nucleus takes tens
of seconds to minutes (its 15 s deployment polling alone, reference greengrass-deployments.md).

    .venv/bin/python benchmarks/deployment.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from localcore.control import ControlError, control_request

PROJECT = Path(__file__).resolve().parent.parent
SENSING = "com.edgebundle.Sensing"
TARGETS = {"configuration change": 2.0, "version change": 5.0, "rollback": 10.0}


def _wait_running(root: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = control_request(root, "status")
            states = {c["name"]: c["state"] for c in status["components"]}
            if states and all(state == "RUNNING" for state in states.values()):
                return
        except ControlError:
            pass
        time.sleep(0.5)  # polling a starting process: there is nothing to wait on
    raise SystemExit(f"the bundle did not reach RUNNING within {timeout:.0f} s")


def _bumped_recipe(folder: Path, *, crash: bool) -> str:
    recipe = yaml.safe_load((PROJECT / "recipes" / f"{SENSING}.yaml").read_text(encoding="utf-8"))
    major, minor, patch = (int(part) for part in str(recipe["ComponentVersion"]).split("-")[0].split("."))
    version = f"{major}.{minor}.{patch + (2 if crash else 1)}"
    recipe["ComponentVersion"] = version
    if crash:
        for manifest in recipe["Manifests"]:
            manifest["Lifecycle"] = {"Run": "exit 1"}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{SENSING}-{version}.yaml").write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return version


def _deploy(root: Path, document: dict[str, Any], work: Path, name: str) -> tuple[float, dict[str, Any]]:
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    started = time.perf_counter()
    record = control_request(root, "deploy", {"file": str(path), "wait": True, "timeout": 300}, timeout=330)
    return time.perf_counter() - started, record


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        work = Path(tmp)
        root = work / "core"
        core = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localcore",
                "run",
                "--recipes",
                "recipes",
                "--root",
                str(root),
                "--thing-name",
                "bench-1",
                "--deployment",
                "deployments/local.yaml",
                "--json",
            ],
            cwd=PROJECT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_running(root)
            rows = []
            seconds, record = _deploy(
                root,
                {
                    "components": {
                        "com.edgebundle.Sync": {
                            "configurationUpdate": {"merge": {"statusIntervalSeconds": 3}}
                        }
                    }
                },
                work,
                "config",
            )
            rows.append(("configuration change", seconds, record))
            good = _bumped_recipe(work / "recipes-good", crash=False)
            seconds, record = _deploy(
                root,
                {
                    "recipeDirectoryPath": str(work / "recipes-good"),
                    "components": {SENSING: {"componentVersion": good}},
                },
                work,
                "version",
            )
            rows.append(("version change", seconds, record))
            bad = _bumped_recipe(work / "recipes-bad", crash=True)
            seconds, record = _deploy(
                root,
                {
                    "recipeDirectoryPath": str(work / "recipes-bad"),
                    "components": {SENSING: {"componentVersion": bad}},
                },
                work,
                "rollback",
            )
            rows.append(("rollback", seconds, record))
            _print(rows)
        finally:
            core.terminate()
            try:
                core.wait(timeout=120)
            except subprocess.TimeoutExpired:
                core.kill()  # only the core this script started, by its own handle
                core.wait(timeout=30)
    return 0


def _print(rows: list[tuple[str, float, dict[str, Any]]]) -> None:
    print(f"| {'deployment':<22} | {'seconds':>7} | {'target':>6} | {'status (detailed)':<44} |")
    print(f"|{'-' * 24}|{'-' * 9}|{'-' * 8}|{'-' * 46}|")
    for name, seconds, record in rows:
        details = record.get("deploymentStatusDetails") or {}
        outcome = f"{record.get('status')} ({details.get('detailedDeploymentStatus')})"
        print(f"| {name:<22} | {seconds:7.2f} | {'< ' + format(TARGETS[name], 'g'):>6} | {outcome:<44} |")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
