"""Sent alerts are kept for a re-send: the nucleus' MQTT spooler (in memory by default) accepts a
publish and may die before it flushed it, so sync keeps each sent alert for
``alertRetentionSeconds`` and re-sends it after its own restart or a link outage.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.common.exceptions import ConfigError
from components.common.live_config import validate_config
from components.common.structs import to_json_dict
from components.sync.component import SyncComponent
from components.sync.config import SyncConfig
from components.sync.exceptions import UploadError
from components.sync.link import LinkMonitor
from components.sync.sinks import MemoryObjectSink
from components.sync.store.base import DELIVERED, DUPLICATES, RESENT, RETENTION_CAPPED, NewRecord
from components.sync.store.schema import SCHEMA_VERSION
from components.sync.store.sqlite import SqliteStore
from components.sync.uploader import PURGE_INTERVAL_SECONDS

from .conftest import alert, reading

THING = "dev-1"
START = 1764331200.0


class Clocks:
    """Unix time for the service and monotonic time for the link's back-off, both moved by hand."""

    def __init__(self) -> None:
        self.unix = START
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.unix += seconds
        self.mono += seconds


class Nucleus:
    """A :class:`MessageSink` like the nucleus: PublishToIoTCore is accepted into an in-memory
    spooler, flushed to the cloud while connected, and lost when the nucleus dies."""

    def __init__(self) -> None:
        self.connected = True
        self.spool: list[bytes] = []
        self.cloud: list[dict[str, Any]] = []
        self.accepting = True  # False: the IPC call fails (nucleus gone)

    def publish(self, topic: str, payload: bytes) -> None:
        if not self.accepting:
            raise UploadError(f"PublishToIoTCore {topic}: connection closed", link_down=True)
        self.spool.append(payload)
        if self.connected:
            self.flush()

    def flush(self) -> None:
        self.cloud += [json.loads(p) for p in self.spool]
        self.spool.clear()

    def die(self) -> None:
        self.spool.clear()

    def arrived(self) -> list[tuple[str, int]]:
        return [(m["source"], int(m["seq"])) for m in self.cloud]


def make_service(
    root: Path, sink: Any, clocks: Clocks, objects: MemoryObjectSink | None = None, **raw: Any
) -> SyncComponent:
    config = validate_config(
        SyncConfig, {"storeDir": str(root / "store"), "batch": {"maxAgeSeconds": 0}, **raw}
    )
    store = SqliteStore(root / "store" / "sync.db")
    service = SyncComponent(
        config, store, objects or MemoryObjectSink(), sink, THING, clock=lambda: clocks.unix
    )
    # The back-off runs on monotonic time: a link under the test's control.
    link = LinkMonitor(
        config.backoff_initial_seconds, config.backoff_max_seconds, clock=lambda: clocks.mono,
        rng=random.Random(1),
    )  # fmt: skip
    service.link = service.uploader.link = link
    return service


def offer_alerts(service: SyncComponent, *seqs: int) -> None:
    for seq in seqs:
        assert service.ingestor.offer("alerts", alert(seq))
    service.ingestor.flush()


def settle(service: SyncComponent, limit: int = 100) -> None:
    for _ in range(limit):
        if not service.uploader.step():
            return
    raise AssertionError("upload did not settle")


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


def test_a_sent_alert_is_kept_unconfirmed_and_leaves_the_backlog(tmp_path: Path, clocks: Clocks) -> None:
    nucleus = Nucleus()
    service = make_service(tmp_path, nucleus, clocks)
    offer_alerts(service, 1)
    settle(service)
    assert nucleus.arrived() == [("rules", 1)]
    status = service.status()
    assert status["backlog"]["alerts"]["records"] == 0 and status["backlog"]["alerts"]["unconfirmed"] == 1
    assert status["counters"]["alerts"][DELIVERED] == 1
    # a replay of the sent alert is still a duplicate, not a new record
    service.ingestor.offer("alerts", alert(1))
    assert service.ingestor.flush().get("alerts", DUPLICATES) == 1
    service.store.close()


