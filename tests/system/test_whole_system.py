"""The whole bundle under an outage, ``kill -9`` of every component and of the core, and a disk
budget reached: every reading accounted for, no duplicates in the cloud, configuration and shadows
intact, alerts in order. See ``accounting.py`` for the definitions and docs/delivery-guarantee.md.

``test_whole_system_short`` runs in ``make test``; ``test_whole_system_soak`` (``make soak``) repeats
outages and kills for several minutes.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from .accounting import (
    account_readings,
    alert_order_violations,
    by_stream,
    drops,
    first_receipts,
)
from .rig import (
    COMPONENTS,
    INFERENCE,
    INSPECTION,
    NAMED_SHADOWS,
    READINGS_TOPIC,
    SENSING,
    SYNC,
    THING,
    SystemRig,
    system_rig,
    wait_for,
)

# A runtime change by the operator (config set) and one from the cloud (shadow desired): both must
# survive every restart. The key set is one the deployment does not merge: localcore applies its
# deployment file again at every start (a nucleus does not on restart), see the report of issue 10.
CONFIG_SET = (SYNC, ["dailyByteBudget"], 50_000_000_000)
DESIRED = ("sensing-config", {"config": {"sensorFaultSeverity": "warning"}})


def _apply_runtime_changes(rig: SystemRig) -> None:
    component, key_path, value = CONFIG_SET
    rig.control("config.set", {"component": component, "keyPath": key_path, "value": value})
    shadow, desired = DESIRED
    rig.control(
        "cloud.shadow.update",
        {"thing": THING, "name": shadow, "document": json.dumps({"state": {"desired": desired}})},
    )
    wait_for(
        lambda: (
            rig.cloud_shadow(shadow)
            .get("state", {})
            .get("reported", {})
            .get("config", {})
            .get("sensorFaultSeverity")
            == "warning"
        ),
        "sensing to apply the desired configuration and report it to the cloud",
    )


def _snapshot(rig: SystemRig) -> dict[str, Any]:
    """Configuration of every component and the cloud shadows' desired and reported configuration."""
    snapshot: dict[str, Any] = {}
    component, key_path, value = CONFIG_SET
    assert rig.control("config.get", {"component": component, "keyPath": key_path}) == value
    for name in COMPONENTS:
        snapshot[f"config {name}"] = rig.control("config.get", {"component": name, "keyPath": []})
    for shadow in NAMED_SHADOWS:
        state = rig.cloud_shadow(shadow).get("state", {})
        snapshot[f"shadow {shadow} desired"] = state.get("desired")
        snapshot[f"shadow {shadow} reported.config"] = (state.get("reported") or {}).get("config")
    return snapshot


def _wait_uploading(rig: SystemRig) -> None:
    delivered = rig.sync_counters().get("readings", {}).get("delivered", 0)
    wait_for(
        lambda: rig.sync_counters().get("readings", {}).get("delivered", 0) > delivered,
        "sync to upload readings",
        timeout=60,
    )


def _outage_until_budget_reached(rig: SystemRig) -> None:
    """Offline until the readings stream is over its maxBytes and sync overwrote its oldest records."""
    overwritten = rig.sync_counters().get("readings", {}).get("overwritten", 0)
    rig.set_link("offline")
    wait_for(
        lambda: rig.sync_counters().get("readings", {}).get("overwritten", 0) > overwritten,
        "the readings stream to reach its maxBytes (overwritten grows)",
        timeout=90,
    )


def _drain_and_stop(rig: SystemRig) -> None:
    """Stop the producers cleanly, wait until sync's store is empty, stop the core."""
    for name in (SENSING, INFERENCE, INSPECTION):
        rig.control("stop", {"component": name})
    for name in (SENSING, INFERENCE, INSPECTION):
        rig.wait_for_state(name, "FINISHED", timeout=30)
    wait_for(lambda: rig.backlog() == 0, "sync's store to drain", timeout=90, interval=0.2)
    # Sent alerts due for a re-send (after sync's last restart or outage) are not in the backlog.
    wait_for(
        lambda: rig.store_query("SELECT COUNT(*) FROM unconfirmed WHERE due = 1")[0][0] == 0,
        "sync's re-sends of alerts the core may have lost",
        timeout=30,
        interval=0.2,
    )


