"""The nucleus spooler semantics of the embedded cloud adapter, and broker delivery."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localcore.cloud.adapter import EmbeddedCloudAdapter, MessageTooLargeForSpoolError, SpoolerConfig
from localcore.cloud.broker import CloudBroker
from localcore.cloud.connectivity import FLAKY, OFFLINE, ONLINE, Connectivity
from localcore.cloud.rules import RuleEngine, TopicRule
from localcore.cloud.rules_sql import parse_sql
from localcore.contracts import IotMessage
from localcore.mqtt_topics import TopicFilterError


def _setup(spooler: SpoolerConfig | None = None) -> tuple[CloudBroker, Connectivity, EmbeddedCloudAdapter]:
    broker = CloudBroker()
    connectivity = Connectivity()
    return broker, connectivity, EmbeddedCloudAdapter(broker, connectivity, spooler)


def test_online_publish_reaches_cloud_watchers_and_device_subscribers() -> None:
    broker, _, adapter = _setup()
    watched: list[IotMessage] = []
    device: list[IotMessage] = []
    broker.subscribe("edgebundle/+/alerts", watched.append)
    adapter.subscribe("edgebundle/dev-1/#", 1, device.append)

    adapter.publish(IotMessage("edgebundle/dev-1/alerts", b"{}", qos=1))
    broker.publish(IotMessage("edgebundle/dev-1/commands", b"go"))

    assert [m.topic for m in watched] == ["edgebundle/dev-1/alerts"]
    assert [m.topic for m in device] == ["edgebundle/dev-1/alerts", "edgebundle/dev-1/commands"]


def test_offline_keeps_qos1_drops_qos0_and_drains_in_order_on_reconnect() -> None:
    broker, connectivity, adapter = _setup()
    watched: list[bytes] = []
    broker.subscribe("t/#", lambda m: watched.append(m.payload))
    changes: list[bool] = []
    adapter.add_connection_listener(changes.append)

    connectivity.set_state(OFFLINE)
    for index in range(5):
        adapter.publish(IotMessage("t/x", f"q1-{index}".encode(), qos=1))
        adapter.publish(IotMessage("t/x", f"q0-{index}".encode(), qos=0))
    assert watched == [] and not adapter.is_connected()
    assert adapter.stats.dropped_qos0 == 5

    connectivity.set_state(ONLINE)
    assert watched == [f"q1-{i}".encode() for i in range(5)]
    assert changes == [False, True] and adapter.spooled() == []


def test_keep_qos0_when_offline_spools_qos0_too() -> None:
    broker, connectivity, adapter = _setup(SpoolerConfig(keep_qos0_when_offline=True))
    watched: list[bytes] = []
    broker.subscribe("t", lambda m: watched.append(m.payload))
    connectivity.set_state(OFFLINE)
    adapter.publish(IotMessage("t", b"a", qos=0))
    adapter.publish(IotMessage("t", b"b", qos=1))
    connectivity.set_state(ONLINE)
    assert watched == [b"a", b"b"]


def test_a_full_spool_drops_the_oldest_and_refuses_oversized_messages() -> None:
    _, connectivity, adapter = _setup(SpoolerConfig(max_size_in_bytes=10))
    connectivity.set_state(OFFLINE)
    for payload in (b"aaaa", b"bbbb", b"cccc"):
        adapter.publish(IotMessage("t", payload, qos=1))
    assert [m.payload for m in adapter.spooled()] == [b"bbbb", b"cccc"]
    assert adapter.stats.dropped_oldest == 1
    with pytest.raises(MessageTooLargeForSpoolError, match="maxSizeInBytes=10"):
        adapter.publish(IotMessage("t", b"x" * 11, qos=1))


def test_cloud_messages_do_not_reach_the_device_while_offline() -> None:
    broker, connectivity, adapter = _setup()
    device: list[bytes] = []
    adapter.subscribe("cmd", 0, lambda m: device.append(m.payload))
    connectivity.set_state(OFFLINE)
    broker.publish(IotMessage("cmd", b"lost"))
    connectivity.set_state(ONLINE)
    broker.publish(IotMessage("cmd", b"kept"))
    assert device == [b"kept"]


def test_flaky_is_connected_and_never_loses_qos1() -> None:
    broker, connectivity, adapter = _setup()
    watched: list[bytes] = []
    broker.subscribe("t", lambda m: watched.append(m.payload))
    connectivity.set_state(FLAKY, 1.0)
    adapter.publish(IotMessage("t", b"q1", qos=1))
    adapter.publish(IotMessage("t", b"q0", qos=0))
    assert adapter.is_connected()
    assert watched == [b"q1"] and adapter.stats.lost_flaky_qos0 == 1


def test_a_failing_subscriber_does_not_starve_others() -> None:
    broker, _, adapter = _setup()
    got: list[bytes] = []

    def broken(_message: IotMessage) -> None:
        raise RuntimeError("subscriber bug")

    broker.subscribe("t", broken)
    adapter.subscribe("t", 0, lambda m: got.append(m.payload))
    assert broker.publish(IotMessage("t", b"x")) == 1
    assert got == [b"x"]


def test_bad_topics_are_refused() -> None:
    _, _, adapter = _setup()
    with pytest.raises(TopicFilterError):
        adapter.publish(IotMessage("a/+/b", b""))
    with pytest.raises(TopicFilterError):
        adapter.subscribe("a/#/b", 0, lambda _m: None)


class _GatedAction:
    """A rule action that waits for the test to open the gate (a slow DynamoDB, say)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.applied: list[dict[str, object]] = []

    def apply(self, selected: dict[str, object], topic: str) -> None:
        self.gate.wait(10)
        self.applied.append(selected)