def test_the_link_down_and_up_again_re_sends_a_sent_alert_once(tmp_path: Path, clocks: Clocks) -> None:
    # GIVEN an alert the nucleus accepted into its spooler just as the link dropped
    nucleus = Nucleus()
    service = make_service(tmp_path, nucleus, clocks)
    service.link.mqtt_status(True)
    nucleus.connected = False
    offer_alerts(service, 1)
    settle(service)
    assert nucleus.spool and not nucleus.cloud
    # WHEN the nucleus notices, dies with the spool, comes back and reconnects
    service.link.mqtt_status(False)
    service.uploader.step()
    nucleus.die()
    nucleus.connected = True
    service.link.mqtt_status(True)
    settle(service)
    # THEN the alert reached the cloud, re-sent exactly once, with the same alert key
    assert nucleus.arrived() == [("rules", 1)]
    assert service.store.counters()["alerts"][RESENT] == 1
    assert nucleus.cloud[0]["alertKey"].endswith("#rules#1")
    settle(service)
    assert service.store.counters()["alerts"][RESENT] == 1


def test_a_failed_publish_then_a_success_re_sends_what_was_sent_before(
    tmp_path: Path, clocks: Clocks
) -> None:
    # GIVEN two alerts sent, then the IPC connection to the nucleus lost (it restarted)
    nucleus = Nucleus()
    service = make_service(tmp_path, nucleus, clocks)
    nucleus.connected = False
    offer_alerts(service, 1, 2)
    settle(service)
    nucleus.die()
    nucleus.accepting = False
    offer_alerts(service, 3)
    service.uploader.step()
    assert service.link.state() == "offline" and service.status()["backlog"]["alerts"]["records"] == 1
    # WHEN the nucleus is back and the back-off is over
    nucleus.accepting = nucleus.connected = True
    clocks.advance(service.link.seconds_until_retry() + 0.01)
    settle(service)
    # THEN the lost ones come first, in order, then the new one
    assert nucleus.arrived() == [("rules", 1), ("rules", 2), ("rules", 3)]
    assert service.store.counters()["alerts"][RESENT] == 2


def test_a_restart_re_sends_unconfirmed_alerts_before_newer_ones(tmp_path: Path, clocks: Clocks) -> None:
    # GIVEN alerts sent into the spooler, then the core killed with sync (kill -9: no close)
    nucleus = Nucleus()
    first = make_service(tmp_path, nucleus, clocks)
    nucleus.connected = False
    offer_alerts(first, 1, 2)
    settle(first)
    nucleus.die()
    first.store.close()
    # WHEN sync starts again on the same store, with a newer alert already waiting
    second = make_service(tmp_path, nucleus, clocks)
    offer_alerts(second, 3)
    nucleus.connected = True
    settle(second)
    # THEN the unconfirmed ones are re-sent first, in order
    assert nucleus.arrived() == [("rules", 1), ("rules", 2), ("rules", 3)]
    counters = second.store.counters()["alerts"]
    assert counters[DELIVERED] == 3 and counters[RESENT] == 2
    second.store.close()


def test_retention_expiry_forgets_sent_alerts(tmp_path: Path, clocks: Clocks) -> None:
    nucleus = Nucleus()
    service = make_service(tmp_path, nucleus, clocks, alertRetentionSeconds=60)
    offer_alerts(service, 1)
    settle(service)
    clocks.advance(59)
    service.uploader.step()
    assert service.store.unconfirmed() == {"alerts": 1}
    clocks.advance(2)
    service.uploader.step()
    assert service.store.unconfirmed() == {}
    # forgotten: a later outage re-sends nothing
    service.link.mqtt_status(False)
    service.uploader.step()
    service.link.mqtt_status(True)
    settle(service)
    assert nucleus.arrived() == [("rules", 1)] and RESENT not in service.store.counters()["alerts"]