def _check(rig: SystemRig, before: dict[str, Any], after: dict[str, Any], watched_from: float) -> None:
    streams = by_stream(rig.s3_messages())
    counters = rig.sync_counters()
    witnessed = rig.witnessed()
    readings_seen = [w["message"] for w in witnessed if w["topic"] == READINGS_TOPIC]
    alerts_seen = [w["message"] for w in witnessed if w["topic"] != READINGS_TOPIC]

    # No duplicates: each record in one object, each key naming exactly its content.
    for stream, index in streams.items():
        assert not index.duplicates, (
            f"{stream}: records in several objects: {list(index.duplicates.items())[:5]}"
        )
        assert not index.bad_keys, (
            f"{stream}: objects whose key does not name their content: {index.bad_keys[:5]}"
        )
        # What sync counted as delivered is exactly what the cloud holds.
        assert counters.get(stream, {}).get("delivered", 0) == len(index.records), (
            stream,
            counters.get(stream),
        )

    # Every reading accounted for.
    account = account_readings(streams["readings"].records, readings_seen, rig.windows)
    counted = drops(counters["readings"])
    summary = (
        f"published {account.published}, uploaded {account.uploaded}, excused {dict(account.excused)}, "
        f"unexcused {len(account.unexcused)}, counted drops {counted} ({counters['readings']}); "
        f"windows {rig.windows}"
    )
    (rig.tmp_path / "account.txt").write_text(summary + "\n")
    assert len(account.unexcused) <= counted, (
        f"readings lost without a counter: {account.unexcused[:10]}; {summary}"
    )
    assert counted <= account.missing, f"sync counted more drops than readings are missing: {summary}"
    assert counters["readings"].get("overwritten", 0) > 0, f"the disk budget was never reached: {summary}"

    # Alerts: every published one reached the alerts table unless sync never stored it (published
    # in a loss window while it was not subscribed); none twice.
    table = rig.dynamodb_alerts()
    in_table = {(item["source"]["S"], int(item["seq"]["N"])) for item in table}
    assert len(in_table) == len(table), "an alert was written twice under different keys"
    # Sync counts an alert delivered once, when the nucleus first accepts it. The nucleus' spooler
    # is in memory and a kill -9 of the core empties it, so sync keeps sent alerts and re-sends them
    # after its restart or an outage: every alert it counted must be in the table, none excused.
    delivered_alerts = counters.get("alerts", {}).get("delivered", 0)
    resent = counters.get("alerts", {}).get("resent", 0)
    assert delivered_alerts == len(in_table), (
        f"sync delivered {delivered_alerts} alerts (re-sent {resent}), the table holds {len(in_table)}: "
        f"{counters.get('alerts')}; spooled at the core kills: {[w.spooled for w in rig.windows]}"
    )
    lost_alerts = [
        a
        for a in first_receipts(alerts_seen)
        if (a["source"], int(a["seq"])) not in in_table
        and not any(w.excuses_alert(a["source"], int(a["seq"]), float(a["ts"])) for w in rig.windows)
    ]
    assert not lost_alerts, f"alerts published but never in the cloud: {lost_alerts[:5]}"
    (rig.tmp_path / "alerts.txt").write_text(
        f"in table {len(in_table)}, delivered {delivered_alerts}, resent {resent}, "
        f"spooled at core kills {[w.spooled for w in rig.windows]}\n"
    )
    arrived = [alert.message for alert in rig.cloud_alerts]
    received_at = [alert.received for alert in rig.cloud_alerts]
    assert any(a["state"] == "cleared" for a in arrived), "no alert was raised and cleared: nothing to order"
    # Nobody watches the cloud before the first start and while the core (the embedded broker) is
    # down; sync's re-sends after a restart then show alerts first delivered unseen, late.
    unwatched = [(float("-inf"), watched_from)] + [
        (w.start, w.end) for w in rig.windows if w.cause == "kill -9 core"
    ]
    violations = alert_order_violations(arrived, alerts_seen, received_at, unwatched)
    unseen = alert_order_violations(arrived, alerts_seen)
    with (rig.tmp_path / "alerts.txt").open("a") as out:
        out.write(
            f"order not seen (first arrival unwatched): {len(unseen) - len(violations)}; unwatched {unwatched}\n"
        )
        out.writelines(
            f"{at:.3f} {m['source']} {m['seq']} {m['state']} ts={m['ts']}\n"
            for at, m in zip(received_at, arrived, strict=True)
        )
    assert not violations, violations[:10]

    # Configuration and shadows intact after every restart (both kept beside the test for a diff).
    for name, snapshot in (("before", before), ("after", after)):
        (rig.tmp_path / f"snapshot-{name}.json").write_text(json.dumps(snapshot, indent=1, sort_keys=True))
    changed = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
    assert not changed, f"changed by the restarts: {changed}; see {rig.tmp_path}/snapshot-*.json"


