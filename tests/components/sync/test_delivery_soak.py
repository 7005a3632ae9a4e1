"""The end-to-end delivery soak (``make soak``): sensing at 50 Hz and Sync in the real local core,
Sync killed with SIGKILL over and over, stopped for seconds, the link taken offline on a schedule,
Sync's store on a file system that fills up (Sync killed and restarted on the full disk), and the
core's IPC socket flooded with held connections. At the end every reading sensing produced is
accounted for, and the table is printed (docs/delivery-guarantee.md quotes it).

``SOAK_KILLS`` (default 1000) sets the number of Sync kills; a short run: ``SOAK_KILLS=60``.

Within one sensing run a sensor's ``seq`` is consecutive, so *produced* is exact: every number
from the first to the last reading of each sensor. *Lost* is each missing number, by the cause
Sync's counters give (``replayEvicted``, ``lowDiskDropped``, ``unwritableDropped``, ...), and
*unexplained* what no counter accounts for; the guarantee is that this is 0, with 0 duplicates.
"""

from __future__ import annotations

import functools
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.common import topics
from localcore.cloud.service import embedded_cloud_factory
from localcore.testing import CoreHarness, running_core
from tests.components.rig import ConfigShadow, wait_until
from tests.components.sensing.fakes import HOT_RULE, spiky_sensor
from tests.full_disk import fill, small_filesystem

from .test_core_integration import (
    ROOT,
    SENSING,
    SETTINGS,
    SYNC,
    THING,
    alert_items,
    kill_sync,
    s3_readings,
    sync_pid,
)
from .test_replay_integration import _alert_seqs

LOSS_COUNTERS = (
    "replayEvicted",
    "lowDiskDropped",
    "unwritableDropped",
    "overwritten",
    "rejectedFull",
    "expired",
)


def deployment(store_dir: Path) -> dict[str, Any]:
    return {
        "components": {
            SENSING: {
                "configurationUpdate": {
                    "merge": {"sensors": [spiky_sensor(interval_s=0.02, seed=5)], "rules": [HOT_RULE]}
                }
            },
            SYNC: {
                "configurationUpdate": {
                    "merge": {
                        "storeDir": str(store_dir),
                        "freeDiskWatermarkBytes": 0,  # a full disk is met by the store itself
                        "commitIntervalMs": 50,
                        "batch": {"maxRecords": 500, "maxAgeSeconds": 1.0},
                        "backoffInitialSeconds": 0.2,
                        "backoffMaxSeconds": 1,
                        "statusIntervalSeconds": 1,
                    }
                }
            },
        }
    }


@pytest.fixture
def soak_core(tmp_path: Path) -> Iterator[tuple[CoreHarness, Path]]:
    with (
        small_filesystem(tmp_path / "storefs", "16m") as fs,
        running_core(
            tmp_path / "core",
            [ROOT / "recipes" / f"{SYNC}.yaml", ROOT / "recipes" / f"{SENSING}.yaml"],
            thing_name=THING,
            deployment=deployment(fs / "store"),
            cloud=embedded_cloud_factory(None),
            settings=SETTINGS,
            project_root=ROOT,
        ) as core,
    ):
        yield core, fs