def test_sent_alerts_are_kept_past_retention_while_the_link_is_down(tmp_path: Path, clocks: Clocks) -> None:
    # GIVEN an alert in the spooler when the link went down
    nucleus = Nucleus()
    service = make_service(tmp_path, nucleus, clocks, alertRetentionSeconds=60)
    nucleus.connected = False
    offer_alerts(service, 1)
    settle(service)
    service.link.mqtt_status(False)
    # WHEN the outage lasts longer than the retention time
    clocks.advance(600)
    service.uploader.step()
    # THEN it is still kept, and re-sent when the link is back; past its retention time, it is
    # forgotten once that re-send went out
    assert service.store.unconfirmed() == {"alerts": 1}
    nucleus.die()
    nucleus.connected = True
    service.link.mqtt_status(True)
    settle(service)
    assert nucleus.arrived() == [("rules", 1)] and service.store.unconfirmed() == {}


def test_a_flapping_link_re_sends_an_alert_only_within_its_retention_time(
    tmp_path: Path, clocks: Clocks
) -> None:
    # GIVEN an alert sent, then the link flapping every 20 s for far longer than the retention
    nucleus = Nucleus()
    service = make_service(tmp_path, nucleus, clocks, alertRetentionSeconds=60)
    offer_alerts(service, 1)
    settle(service)
    for _ in range(10):
        clocks.advance(10)
        service.link.mqtt_status(False)
        service.uploader.step()
        clocks.advance(10)
        service.link.mqtt_status(True)
        settle(service)
    # THEN it was re-sent only while within 60 s of its first send, then forgotten
    resent = service.store.counters()["alerts"][RESENT]
    assert 1 <= resent <= 3 and len(nucleus.arrived()) == 1 + resent
    assert service.store.unconfirmed() == {}


def test_the_cap_forgets_the_oldest_sent_alerts_and_counts_them(tmp_path: Path, clocks: Clocks) -> None:
    nucleus = Nucleus()
    service = make_service(tmp_path, nucleus, clocks, alertRetentionMaxRecords=2)
    offer_alerts(service, 1, 2, 3, 4, 5)
    settle(service)
    assert service.store.unconfirmed() == {"alerts": 2}
    assert service.store.counters()["alerts"][RETENTION_CAPPED] == 3
    service.link.mqtt_status(False)
    service.uploader.step()
    service.link.mqtt_status(True)
    settle(service)
    assert [seq for _, seq in nucleus.arrived()] == [1, 2, 3, 4, 5, 4, 5]


def test_retention_zero_forgets_at_once(tmp_path: Path, clocks: Clocks) -> None:
    nucleus = Nucleus()
    service = make_service(tmp_path, nucleus, clocks, alertRetentionSeconds=0)
    offer_alerts(service, 1)
    settle(service)
    assert service.store.unconfirmed() == {} and service.store.backlog() == {}
    service.link.mqtt_status(False)
    service.uploader.step()
    service.link.mqtt_status(True)
    settle(service)
    assert nucleus.arrived() == [("rules", 1)]


def test_bulk_uploads_do_not_re_send_alerts(tmp_path: Path, clocks: Clocks) -> None:
    """Re-sends follow link evidence only: an S3 drain alone never repeats an alert."""
    nucleus = Nucleus()
    service = make_service(tmp_path, nucleus, clocks)
    offer_alerts(service, 1)
    for seq in range(20):
        service.ingestor.offer("readings", reading(seq))
    service.ingestor.flush()
    settle(service)
    assert nucleus.arrived() == [("rules", 1)]


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"alertRetentionSeconds": -1}, "alertRetentionSeconds: Expected `float` >= 0"),
        ({"alertRetentionSeconds": 86401}, "alertRetentionSeconds: Expected `float` <= 86400"),
        ({"alertRetentionSeconds": "soon"}, "alertRetentionSeconds: Expected `float`, got `str`"),
        ({"alertRetentionMaxRecords": 0}, "alertRetentionMaxRecords: Expected `int` >= 1"),
        ({"alertRetentionMaxRecords": 2.5}, "alertRetentionMaxRecords: Expected `int`, got `float`"),
    ],
)
def test_bad_retention_settings_are_refused_by_name(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(key)):
        validate_config(SyncConfig, raw)


