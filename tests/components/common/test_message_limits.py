"""Every message kind the bundle publishes, at its largest configured size, within nucleus lite's limits.

nucleus lite (``aws-greengrass/aws-greengrass-lite``, ../shared/reference/nucleus-lite.md):

- ``GGL_IPC_MAX_MSG_LEN`` 10000 (``modules/ggipcd/src/ipc_server.h``): a larger packet closes the
  publisher's IPC connection (``ipc_server.c``, line 485); observed for JSON over ~9,800 bytes and
  binary over ~7,400.
- ``PAYLOAD_MAX_SUBOBJECTS`` 50 (``modules/core-bus/src/client_subscribe.c``, line 36): a message
  of more decoded nodes is dropped for the subscriber, which then receives nothing more; a binary
  payload is one node whatever its size.

Each message is built by the code that builds it on a device (the real components, the real
message builders, the real publisher), with the configuration at its bounds (the most sensors,
models, rules; ids of the longest length the configuration accepts). Then every number is made
as wide as it gets (counters of 12 digits, floats of 17 significant digits) and every piece of
free text as long as anyone could make it, and the message goes through the same encoding the
IPC wrapper sends: its bytes must stay under ``MAX_MESSAGE_BYTES`` and its wire form must be one
node.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from components.common import topics
from components.common.live_config import validate_config
from components.common.messages import (
    actuator_message,
    alert_message,
    anomaly_message,
    health_message,
    inspection_message,
    reading_message,
)
from components.common.publisher import Coalescing, IpcPublisher
from components.common.wire_limits import (
    LITE_IPC_MAX_MSG_LEN,
    LITE_OBSERVED_MAX_BINARY_BYTES,
    LITE_PAYLOAD_MAX_SUBOBJECTS,
    MAX_MESSAGE_BYTES,
    MAX_TEXT_CHARS,
    count_nodes,
    encode,
    encode_checked,
    wire_nodes,
)
from components.inference.component import InferenceComponent
from components.inference.config import InferenceConfig
from components.inspection.component import InspectionComponent
from components.inspection.config import InspectionConfig
from components.sensing.component import SensingComponent
from components.sensing.config import MAX_SENSORS, SensingConfig
from components.sync.budget import DailyBudget
from components.sync.config import SyncConfig, effective_policies
from components.sync.link import LinkMonitor
from components.sync.state import StatusReporter, status_document
from components.sync.store import base as store_base
from components.sync.store.sqlite import SqliteStore
from tests.components.rig import RecordingPublisher

#: The widest a counter gets: 10**12 - 1 (a thousand events a second for thirty years).
WIDEST_INT = 999_999_999_999
#: A float of 17 significant digits, as wide as Python writes a double that is no timestamp.
WIDEST_FLOAT = 0.30000000000000004
#: Free text longer than any clip: whatever a driver, a camera or the cloud says.
LONG_TEXT = "E" * 10_000
#: An id as long as ``structs.ID_PATTERN`` accepts (64 characters), made unique by ``n``.
LONGEST_ID_LENGTH = 64

#: The keys whose string values are free text (errors, reasons), not configured names.
FREE_TEXT = frozenset(
    {"lastError", "lastFrameError", "lastRejection", "linkError", "storeIncident", "error", "reason"}
)


def longest_id(stem: str, n: int = 0) -> str:
    return f"{stem}{n:02d}-".ljust(LONGEST_ID_LENGTH, "x")


def widest(value: Any, key: str = "", free_text: frozenset[str] = FREE_TEXT) -> Any:
    """``value`` with its numbers as wide, and its ``free_text`` as long, as they can get (free
    text a component clips itself is made long in its state instead, and left out here)."""
    if isinstance(value, dict):
        return {k: widest(v, k, free_text) for k, v in value.items()}
    if isinstance(value, list):
        return [widest(v, key, free_text) for v in value]
    if key in free_text and (value is None or isinstance(value, str)):
        return LONG_TEXT
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return WIDEST_INT
    if isinstance(value, float) or value is None:  # a null figure becomes one when there is data
        return WIDEST_FLOAT
    return value


def assert_fits(topic: str, message: dict[str, Any]) -> int:
    """The message passes nucleus lite as the IPC wrapper sends it; returns its size."""
    payload = encode_checked(topic, message)  # raises MessageTooLargeError over the limit
    assert wire_nodes(payload) == 1 <= LITE_PAYLOAD_MAX_SUBOBJECTS
    assert json.loads(payload) == json.loads(json.dumps(message))  # nothing lost on the way
    return len(payload)


def test_the_limits_leave_room_under_lites() -> None:
    # base64 grows a binary payload by a third inside lite's frame; the frame's headers and the
    # topic take the rest, which must leave a margin of at least a tenth.
    assert MAX_MESSAGE_BYTES * 4 // 3 < LITE_IPC_MAX_MSG_LEN * 0.9
    assert MAX_MESSAGE_BYTES < LITE_OBSERVED_MAX_BINARY_BYTES * 0.9


def test_nodes_are_counted_as_lites_decoder_counts_them() -> None:
    """The reference's observations: a map of 20 keys passed, 30 did not; a list of 40 passed,
    60 did not (``PAYLOAD_MAX_SUBOBJECTS`` 50); a binary payload is one node."""
    assert count_nodes({f"k{i}": i for i in range(20)}) <= LITE_PAYLOAD_MAX_SUBOBJECTS
    assert count_nodes({f"k{i}": i for i in range(30)}) > LITE_PAYLOAD_MAX_SUBOBJECTS
    assert count_nodes(list(range(40))) <= LITE_PAYLOAD_MAX_SUBOBJECTS
    assert count_nodes(list(range(60))) > LITE_PAYLOAD_MAX_SUBOBJECTS
    assert wire_nodes(encode({f"k{i}": i for i in range(1000)})) == 1
    # the counts: a batch of two readings, 71 nodes as JSON, is far past it
    reading = reading_message("line1-env", 1, 1.0, "environment", {"t": 1.0, "h": 2.0}, {"t": "C", "h": "%"})
    assert count_nodes({"schema": "s", "source": "sensing", "readings": [reading, reading]}) > 50


# -- sensing ------------------------------------------------------------------------------------------
SYSTEM_METRICS = ("cpu_percent", "memory_percent", "disk_percent", "network_up", "battery_percent")


def largest_reading(n: int = 0) -> dict[str, Any]:
    """A failed read of the gateway's system sensor: the most metrics, an error, the longest id."""
    return reading_message(
        longest_id("gateway", n),
        WIDEST_INT * 1000,  # seq: microseconds since the epoch
        WIDEST_FLOAT,
        "system",
        dict.fromkeys(SYSTEM_METRICS, WIDEST_FLOAT),
        dict.fromkeys(SYSTEM_METRICS, "%"),
        quality="bad",
        error=LONG_TEXT,
        injected="dropout",
    )


