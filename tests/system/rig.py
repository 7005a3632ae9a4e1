"""The whole bundle under faults: a local core as its own process (``core_process.py``) running the
four components from ``recipes/`` plus a witness, against a moto cloud this test process owns.

What a test does with it: start the core, change the link, ``kill -9`` a component or the core,
restart the core on the same root, and read what reached the cloud (S3, DynamoDB, shadows), what
the witness saw published, and the core's state files (the sync store's counters).

Every ``kill -9`` is recorded as a :class:`LossWindow`: the time span in which readings may be lost
without being counted (see ``accounting.py`` and docs/delivery-guarantee.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml

from bundledev.cloud_description import describe_bundle
from bundlespec import load_spec
from components.sync.encoding import decode_batch
from localcore.cloud.moto_server import MotoCloud
from localcore.control import ControlError, control_request, control_stream

REPO = Path(__file__).resolve().parents[2]
CORE_PROCESS = Path(__file__).resolve().parent / "core_process.py"
WITNESS = Path(__file__).resolve().parent / "witness.py"
THING = "dev-1"

SENSING = "com.edgebundle.Sensing"
INFERENCE = "com.edgebundle.Inference"
INSPECTION = "com.edgebundle.QualityInspection"
SYNC = "com.edgebundle.Sync"
WITNESS_NAME = "test.Witness"
COMPONENTS = (SENSING, INFERENCE, INSPECTION, SYNC)
# How each component's process is recognised among the core's children (its Run step's command).
MODULES = {
    SENSING: "components.sensing",
    INFERENCE: "components.inference",
    INSPECTION: "components.inspection",
    SYNC: "components.sync",
}
NAMED_SHADOWS = ("sensing-config", "inference-config", "inspection-config", "sync")
READINGS_TOPIC = "edgebundle/sensing/readings"
ALERTS_TOPIC = "edgebundle/sensing/alerts"
# A reading sensing stamped this long before a kill may still have been on its way to sync, or in
# sync's group-commit window (commitIntervalMs): lost without a counter. Generous on busy machines.
IN_FLIGHT_MARGIN_S = 2.0


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)  # polling another process' state: there is no event to wait on


@dataclass
class LossWindow:
    """A span of reading timestamps in which sync could not accept (or commit) what was published."""

    cause: str
    start: float
    end: float = float("inf")
    # What sync's store held right after the kill: committed, so never excused by this window.
    committed: frozenset[tuple[str, int]] = frozenset()
    committed_alerts: frozenset[tuple[str, int]] = frozenset()
    # IoT Core messages in the core's (the nucleus') in-memory spooler when it was killed.
    spooled: int = 0

    def covers(self, ts: float) -> bool:
        """Whether a reading stamped ``ts`` falls in this window."""
        return self.start <= ts <= self.end

    def excuses(self, source: str, seq: int, ts: float) -> bool:
        """Whether a missing reading may have been lost here without a counter."""
        return self.covers(ts) and (source, seq) not in self.committed

    def excuses_alert(self, source: str, seq: int, ts: float) -> bool:
        """Whether a missing alert may have been lost here (never one the store held)."""
        return self.covers(ts) and (source, seq) not in self.committed_alerts


def deployment(sensor_interval: float, readings_max_bytes: int) -> dict[str, Any]:
    """The system test's deployment: fast sensors, quick batches, a small readings budget."""
    return {
        "components": {
            "aws.greengrass.ShadowManager": {
                "configurationUpdate": {
                    "merge": {
                        "synchronize": {
                            "coreThing": {"classic": False, "namedShadows": list(NAMED_SHADOWS)},
                            "direction": "betweenDeviceAndCloud",
                        }
                    }
                }
            },
            SENSING: {
                "configurationUpdate": {
                    "merge": {
                        "sensors": [
                            {"id": "line1-env", "driver": "simulated", "intervalSeconds": sensor_interval},
                            {"id": "gateway", "driver": "system", "intervalSeconds": 1.0},
                        ],
                        # Over a 0.2 s window (4 readings at 20 Hz) noise alone gives a slope past
                        # 2 C/s about once a second: alerts raised and cleared every few seconds, so
                        # their order is tested under faults (the default 30 s window never would).
                        "rules": [
                            {
                                "type": "rate_of_change",
                                "id": "line1-temp-jump",
                                "sensor": "line1-env",
                                "metric": "temperature",
                                "maxPerSecond": 2.0,
                                "windowSeconds": 0.2,
                                "severity": "warning",
                            }
                        ],
                        "healthIntervalSeconds": 2.0,
                    }
                }
            },
            SYNC: {
                "configurationUpdate": {
                    "merge": {
                        "commitIntervalMs": 100,
                        "batch": {"maxRecords": 400, "maxBytes": 1048576, "maxAgeSeconds": 0.5},
                        "statusIntervalSeconds": 1,
                        "backoffInitialSeconds": 0.2,
                        "backoffMaxSeconds": 1.0,
                        "freeDiskWatermarkBytes": 1048576,
                        "streams": {
                            "readings": {
                                "maxBytes": readings_max_bytes,
                                "strategyOnFull": "OverwriteOldestData",
                            }
                        },
                    }
                }
            },
        }
    }