def test_retention_settings_apply_live(tmp_path: Path, clocks: Clocks) -> None:
    nucleus = Nucleus()
    service = make_service(tmp_path, nucleus, clocks)
    offer_alerts(service, 1)
    settle(service)
    service.apply(validate_config(SyncConfig, {**to_json_dict(service.config), "alertRetentionSeconds": 0}))
    clocks.advance(PURGE_INTERVAL_SECONDS)
    service.uploader.step()
    assert service.store.unconfirmed() == {}


# -- the store file of the version before sent alerts were kept --------------------------------------
# The schema as it was (git 68fac35, components/sync/store/sqlite.py), without PRAGMA user_version.
OLD_SCHEMA = """
CREATE TABLE records (
    id INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, priority INTEGER NOT NULL,
    source TEXT NOT NULL, seq INTEGER NOT NULL, ts REAL NOT NULL, received REAL NOT NULL,
    expires REAL, size INTEGER NOT NULL, payload BLOB NOT NULL, UNIQUE (source, stream, seq)
);
CREATE INDEX records_by_age ON records (stream, id);
CREATE INDEX records_by_expiry ON records (expires) WHERE expires IS NOT NULL;
CREATE TABLE batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, source TEXT NOT NULL,
    first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, max_id INTEGER NOT NULL,
    key TEXT NOT NULL, count INTEGER NOT NULL, created REAL NOT NULL
);
CREATE TABLE delivered (
    stream TEXT NOT NULL, source TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (stream, source)
);
CREATE TABLE counters (
    stream TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (stream, name)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def old_store(path: Path) -> None:
    """A store file as the previous version left it: two alerts waiting, one delivered, counters."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(OLD_SCHEMA)
    for seq in (2, 3):
        payload = json.dumps(alert(seq)).encode()
        db.execute(
            "INSERT INTO records (stream, priority, source, seq, ts, received, expires, size, payload)"
            " VALUES ('alerts', 100, 'rules', ?, ?, ?, NULL, ?, ?)",
            (seq, START + seq, START, len(payload), payload),
        )
    db.execute("INSERT INTO delivered VALUES ('alerts', 'rules', 1)")
    db.execute("INSERT INTO counters VALUES ('alerts', 'delivered', 1)")
    db.execute("INSERT INTO meta VALUES ('budget', '{}')")
    db.commit()
    db.close()