def largest_sensing_config() -> SensingConfig:
    sensors = [
        {"id": longest_id("sensor", n), "driver": "simulated", "intervalSeconds": 3600}
        for n in range(MAX_SENSORS)
    ]
    rules = [
        {
            "type": "threshold",
            "id": longest_id(f"rule{n}"),
            "sensor": longest_id("sensor", n % MAX_SENSORS),
            "metric": "temperature",
            "above": 1000.0,
        }
        for n in range(64)
    ]
    return validate_config(SensingConfig, {"sensors": sensors, "rules": rules})


@pytest.fixture
def sensing() -> Iterator[SensingComponent]:
    component = SensingComponent(RecordingPublisher())
    component.apply(largest_sensing_config())
    yield component
    component.stop()


def test_readings_and_their_batches_fit() -> None:
    assert assert_fits(topics.READINGS, largest_reading()) < MAX_MESSAGE_BYTES // 4

    wire = PendingWire()
    # the sensing component's own coalescing, every reading as large as it gets, while the core
    # is slow to acknowledge: batches are cut by the bytes on the wire, and a batch is one
    # binary node whatever it holds
    publisher = IpcPublisher(wire, coalescing=Coalescing(topics.READINGS, "sensing", window=1))  # type: ignore[arg-type]
    for n in range(2_000):
        publisher.publish(topics.READINGS, largest_reading(n % 100))
    wire.acknowledge_until(lambda: publisher.flush(timeout=0.01))
    publisher.close()
    assert sum(len(json.loads(p).get("readings", [None])) for p in wire.sent) == 2_000
    assert max(len(json.loads(p).get("readings", [None])) for p in wire.sent) > 1  # batches were cut
    assert all(len(p) <= MAX_MESSAGE_BYTES and wire_nodes(p) == 1 for p in wire.sent)