def witness_recipe(out: Path) -> dict[str, Any]:
    """A component that writes down every reading and alert published on the local bus."""
    script = f"exec {sys.executable} -u {WITNESS} {out} {READINGS_TOPIC} {ALERTS_TOPIC}"
    return {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": WITNESS_NAME,
        "ComponentVersion": "1.0.0",
        "ComponentConfiguration": {
            "DefaultConfiguration": {
                "accessControl": {
                    "aws.greengrass.ipc.pubsub": {
                        "test.Witness:pubsub:1": {
                            "operations": ["aws.greengrass#SubscribeToTopic"],
                            "resources": [READINGS_TOPIC, ALERTS_TOPIC],
                        }
                    }
                }
            }
        },
        "Manifests": [
            {"Platform": {"os": "linux"}, "Lifecycle": {"Run": {"Script": script}}},
            # nucleus lite (the lite profile) reads only a runtime manifest, lower-case steps.
            {
                "Platform": {"os": "linux", "runtime": "aws_nucleus_lite"},
                "Lifecycle": {"run": {"Script": script}},
            },
        ],
    }


@dataclass
class CloudAlert:
    """An alert as the cloud's broker delivered it to a subscriber, in arrival order."""

    received: float
    message: dict[str, Any]


@dataclass
class SystemRig:
    """The core process, the cloud, the witness and the record of every fault injected."""

    tmp_path: Path
    moto: MotoCloud
    sensor_interval: float = 0.05
    readings_max_bytes: int = 32768
    # The localcore profile the core runs with (core_process.py --nucleus), and its deployment
    # (default: :func:`deployment`).
    nucleus: str = "classic"
    deployment_document: dict[str, Any] | None = None
    windows: list[LossWindow] = field(default_factory=list)
    cloud_alerts: list[CloudAlert] = field(default_factory=list)
    core: subprocess.Popen[bytes] | None = None
    core_starts: int = 0

    def __post_init__(self) -> None:
        self.root = self.tmp_path / "core"
        self.witness_file = self.tmp_path / "witness.jsonl"
        self.recipe_file = self.tmp_path / "witness-recipe.json"
        self.recipe_file.write_text(json.dumps(witness_recipe(self.witness_file)))
        self.deployment_file = self.tmp_path / "deployment.yaml"
        self.deployment_file.write_text(
            yaml.safe_dump(
                self.deployment_document or deployment(self.sensor_interval, self.readings_max_bytes)
            )
        )
        self.s3 = self.moto.client("s3")
        self._watch_stop = threading.Event()
        self._alerts_lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    # --- the core process -------------------------------------------------------------------------
    def start_core(self) -> None:
        """Start the core (same root every time) and wait until every component is RUNNING."""
        assert self.core is None or self.core.poll() is not None, "the core is already running"
        self.core_starts += 1
        sync_starts = self.log(SYNC).count("event=started")
        launched = time.time()
        out = (self.tmp_path / f"core-{self.core_starts}.out").open("wb")
        command = [
            sys.executable, "-u", str(CORE_PROCESS), "--moto-url", self.moto.url,
            "--root", str(self.root), "--thing-name", THING, "--recipes", str(REPO / "recipes"),
            "--recipes", str(self.recipe_file), "--deployment", str(self.deployment_file),
            "--project-root", str(REPO), "--nucleus", self.nucleus,
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.core = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
        out.close()
        for name in (*COMPONENTS, WITNESS_NAME):
            self.wait_for_state(name, "RUNNING", timeout=90)
        self.wait_for_log(SYNC, "event=started", count=sync_starts + 1)
        if not self.windows or self.windows[-1].end != float("inf"):
            # Sensing may publish before sync has subscribed: those readings never reach it.
            self.windows.append(LossWindow("sync not subscribed yet", launched, time.time()))
        self._start_watch()

    def stop_core(self) -> None:
        """Stop the core cleanly (SIGTERM: components stopped, cloud dumped) and wait for its exit."""
        self._stop_watch()
        if self.core is not None and self.core.poll() is None:
            self.core.send_signal(signal.SIGTERM)
            try:
                self.core.wait(60)
            except subprocess.TimeoutExpired:
                self.core.kill()
                self.core.wait(10)
                raise AssertionError(
                    f"the core did not stop within 60 s; output:\n{self.core_output()}"
                ) from None

    def kill_core(self) -> None:
        """``kill -9`` of the core; its components die with it (the kernel's parent-death signal)."""
        assert self.core is not None
        children = [child.pid for child in psutil.Process(self.core.pid).children(recursive=True)]
        # The nucleus' spooler is in memory: what it holds dies with the core (read just before).
        spooled = int(self.control("cloud.status")["spooled"])
        self.windows.append(LossWindow("kill -9 core", time.time() - IN_FLIGHT_MARGIN_S, spooled=spooled))
        self.core.kill()
        self.core.wait(10)
        self._stop_watch()
        # The components must be gone before the core restarts on the same root.
        wait_for(lambda: not any(psutil.pid_exists(pid) and _alive(pid) for pid in children),
                 "the core's components to die with it", timeout=20)  # fmt: skip
        self.windows[-1].committed = self.committed_records("readings")
        self.windows[-1].committed_alerts = self.committed_records("alerts")

    def restart_core_after_kill(self) -> None:
        """Start the core again on the same root; closes the open window once sync listens again."""
        self.start_core()
        self.windows[-1].end = time.time()

    def core_output(self) -> str:
        """Everything the core processes printed (JSON lines and errors)."""
        return "\n".join(
            path.read_text(errors="replace")[-4000:] for path in sorted(self.tmp_path.glob("core-*.out"))
        )

    def control(self, command: str, args: dict[str, Any] | None = None) -> Any:
        """A request on the running core's control channel."""
        return control_request(self.root, command, args, timeout=30)

    def state(self, name: str) -> str:
        """A component's lifecycle state ("" while the core is not answering)."""
        try:
            rows = self.control("status")["components"]
        except ControlError:
            return ""
        return next((str(row["state"]) for row in rows if row["name"] == name), "")

    def wait_for_state(self, name: str, state: str, timeout: float = 60) -> None:
        """Wait until ``name`` reports ``state``; fail with its log tail and the core's output."""
        try:
            wait_for(lambda: self.state(name) == state, f"{name} {state}", timeout=timeout, interval=0.2)
        except AssertionError as err:
            raise AssertionError(
                f"{err}; {name}'s log:\n{self.log_tail(name)}\ncore:\n{self.core_output()}"
            ) from None

    # --- components -------------------------------------------------------------------------------
    def log(self, name: str) -> str:
        """A component's log (all core runs append to the same file)."""
        path = self.root / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, name: str, lines: int = 30) -> str:
        """The end of a component's log, for failure messages."""
        return "\n".join(self.log(name).splitlines()[-lines:])

    def wait_for_log(self, name: str, text: str, count: int = 1, timeout: float = 60) -> None:
        """Wait until ``text`` appears ``count`` times in ``name``'s log."""
        try:
            wait_for(lambda: self.log(name).count(text) >= count, f"{count}x {text!r} in {name}'s log",
                     timeout=timeout, interval=0.1)  # fmt: skip
        except AssertionError as err:
            raise AssertionError(f"{err}; log tail:\n{self.log_tail(name)}") from None

    def pid_of(self, name: str) -> int:
        """The PID of a component's main process (a child of the core running its module)."""
        assert self.core is not None
        module = MODULES[name]
        for child in psutil.Process(self.core.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if module in " ".join(child.cmdline()):
                    return int(child.pid)
        raise AssertionError(f"no process of {name} among the core's children")

    def kill_component(self, name: str) -> None:
        """``kill -9`` of one component; the core restarts it. Waits until it runs again."""
        starts = self.log(SYNC).count("event=started")
        pid = self.pid_of(name)
        if name == SYNC:
            self.windows.append(LossWindow("kill -9 sync", time.time() - IN_FLIGHT_MARGIN_S))
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not _alive(pid), f"{name} (pid {pid}) to die")
        if name == SYNC:
            # Read at once; what the restarted sync uploads and purges meanwhile is in S3 anyway.
            self.windows[-1].committed = self.committed_records("readings")
        self.windows[-1].committed_alerts = self.committed_records("alerts")
        wait_for(lambda: self._running_again(name, pid), f"{name} to be restarted", timeout=60, interval=0.2)
        if name == SYNC:
            self.wait_for_log(SYNC, "event=started", count=starts + 1)
            self.windows[-1].end = time.time()

    def _running_again(self, name: str, old_pid: int) -> bool:
        try:
            return self.state(name) == "RUNNING" and self.pid_of(name) != old_pid
        except (AssertionError, psutil.Error):
            return False

    def set_link(self, state: str) -> None:
        """The device's link to the cloud: ``online`` or ``offline`` (IoT Core, S3, shadows, TES)."""
        self.control("cloud.connectivity", {"state": state})

    # --- the cloud --------------------------------------------------------------------------------
    def _start_watch(self) -> None:
        """Follow ``edgebundle/+/alerts`` on the cloud's broker (as a cloud subscriber would)."""
        self._watch_stop = threading.Event()
        ready = threading.Event()

        def follow() -> None:
            with contextlib.suppress(ControlError, OSError):
                for item in control_stream(self.root, "cloud.watch", {"topic": "edgebundle/+/alerts"}):
                    if "watching" in item:
                        ready.set()
                        continue
                    if self._watch_stop.is_set():
                        return
                    with self._alerts_lock:
                        self.cloud_alerts.append(CloudAlert(time.time(), json.loads(item["payload"])))
            ready.set()

        self._watcher = threading.Thread(target=follow, name="alert-watch", daemon=True)
        self._watcher.start()
        ready.wait(30)

    def _stop_watch(self) -> None:
        self._watch_stop.set()

    def s3_objects(self, prefix: str = "telemetry/") -> dict[str, bytes]:
        """Every object under ``prefix`` in the data bucket."""
        objects: dict[str, bytes] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.moto.bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                objects[entry["Key"]] = self.s3.get_object(Bucket=self.moto.bucket, Key=entry["Key"])[
                    "Body"
                ].read()
        return objects

    def s3_messages(self) -> dict[str, list[dict[str, Any]]]:
        """Every telemetry message in S3, by object key."""
        return {key: decode_batch(body) for key, body in self.s3_objects().items()}

    def dynamodb_alerts(self) -> list[dict[str, Any]]:
        """Every item of the alerts table (what the topic rule wrote)."""
        spec = load_spec()
        table = spec.table_name(spec.iot.rules[0].action.dynamodb.table)
        client = self.moto.client("dynamodb")
        items: list[dict[str, Any]] = []
        for page in client.get_paginator("scan").paginate(TableName=table):
            items += page.get("Items", [])
        return items

    def cloud_shadow(self, name: str) -> dict[str, Any]:
        """A named shadow of the thing in the cloud ({} if it does not exist)."""
        try:
            payload = self.moto.client("iot-data").get_thing_shadow(thingName=THING, shadowName=name)[
                "payload"
            ]
        except self.moto.client("iot-data").exceptions.ResourceNotFoundException:
            return {}
        document: dict[str, Any] = json.loads(payload.read())
        return document

    # --- what the device kept ---------------------------------------------------------------------
    def witnessed(self) -> list[dict[str, Any]]:
        """Every line the witness wrote (a line cut by a kill -9 is skipped)."""
        if not self.witness_file.exists():
            return []
        lines = []
        for line in self.witness_file.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                lines.append(json.loads(line))
        return lines

    def sync_store(self) -> Path:
        """The sync component's SQLite store (the core's state file)."""
        return self.root / "work" / SYNC / "store" / "sync.db"

    def store_query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A read-only query on the sync store (safe while sync runs: WAL readers do not block it)."""
        db = sqlite3.connect(f"file:{self.sync_store()}?mode=ro", uri=True, timeout=5)
        try:
            return list(db.execute(sql, parameters))
        finally:
            db.close()

    def committed_records(self, stream: str) -> frozenset[tuple[str, int]]:
        """The records of ``stream`` committed in sync's store now (``(source, seq)``)."""
        if not self.sync_store().exists():
            return frozenset()
        rows = self.store_query("SELECT source, seq FROM records WHERE stream = ?", (stream,))
        return frozenset((str(source), int(seq)) for source, seq in rows)

    def sync_counters(self) -> dict[str, dict[str, int]]:
        """The sync store's per-stream counters (they survive restarts)."""
        counters: dict[str, dict[str, int]] = {}
        for stream, name, value in self.store_query("SELECT stream, name, value FROM counters"):
            counters.setdefault(stream, {})[name] = int(value)
        return counters

    def backlog(self) -> int:
        """Records still in the sync store (not yet acknowledged by the cloud)."""
        return int(self.store_query("SELECT count(*) FROM records")[0][0])


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@contextlib.contextmanager
def system_rig(tmp_path: Path, **options: Any) -> Iterator[SystemRig]:
    """A :class:`SystemRig` with its own moto cloud; the core is stopped (by PID) at the end."""
    moto = MotoCloud(describe_bundle(load_spec()), (THING,))
    moto.start()
    rig = SystemRig(tmp_path, moto, **options)
    try:
        yield rig
    finally:
        try:
            rig.stop_core()
        finally:
            if rig.core is not None and rig.core.poll() is None:
                rig.core.kill()
                rig.core.wait(10)
            moto.stop()