def test_rules_run_after_the_publish_returns_and_flush_waits_for_them() -> None:
    action = _GatedAction()
    engine = RuleEngine([TopicRule(parse_sql("r", "SELECT * FROM 't/#'"), action)])
    broker = CloudBroker(engine)
    watched: list[bytes] = []
    broker.subscribe("t/#", lambda m: watched.append(m.payload))

    broker.publish(IotMessage("t/1", b'{"n": 1}'))
    broker.publish(IotMessage("t/2", b'{"n": 2}'))
    assert watched == [b'{"n": 1}', b'{"n": 2}'] and action.applied == []  # the publisher did not wait
    assert not broker.flush(timeout=0.05)

    action.gate.set()
    assert broker.flush()
    assert action.applied == [{"n": 1}, {"n": 2}]
    broker.close()


operations = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.sampled_from([0, 1]), st.integers(1, 6)),
        st.tuples(st.just("state"), st.sampled_from([ONLINE, OFFLINE]), st.just(0)),
    ),
    max_size=40,
)


@given(operations, st.integers(4, 30), st.booleans())
def test_spooler_invariants_under_any_sequence(
    ops: list[tuple[str, object, int]], capacity: int, keep_qos0: bool
) -> None:
    broker, connectivity, adapter = _setup(
        SpoolerConfig(max_size_in_bytes=capacity, keep_qos0_when_offline=keep_qos0)
    )
    delivered: list[bytes] = []
    broker.subscribe("t", lambda m: delivered.append(m.payload))
    sent_qos1: list[bytes] = []
    offline_qos0: list[bytes] = []
    for number, (kind, value, size) in enumerate(ops):
        if kind == "state":
            connectivity.set_state(str(value))
            continue
        payload = f"{number:03d}".encode().ljust(size, b".")
        if len(payload) > capacity:
            continue
        qos = int(str(value))
        adapter.publish(IotMessage("t", payload, qos=qos))
        if qos == 1:
            sent_qos1.append(payload)
        elif not connectivity.is_up():
            offline_qos0.append(payload)
    connectivity.set_state(ONLINE)

    # THEN delivery keeps publish order and never duplicates
    assert delivered == sorted(delivered) and len(set(delivered)) == len(delivered)
    # every QoS 1 message arrives unless the full spool dropped it (and that is counted)
    lost_qos1 = [p for p in sent_qos1 if p not in delivered]
    assert len(lost_qos1) <= adapter.stats.dropped_oldest
    # QoS 0 published offline arrives only when configured to be kept
    if not keep_qos0:
        assert not set(offline_qos0) & set(delivered)
        assert adapter.stats.dropped_qos0 == len(offline_qos0)
    assert adapter.spooled() == []