def flood(path: str, count: int) -> list[socket.socket]:
    """``count`` connections that never authenticate, held open."""
    held = []
    for _ in range(count):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(1)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            continue
        held.append(sock)
    return held


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    lines = [f"| {'figure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
    return "\n".join(lines)


@pytest.mark.soak
@pytest.mark.timeout(7200)
def test_delivery_soak_kills_outages_full_disk_and_a_connection_flood(
    soak_core: tuple[CoreHarness, Path],
) -> None:
    core, fs = soak_core
    kills = int(os.environ.get("SOAK_KILLS", "1000"))
    rng = random.Random(19)
    pause = threading.Event()
    started = time.monotonic()
    core.wait_for_state(SYNC, "RUNNING")
    core.wait_for_state(SENSING, "RUNNING")
    wait_until(lambda: len(s3_readings(core)) >= 50, timeout=60, what="readings in S3")
    events: Counter[str] = Counter()
    disk_at, flood_at = kills // 3, (2 * kills) // 3
    for index in range(kills):
        wait_until(
            lambda: sync_pid(core) is not None and core.state(SYNC) == "RUNNING",
            timeout=60,
            what="sync running",
        )
        if index % 25 == 10:  # the link away for a few seconds, on a schedule
            core.cloud.set_connectivity("offline")
            events["link outages"] += 1
        elif index % 25 == 14:
            core.cloud.set_connectivity("online")
        if index % 50 == 30:  # Sync stopped for three seconds (an update, a restart)
            ok, message = core.runner.stop_component(SYNC)
            assert ok, message
            wait_until(lambda: sync_pid(core) is None, what="sync stopped")
            pause.wait(3.0)
            ok, message = core.runner.restart_component(SYNC)
            assert ok, message
            events["sync stopped 3 s"] += 1
            continue
        if index == disk_at:  # the store's file system fills; Sync is killed and restarts on it
            junk = fill(fs)
            pause.wait(2.0)
            kill_sync(core)
            events["sync kills"] += 1
            seen = len(core.log(SYNC))
            # The new process opens the store if SQLite finds room, commits failing meanwhile, or
            # waits for space to open it: either way it runs on.
            wait_until(functools.partial(_restarted_on_full_disk, core, seen), what="sync on the full disk")
            pause.wait(3.0)
            junk.unlink()
            events["full-disk phases"] += 1
            continue
        if index == flood_at:  # 3,000 connections opened and held against the core's socket
            held = flood(str(core.ipc.socket_path), 3000)
            events["connections opened in the flood (3,000 tried)"] = len(held)
            kill_sync(core)  # Sync must reconnect through the flood
            events["sync kills"] += 1
            wait_until(lambda: sync_pid(core) is not None and core.state(SYNC) == "RUNNING", what="sync back")
            pause.wait(3.0)
            for sock in held:
                sock.close()
            continue
        pause.wait(rng.uniform(0.3, 1.5))
        kill_sync(core)
        events["sync kills"] += 1
    core.cloud.set_connectivity("online")
    wait_until(
        lambda: sync_pid(core) is not None and core.state(SYNC) == "RUNNING", timeout=60, what="sync up"
    )
    pause.wait(3.0)
    ok, message = core.runner.stop_component(SENSING)
    assert ok, message
    reported = ConfigShadow(core, THING, topics.SHADOW_SYNC).reported

    def drained() -> bool:
        status = reported()
        return status.get("gaps", {}).get("open") == 0 and all(
            backlog.get("records", 0) == 0 for backlog in status["backlog"].values()
        )

    wait_until(drained, timeout=600, what="the store drained, no gap open")
    uploaded = s3_readings(core)
    counts = Counter(uploaded)
    by_source = _group(counts)
    produced = sum(max(seqs) - min(seqs) + 1 for seqs in by_source.values())
    missing = sum(max(seqs) - min(seqs) + 1 - len(seqs) for seqs in by_source.values())
    counters = reported()["counters"]["readings"]
    lost_by_cause = {name: counters.get(name, 0) for name in LOSS_COUNTERS}
    explained = sum(lost_by_cause.values())
    alerts = _alert_seqs(core)
    alert_counts = Counter(alerts)
    alert_missing = sum(max(seqs) - min(seqs) + 1 - len(seqs) for seqs in _group(alert_counts).values())
    rows = [
        ("run (minutes)", f"{(time.monotonic() - started) / 60:.1f}"),
        *((name, str(count)) for name, count in sorted(events.items())),
        ("readings produced", str(produced)),
        ("readings committed (stored)", str(counters.get("stored", 0))),
        ("readings uploaded (distinct)", str(len(counts))),
        ("readings duplicated in S3", str(len(uploaded) - len(counts))),
        ("readings replayed", str(counters.get("replayed", 0))),
        *((f"lost: {name}", str(value)) for name, value in lost_by_cause.items()),
        ("lost: unexplained", str(missing - min(missing, explained))),
        ("gaps opened / not held / unanswered", _gaps(counters)),
        ("alerts in the table (distinct)", str(len(alert_counts))),
        ("alerts missing / duplicated", f"{alert_missing} / {len(alerts) - len(alert_counts)}"),
        ("core IPC connections refused", str(sum(core.ipc.connections.refused.values()))),
    ]
    print("\n" + table(rows))
    assert missing <= explained, f"{missing - explained} readings lost without a cause"
    assert len(uploaded) == len(counts), "a reading is in S3 twice"
    assert alert_missing == 0 and len(alerts) == len(alert_counts)
    assert alert_items(core)


def _group(counts: Counter[tuple[str, int]]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for source, seq in counts:
        grouped.setdefault(source, []).append(seq)
    return grouped


def _gaps(counters: dict[str, int]) -> str:
    return " / ".join(str(counters.get(name, 0)) for name in ("gapsOpened", "gapsNotHeld", "gapsUnanswered"))


def _restarted_on_full_disk(core: CoreHarness, seen: int) -> bool:
    log_since = core.log(SYNC)[seen:]
    return any(event in log_since for event in ("commit_failed", "store_waiting_for_space"))