def test_a_store_file_of_the_previous_version_is_migrated(tmp_path: Path, clocks: Clocks) -> None:
    # GIVEN a store file written before sent alerts were kept
    old_store(tmp_path / "store" / "sync.db")
    # WHEN the new version opens it
    nucleus = Nucleus()
    nucleus.connected = False
    service = make_service(tmp_path, nucleus, clocks)
    # THEN what it held is intact and its alerts go out and are kept for a re-send
    assert service.store.backlog()["alerts"].records == 2 and service.store.get_meta("budget") == "{}"
    settle(service)
    assert service.store.unconfirmed() == {"alerts": 2}
    assert service.store.counters()["alerts"][DELIVERED] == 3
    service.ingestor.offer("alerts", alert(1))
    assert service.ingestor.flush().get("alerts", DUPLICATES) == 1
    service.store.close()
    # and the file carries the new version; opening it again changes nothing
    db = sqlite3.connect(tmp_path / "store" / "sync.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()
    nucleus.die()  # the core was killed with sync: the new process re-sends both
    again = make_service(tmp_path, nucleus, clocks)
    nucleus.connected = True
    settle(again)
    assert [seq for _, seq in nucleus.arrived()] == [2, 3]
    assert again.store.unconfirmed() == {"alerts": 2}
    again.store.close()


# -- property: whatever the nucleus and the link do, every alert arrives, in order -------------------
Step = st.sampled_from(["alert", "step", "drop", "notice", "reconnect", "kill_core", "ipc_down"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(Step, min_size=1, max_size=40))
def test_every_alert_reaches_the_cloud_in_order_whatever_the_nucleus_does(steps: list[str]) -> None:
    """GIVEN any interleaving of new alerts, upload steps, the link dropping (and the nucleus
    noticing later or never), reconnects, IPC failures and kills of the core (its spooler lost,
    sync restarted on its store) WHEN the link finally comes back THEN every alert sync stored is
    in the cloud, and each one's first arrival is in sequence order."""
    clocks = Clocks()
    nucleus = Nucleus()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        service = make_service(root, nucleus, clocks)
        service.link.mqtt_status(True)
        seq = 0
        for step in steps:
            if step == "alert":
                seq += 1
                offer_alerts(service, seq)
            elif step == "step":
                service.uploader.step()
            elif step == "drop":
                nucleus.connected = False
            elif step == "notice":
                service.link.mqtt_status(nucleus.connected)
            elif step == "reconnect":
                nucleus.connected = nucleus.accepting = True
                nucleus.flush()
                service.link.mqtt_status(True)
                clocks.advance(service.link.seconds_until_retry())
            elif step == "ipc_down":
                nucleus.accepting = False
            elif step == "kill_core":
                # sync dies with the core (parent-death signal): no close, a new process and store
                nucleus.die()
                nucleus.accepting = True
                service.store.close()  # every step committed: closing changes nothing on disk
                service = make_service(root, nucleus, clocks)
                service.link.mqtt_status(nucleus.connected)
            clocks.advance(1)
        nucleus.connected = nucleus.accepting = True
        nucleus.flush()
        service.link.mqtt_status(True)
        clocks.advance(service.link.seconds_until_retry())
        settle(service)
        service.store.close()
    arrived = nucleus.arrived()
    assert set(arrived) == {("rules", n) for n in range(1, seq + 1)}
    first: list[int] = []
    for _source, n in arrived:
        if n not in first:
            first.append(n)
    assert first == sorted(first), arrived


# -- the store's side, directly ------------------------------------------------------------------
def test_the_store_keeps_due_alerts_past_retention_and_caps_oldest_first(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "sync.db")
    payload = json.dumps(alert(1)).encode()
    store.add([NewRecord("alerts", 100, "rules", n, START + n, START, None, payload) for n in (1, 2, 3)], {})
    store.mark_sent(store.next_records("alerts", 10), now=START)
    assert store.next_records("alerts", 10) == [] and store.backlog() == {}
    # GIVEN 1..3 sent at START, then all due for a re-send and 3 re-sent
    assert store.requeue_unconfirmed() == 3 and store.requeue_unconfirmed() == 0
    store.mark_resent(store.next_resends("alerts", 10)[2:])
    assert [r.seq for r in store.next_resends("alerts", 10)] == [1, 2]
    # WHEN purging what was first sent by START + 50: the due ones stay, the re-sent one goes
    assert store.purge_unconfirmed(START + 50, keep_at_most=10) == {"alerts": 1}
    assert [r.seq for r in store.next_resends("alerts", 10)] == [1, 2]
    # and the cap takes the oldest first, due or not, and counts them
    assert store.purge_unconfirmed(None, keep_at_most=1) == {"alerts": 1}
    assert [r.seq for r in store.next_resends("alerts", 10)] == [2]
    assert store.counters()["alerts"][RETENTION_CAPPED] == 1
    store.mark_resent(store.next_resends("alerts", 10))
    assert store.purge_unconfirmed(START, keep_at_most=10) == {"alerts": 1} and store.unconfirmed() == {}
    with pytest.raises(ValueError, match="keep_at_most"):
        store.purge_unconfirmed(None, keep_at_most=-1)
    store.close()