def _kill_core_offline_then_sync_mid_drain(rig: SystemRig) -> None:
    """``kill -9`` of the core during the outage, with a full store and alerts waiting in it; the
    core restarted (online); ``kill -9`` of Sync while it drains the backlog.

    The core is killed only while offline: the embedded cloud's IoT Core and its rules engine run
    inside the core process (rules after the PUBACK, as in AWS), so killing it online would lose
    alerts AWS already holds, a loss of the simulation, not of the bundle. Sync is killed online.
    """
    rig.kill_core()
    rig.restart_core_after_kill()
    rig.kill_component(SYNC)
    _wait_uploading(rig)


def _run_short(rig: SystemRig) -> None:
    rig.start_core()
    watched_from = time.time()  # start_core returns once the cloud's alerts topic is watched
    _wait_uploading(rig)
    _apply_runtime_changes(rig)
    before = _snapshot(rig)
    for name in (SYNC, SENSING, INFERENCE, INSPECTION):
        rig.kill_component(name)
    _wait_uploading(rig)
    _outage_until_budget_reached(rig)
    _kill_core_offline_then_sync_mid_drain(rig)
    _drain_and_stop(rig)
    after = _snapshot(rig)
    rig.stop_core()
    _check(rig, before, after, watched_from)


@pytest.mark.timeout(300)  # about 30 s here; room for a machine shared by a whole CI run
def test_whole_system_short(tmp_path: Path) -> None:
    with system_rig(tmp_path) as rig:
        _run_short(rig)


@pytest.mark.soak
@pytest.mark.timeout(1200)
def test_whole_system_soak(tmp_path: Path) -> None:
    chooser = random.Random(20261128)
    with system_rig(tmp_path) as rig:
        rig.start_core()
        watched_from = time.time()
        _wait_uploading(rig)
        _apply_runtime_changes(rig)
        before = _snapshot(rig)
        deadline = time.monotonic() + 300
        rounds = 0
        while time.monotonic() < deadline or rounds < 3:
            rounds += 1
            # At most twice per component and core life: the nucleus marks a component BROKEN at
            # its third error within an hour, and a core restart starts the count again.
            for name in chooser.sample(list(COMPONENTS), k=len(COMPONENTS)):
                rig.kill_component(name)
                _wait_uploading(rig)
            _outage_until_budget_reached(rig)
            _kill_core_offline_then_sync_mid_drain(rig)
        _drain_and_stop(rig)
        after = _snapshot(rig)
        rig.stop_core()
        _check(rig, before, after, watched_from)