class PendingWire:
    """The IPC wrapper's encoded publish, acknowledged only when the test says so."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.pending: list[Future[Any]] = []
        self.lock = threading.Lock()

    def publish_encoded_async(self, topic: str, payload: bytes) -> Future[Any]:
        future: Future[Any] = Future()
        with self.lock:
            self.sent.append(payload)
            self.pending.append(future)
        return future

    def acknowledge_until(self, done: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "the publisher never emptied its queue"
            with self.lock:
                pending, self.pending = self.pending, []
            for future in pending:
                future.set_result(None)


def test_alerts_and_actuator_changes_fit() -> None:
    alert = alert_message(
        longest_id("gateway"),
        WIDEST_INT * 1000,
        WIDEST_FLOAT,
        f"{longest_id('rule')}:{longest_id('gateway')}",
        longest_id("rule"),
        "critical",
        "raised",
        LONG_TEXT,
        largest_reading(),
    )
    assert assert_fits(topics.ALERTS, alert) < MAX_MESSAGE_BYTES // 2
    # Sync forwards an alert to IoT Core (PublishToIoTCore, the same IPC buffer) with an alertKey.
    forwarded = {**json.loads(encode(alert)), "alertKey": LONG_TEXT[:200]}
    assert len(encode(forwarded)) <= MAX_MESSAGE_BYTES
    lit_by = ", ".join(f"{longest_id(f'rule{n}')}:{longest_id('sensor')}" for n in range(64))
    change = actuator_message(
        longest_id("led"), WIDEST_INT * 1000, WIDEST_FLOAT, longest_id("led"), True, lit_by
    )
    assert_fits(topics.ACTUATOR, change)


def test_sensing_health_fits_with_every_sensor_and_alert(sensing: SensingComponent) -> None:
    for loop in sensing.loops.values():
        loop.stats.last_error = LONG_TEXT  # what the driver said last, however long
    metrics = sensing.health_metrics()
    assert len(metrics["sensors"]) == MAX_SENSORS
    metrics["activeAlerts"] = sensing.active_alerts_summary(
        [f"{longest_id(f'rule{n}')}:{longest_id('sensor', n)}" for n in range(64 + MAX_SENSORS)]
    )
    metrics["publisher"] = IpcPublisher(
        object(),  # type: ignore[arg-type]
        coalescing=Coalescing(topics.READINGS, "sensing"),
    ).metrics()
    metrics = widest(metrics, free_text=FREE_TEXT - {"lastError"})
    assert_fits(topics.HEALTH, health_message("sensing", WIDEST_INT * 1000, WIDEST_FLOAT, metrics))
    with pytest.raises(Exception, match="sensors"):
        validate_config(
            SensingConfig,
            {
                "sensors": [{"id": f"s{n}", "driver": "simulated"} for n in range(MAX_SENSORS + 1)],
                "rules": [],
            },
        )


# -- inference ----------------------------------------------------------------------------------------
def test_anomaly_events_fit() -> None:
    event = anomaly_message(
        longest_id("sensor"),
        WIDEST_INT * 1000,
        WIDEST_FLOAT,
        model=longest_id("model"),
        model_version="v" * 64,
        score=WIDEST_FLOAT,
        threshold=WIDEST_FLOAT,
        window_start=WIDEST_FLOAT,
        window_end=WIDEST_FLOAT,
        inference_ms=WIDEST_FLOAT,
    )
    assert assert_fits(topics.ANOMALIES, event) < MAX_MESSAGE_BYTES // 4


def test_inference_status_fits_with_every_model() -> None:
    models = [{"name": longest_id("model", n), "version": "v" * 64, "variant": "float32"} for n in range(8)]
    config = validate_config(InferenceConfig, {"models": models})
    assert len(config.models) == 8
    with pytest.raises(Exception, match="models"):
        validate_config(InferenceConfig, {"models": [*models, {"name": "ninth"}]})
    component = InferenceComponent(RecordingPublisher(), lambda topic, handler: _NoSubscription())
    try:
        component.apply(config)
        metrics = widest(component.health())
    finally:
        component.stop()
    assert len(metrics["models"]) == 8
    assert_fits(
        topics.INFERENCE_STATUS, health_message("inference", WIDEST_INT * 1000, WIDEST_FLOAT, metrics)
    )


class _NoSubscription:
    def close(self) -> None:
        return None


# -- inspection ---------------------------------------------------------------------------------------
def test_inspection_decisions_fit() -> None:
    decision = inspection_message(
        "inspection",
        WIDEST_INT * 1000,
        WIDEST_FLOAT,
        part_id="P" * 128,  # the longest partId a trigger may carry
        probability=WIDEST_FLOAT,
        decision="review",
        model="part_defect",
        model_version="v" * 64,
        latency_ms=WIDEST_FLOAT,
        inspected=False,
        reason=LONG_TEXT,
        capturedTs=WIDEST_FLOAT,
        frame=WIDEST_INT,
        actuated=False,
        image="I" * 255,  # a file name
        groundTruth="scratch",
    )
    assert assert_fits(topics.INSPECTION_DECISIONS, decision) < MAX_MESSAGE_BYTES // 4


def test_inspection_health_fits(tmp_path: Path) -> None:
    config = validate_config(
        InspectionConfig,
        {
            "camera": {"type": "synthetic", "seed": 3},
            "trigger": {"mode": "topic"},
            "spool": {"dir": str(tmp_path / ("s" * 200)), "minFreeBytes": 0},
            "healthIntervalSeconds": 3600,
        },
    )
    component = InspectionComponent(RecordingPublisher(), lambda topic, handler: _NoSubscription())
    try:
        component.apply(config)
        metrics = widest(component.health())
    finally:
        component.stop()
    assert metrics["model"] is not None  # the whole document: a model serving
    assert_fits(
        topics.INSPECTION_HEALTH, health_message("inspection", WIDEST_INT * 1000, WIDEST_FLOAT, metrics)
    )


# -- sync ---------------------------------------------------------------------------------------------
def test_sync_status_fits(tmp_path: Path) -> None:
    deadband = {metric: WIDEST_FLOAT for metric in (*SYSTEM_METRICS, "temperature", "humidity")}
    config = validate_config(
        SyncConfig, {"streams": {"readings": {"upload": "deadband", "deadband": deadband}}}
    )
    store = SqliteStore(tmp_path / "sync.db")
    try:
        document = status_document(
            store,
            LinkMonitor(),
            DailyBudget(store, 0),
            effective_policies(config),
            WIDEST_FLOAT,
            True,
            LONG_TEXT,
            WIDEST_FLOAT,
        )
    finally:
        store.close()
    # every counter a stream can have, for every stream, as wide as it gets
    document["counters"] = {
        stream: dict.fromkeys(SYNC_COUNTERS, WIDEST_INT) for stream in document["backlog"]
    }
    assert len(SYNC_COUNTERS) >= 11
    published: list[dict[str, Any]] = []

    class Core:
        def publish_json(self, topic: str, message: dict[str, Any]) -> None:
            published.append(message)

        def update_shadow(self, shadow: str, reported: dict[str, Any]) -> dict[str, Any]:
            return reported

    StatusReporter(Core(), lambda: widest(document)).report()
    assert_fits(topics.SYNC_STATUS, published[0])
    assert set(published[0]["metrics"]) == set(document) - {"policies"}


#: Every counter name the store keeps (components/sync/store/base.py).
SYNC_COUNTERS = tuple(
    value for name, value in vars(store_base).items() if name.isupper() and isinstance(value, str)
)


def test_free_text_is_clipped_where_messages_are_built() -> None:
    message = health_message("x", 1, 1.0, {"camera": {"lastError": LONG_TEXT}})
    assert len(message["metrics"]["camera"]["lastError"]) == MAX_TEXT_CHARS
    reading = reading_message("s", 1, 1.0, "environment", {}, {}, quality="bad", error=LONG_TEXT)
    assert len(reading["error"]) == MAX_TEXT_CHARS


def test_camera_frames_are_the_one_classic_only_kind() -> None:
    """Frames may pass MAX_MESSAGE_BYTES, bounded by the classic nucleus's 24 MiB event-stream
    message (greengrass-ipc.md 1.3); every other kind stays within lite's buffer
    (nucleus-lite.md, "Size limits": GGL_IPC_MAX_MSG_LEN 10000, ~7,400 bytes binary observed)."""
    import numpy as np

    from components.common.exceptions import MessageTooLargeError
    from components.common.image_messages import image_message
    from components.common.messages import IMAGE_V1, MAX_IMAGE_BYTES
    from components.common.wire_limits import CLASSIC_ONLY_LIMITS, MAX_MESSAGE_BYTES, encode_checked

    assert set(CLASSIC_ONLY_LIMITS) == {IMAGE_V1}
    assert CLASSIC_ONLY_LIMITS[IMAGE_V1] >= MAX_IMAGE_BYTES * 4 // 3 < 24 * 1024 * 1024
    frame = image_message("inspection", 1, 1.79e9, np.zeros((96, 96, 3), np.uint8))
    assert len(encode_checked("frames", frame)) > MAX_MESSAGE_BYTES
    too_big = {"schema": "edgebundle.health.v1", "pad": "x" * MAX_MESSAGE_BYTES}
    with pytest.raises(MessageTooLargeError, match="expected at most 6500"):
        encode_checked("health", too_big)


def test_a_replay_request_at_its_largest_fits_the_wire_limit() -> None:
    """Sync's replay request with the most ranges it puts in one (gaps.MAX_RANGES_PER_REQUEST),
    as many excluded sources, the longest ids and the widest numbers stays within
    MAX_MESSAGE_BYTES (nucleus-lite.md, "Size limits": a larger packet closes the connection)."""
    from components.common.messages import replay_request_message
    from components.common.wire_limits import MAX_MESSAGE_BYTES, encode
    from components.sync.gaps import MAX_RANGES_PER_REQUEST

    widest = 2**63 - 1
    ids = [f"{index:02d}" + "s" * 62 for index in range(MAX_RANGES_PER_REQUEST)]
    message = replay_request_message(
        "sync",
        widest,
        1.79e9,
        request_id="sync-" + "f" * 100,
        topic="edgebundle/sensing/readings",
        ranges=[(source, widest - 1, widest) for source in ids],
        others=True,
        exclude=[source.replace("s", "x") for source in ids],
    )
    assert len(encode(message)) <= MAX_MESSAGE_BYTES
