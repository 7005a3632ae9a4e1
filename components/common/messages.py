"""Versioned JSON message schemas on the bundle's local topics: defined once, used by producers and consumers.

Every message carries ``schema`` (name and major version), ``source`` (who produced it: a sensor id
or a component), ``seq`` (a per-source sequence number, strictly increasing) and ``ts`` (Unix
seconds, float). ``(source, stream, seq)`` is the idempotency key the sync component stores by.

Producers build plain dicts with the ``*_message`` functions (cheap on the hot path); consumers
validate with :func:`parse_message`, which raises :class:`MessageError` naming the field that is wrong.
The readings topic also carries :class:`ReadingBatch` (several readings in one message, when the
producer falls behind): its consumers read it with :func:`iter_readings` / :func:`reading_items`.
Images for a hosted image model travel as :class:`ImageMessage` (raw pixels, base64) and its
results as :class:`PredictionMessage`.

Over 400 lines: every schema of the bundle's topics is here, once, by design.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta

from components.common.exceptions import MessageError
from components.common.structs import locate_error
from components.common.wire_limits import MAX_TEXT_CHARS, clip_strings, clip_text

READING_V1 = "edgebundle.reading.v1"
READING_BATCH_V1 = "edgebundle.reading-batch.v1"
ALERT_V1 = "edgebundle.alert.v1"
HEALTH_V1 = "edgebundle.health.v1"
ANOMALY_V1 = "edgebundle.anomaly.v1"
INSPECTION_V1 = "edgebundle.inspection.v1"
ACTUATOR_V1 = "edgebundle.actuator.v1"
IMAGE_V1 = "edgebundle.image.v1"
PREDICTION_V1 = "edgebundle.prediction.v1"
#: Largest image an image message carries (pixel bytes): its base64 (4/3 larger) must fit in one
#: IPC event-stream message, at most 24 MiB (``/work/shared/reference/greengrass-ipc.md`` 1.3,
#: ``AWS_EVENT_STREAM_MAX_MESSAGE_SIZE``), with room for the rest of the message.
MAX_IMAGE_BYTES = 16 * 1024 * 1024
REPLAY_REQUEST_V1 = "edgebundle.replay-request.v1"
REPLAY_V1 = "edgebundle.replay.v1"

Quality = Literal["good", "bad", "stale"]
Severity = Literal["info", "warning", "critical"]


class _Message(msgspec.Struct, kw_only=True, rename="camel"):
    """Base of the message models. Unknown fields are ignored, not refused: a field may be added
    within a major version."""


class _Envelope(_Message):
    schema_: str = msgspec.field(name="schema")
    source: Annotated[str, Meta(min_length=1)]
    seq: Annotated[int, Meta(ge=0)]
    ts: float


class Reading(_Envelope):
    """One sensor sample. ``values`` and ``units`` share keys (``temperature`` -> ``C``).

    ``error``: why a ``bad`` reading failed (the driver's message). ``injected``: on simulated
    sensors only, the anomaly the simulator injected (``spike``, ``step``, ``stuck``,
    ``dropout``) or ``None``: ground truth for evaluating anomaly detection.
    """

    kind: str
    values: dict[str, float | None]
    units: dict[str, str]
    quality: Quality
    error: str | None = None
    injected: str | None = None


class ReadingBatch(_Message):
    """Readings coalesced into one message by a publisher (above its message rate, or while its
    in-flight window was full).

    Only a transport: it has no ``seq`` or ``ts`` of its own, and each reading in ``readings``
    is a whole :class:`Reading` (``edgebundle.reading.v1``) keeping its own ``source``, ``seq``
    and ``ts``, so consumers treat it exactly as if the readings had come one by one (use
    :func:`iter_readings`). ``source`` is who coalesced them (a component, e.g. ``sensing``).
    """

    schema_: Literal["edgebundle.reading-batch.v1"] = msgspec.field(name="schema")
    source: Annotated[str, Meta(min_length=1)]
    readings: Annotated[list[Reading], Meta(min_length=1)]


class Alert(_Envelope):
    """A rule's alert being raised or cleared."""

    alert_id: str
    rule_id: str
    severity: Severity
    state: Literal["raised", "cleared"]
    message: str
    reading: dict[str, Any] | None = None


class Health(_Envelope):
    """A component's or device's health snapshot."""

    metrics: dict[str, Any]


class Anomaly(_Envelope):
    """An anomaly score for one sensor window."""

    model: str
    model_version: str
    score: float
    threshold: float
    is_anomaly: bool
    window_start: float
    window_end: float
    inference_ms: float


class Inspection(_Envelope):
    """One part's inspection decision."""

    part_id: str
    probability: Annotated[float, Meta(ge=0.0, le=1.0)]
    decision: Literal["accept", "reject", "review"]
    model: str
    model_version: str
    latency_ms: float


class ImageMessage(_Envelope):
    """One image for a hosted image model: ``height`` x ``width`` x ``channels`` (1 grey, 3 RGB)
    uint8 pixels, row-major, base64 in ``data`` (``encoding`` ``raw``). ``partId``: optional, carried
    into the prediction."""

    width: Annotated[int, Meta(ge=1, le=4096)]
    height: Annotated[int, Meta(ge=1, le=4096)]
    channels: Literal[1, 3]
    encoding: Literal["raw"]
    data: str
    part_id: str | None = None


class PredictionMessage(_Envelope):
    """A hosted image model's result for one image; ``source`` is the image's source.

    ``kind`` says which result field is set: ``score``, ``classes`` (top-k ``{label,
    probability}``), ``detections`` (``{label, classId, score, box}``) or ``outputs`` (raw arrays).
    """

    model: str
    model_version: str
    kind: Literal["score", "classification", "detection", "raw"]
    image_seq: int
    inference_ms: float
    score: float | None = None
    classes: list[dict[str, Any]] | None = None
    detections: list[dict[str, Any]] | None = None
    outputs: list[Any] | None = None
    part_id: str | None = None


class ActuatorChange(_Envelope):
    """An actuator turned on or off, and why."""

    actuator: str
    on: bool
    reason: str


class ReplayRange(_Message):
    """Sequence numbers of one source asked for again: ``first`` to ``last`` inclusive
    (``last`` None: up to the newest the producer holds)."""

    source: Annotated[str, Meta(min_length=1)]
    first: Annotated[int, Meta(ge=0)]
    last: Annotated[int, Meta(ge=0)] | None = None


class ReplayRequest(_Envelope):
    """A consumer (Sync) asks the producer of ``topic`` to publish some of its messages again.

    ``ranges`` name what is missing per source. ``others``: also everything held of any source
    not named in ``ranges`` or ``exclude`` (a consumer that was down does not know which sources
    appeared meanwhile). The producer answers on its replay topic with ``requestId`` repeated.
    """

    request_id: Annotated[str, Meta(min_length=1, max_length=128)]
    topic: Annotated[str, Meta(min_length=1)]
    ranges: list[ReplayRange] = []
    others: bool = False
    exclude: list[str] = []


class ReplayMissing(_Message):
    """Part of a requested range the producer cannot publish again, and why.

    ``evicted``: the producer published them in its current run but they left its replay window
    (count, age) before they were asked for: ``count`` messages lost. ``notHeld``: numbers below
    the first the producer holds from its current run (a previous run's, or never used, since a
    restarted producer starts numbering higher): nothing it can tell, ``count`` is None.
    """

    source: Annotated[str, Meta(min_length=1)]
    first: Annotated[int, Meta(ge=0)]
    last: Annotated[int, Meta(ge=0)]
    reason: Literal["evicted", "notHeld"]
    count: Annotated[int, Meta(ge=0)] | None = None


class Replay(_Envelope):
    """Messages of ``topic`` published again for request ``requestId``, each exactly as first
    published (its own schema, ``source``, ``seq``, ``ts``), oldest first per source.

    A long answer comes in several messages; the one with ``final: true`` is the last and
    carries ``missing``, what the producer could not publish again.
    """

    request_id: str
    topic: Annotated[str, Meta(min_length=1)]
    messages: list[dict[str, Any]] = []
    missing: list[ReplayMissing] = []
    final: bool = True


_Model = TypeVar("_Model", bound=_Message)

_MODELS: dict[str, type[_Envelope]] = {
    READING_V1: Reading,
    ALERT_V1: Alert,
    HEALTH_V1: Health,
    ANOMALY_V1: Anomaly,
    INSPECTION_V1: Inspection,
    IMAGE_V1: ImageMessage,
    PREDICTION_V1: PredictionMessage,
    ACTUATOR_V1: ActuatorChange,
    REPLAY_REQUEST_V1: ReplayRequest,
    REPLAY_V1: Replay,
}


def parse_message(raw: Any) -> _Envelope:
    """Validate a decoded JSON message against the schema it names.

    Raises:
        MessageError: not an object, an unknown ``schema``, or a field of the wrong type; the
            message names the schema and the field.
    """
    if not isinstance(raw, dict):
        raise MessageError(f"expected a JSON object, got {type(raw).__name__}")
    schema = raw.get("schema")
    model = _MODELS.get(schema) if isinstance(schema, str) else None
    if model is None or not isinstance(schema, str):
        raise MessageError(f"unknown schema {schema!r}; expected one of {sorted(_MODELS)}")
    return _validate(model, raw, schema)


def _validate(model: type[_Model], raw: dict[str, Any], schema: str) -> _Model:
    try:
        # Not strict: numbers written as strings pass, as they did before (never lose a reading
        # a producer meant to send over a formatting slip).
        return msgspec.convert(raw, model, strict=False)
    except msgspec.ValidationError as err:
        where, what, _ = locate_error(err, raw)
        raise MessageError(f"{schema}: field {where!r}: {what}") from err


def reading_items(raw: Any) -> list[tuple[Reading, dict[str, Any]]]:
    """Every reading in a message of the readings topic, validated, each with its own raw dict.

    ``raw`` is either one ``edgebundle.reading.v1`` or an ``edgebundle.reading-batch.v1``. A
    batch is validated whole before anything is returned: a message is either accepted with
    all its readings or refused, never half taken. The raw dicts are the very objects inside
    ``raw`` (for consumers that store a reading as it came).

    Raises:
        MessageError: not an object, another schema, or a bad field; the message names the
            field (``readings.3.values`` for the fourth reading of a batch).
    """
    if not isinstance(raw, dict):
        raise MessageError(f"expected a JSON object, got {type(raw).__name__}")
    schema = raw.get("schema")
    if schema == READING_V1:
        return [(_validate(Reading, raw, READING_V1), raw)]
    if schema != READING_BATCH_V1:
        raise MessageError(
            f"schema {schema!r} is not a reading; expected {READING_V1!r} or {READING_BATCH_V1!r}"
        )
    batch = _validate(ReadingBatch, raw, READING_BATCH_V1)
    for index, reading in enumerate(batch.readings):
        if reading.schema_ != READING_V1:
            raise MessageError(
                f"{READING_BATCH_V1}: field 'readings.{index}.schema': "
                f"{reading.schema_!r}, expected {READING_V1!r}"
            )
    return list(zip(batch.readings, raw["readings"], strict=True))


def iter_readings(raw: Any) -> Iterator[Reading]:
    """The readings in a message of the readings topic: one for a reading, every one of a batch.

    Validation happens in this call, before the first reading is taken (see
    :func:`reading_items`), so ``try: readings = iter_readings(raw)`` catches every error.

    Raises:
        MessageError: as :func:`reading_items`.
    """
    return iter([reading for reading, _ in reading_items(raw)])


def reading_message(
    source: str,
    seq: int,
    ts: float,
    kind: str,
    values: dict[str, float | None],
    units: dict[str, str],
    quality: Quality = "good",
    **extra: Any,
) -> dict[str, Any]:
    """Build a reading message (see :class:`Reading`); a failed read's ``error`` is cut to
    ``wire_limits.MAX_TEXT_CHARS`` (a driver's message has no bound of its own)."""
    if isinstance(extra.get("error"), str):
        extra["error"] = clip_text(extra["error"])
    return {
        "schema": READING_V1,
        "source": source,
        "seq": seq,
        "ts": ts,
        "kind": kind,
        "values": values,
        "units": units,
        "quality": quality,
        **extra,
    }


def reading_batch_message(source: str, readings: list[dict[str, Any]]) -> dict[str, Any]:
    """Build a reading batch (see :class:`ReadingBatch`) from reading messages, kept in order."""
    return {"schema": READING_BATCH_V1, "source": source, "readings": readings}


def alert_message(
    source: str,
    seq: int,
    ts: float,
    alert_id: str,
    rule_id: str,
    severity: Severity,
    state: Literal["raised", "cleared"],
    message: str,
    reading: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build an alert message (see :class:`Alert`); ``message`` is cut to twice
    ``wire_limits.MAX_TEXT_CHARS`` (it names a rule and a sensor, and may quote a driver's error)."""
    return {
        "schema": ALERT_V1,
        "source": source,
        "seq": seq,
        "ts": ts,
        "alertId": alert_id,
        "ruleId": rule_id,
        "severity": severity,
        "state": state,
        "message": clip_text(message, 2 * MAX_TEXT_CHARS),
        "reading": reading,
    }


def health_message(source: str, seq: int, ts: float, metrics: dict[str, Any]) -> dict[str, Any]:
    """Build a health message (see :class:`Health`).

    Every string in ``metrics`` is cut to ``wire_limits.MAX_TEXT_CHARS``: a health document
    carries the last error of a driver, a camera or the cloud, whose length nobody bounds, and
    the message must stay within the wire limit whatever they said.
    """
    return {"schema": HEALTH_V1, "source": source, "seq": seq, "ts": ts, "metrics": clip_strings(metrics)}


def anomaly_message(
    source: str,
    seq: int,
    ts: float,
    *,
    model: str,
    model_version: str,
    score: float,
    threshold: float,
    window_start: float,
    window_end: float,
    inference_ms: float,
) -> dict[str, Any]:
    """Build an anomaly message (see :class:`Anomaly`)."""
    return {
        "schema": ANOMALY_V1,
        "source": source,
        "seq": seq,
        "ts": ts,
        "model": model,
        "modelVersion": model_version,
        "score": score,
        "threshold": threshold,
        "isAnomaly": score >= threshold,
        "windowStart": window_start,
        "windowEnd": window_end,
        "inferenceMs": inference_ms,
    }


def inspection_message(
    source: str,
    seq: int,
    ts: float,
    *,
    part_id: str,
    probability: float,
    decision: Literal["accept", "reject", "review"],
    model: str,
    model_version: str,
    latency_ms: float,
    **extra: Any,
) -> dict[str, Any]:
    """Build an inspection decision message (see :class:`Inspection`); a ``reason`` is cut to
    ``wire_limits.MAX_TEXT_CHARS`` (it quotes a camera's or a frame's error)."""
    if isinstance(extra.get("reason"), str):
        extra["reason"] = clip_text(extra["reason"])
    return {
        "schema": INSPECTION_V1,
        "source": source,
        "seq": seq,
        "ts": ts,
        "partId": part_id,
        "probability": probability,
        "decision": decision,
        "model": model,
        "modelVersion": model_version,
        "latencyMs": latency_ms,
        **extra,
    }


def actuator_message(
    source: str, seq: int, ts: float, actuator: str, on: bool, reason: str
) -> dict[str, Any]:
    """Build an actuator state change message (see :class:`ActuatorChange`); ``reason`` is cut to
    twice ``wire_limits.MAX_TEXT_CHARS`` (it lists the alerts that lit the LED, however many)."""
    return {
        "schema": ACTUATOR_V1,
        "source": source,
        "seq": seq,
        "ts": ts,
        "actuator": actuator,
        "on": on,
        "reason": clip_text(reason, 2 * MAX_TEXT_CHARS),
    }


def prediction_message(
    source: str,
    seq: int,
    ts: float,
    *,
    model: str,
    model_version: str,
    kind: str,
    image_seq: int,
    inference_ms: float,
    result: dict[str, Any],
    part_id: str | None = None,
) -> dict[str, Any]:
    """Build a prediction message (see :class:`PredictionMessage`); ``result`` is
    :meth:`~components.common.model_interpret.Prediction.to_json` for ``kind``."""
    message = {
        "schema": PREDICTION_V1,
        "source": source,
        "seq": seq,
        "ts": ts,
        "model": model,
        "modelVersion": model_version,
        "kind": kind,
        "imageSeq": image_seq,
        "inferenceMs": inference_ms,
        **result,
    }
    if part_id is not None:
        message["partId"] = part_id
    return message


def replay_request_message(
    source: str,
    seq: int,
    ts: float,
    *,
    request_id: str,
    topic: str,
    ranges: list[tuple[str, int, int | None]],
    others: bool = False,
    exclude: list[str] | None = None,
) -> dict[str, Any]:
    """Build a replay request (see :class:`ReplayRequest`); ``ranges`` are ``(source, first, last)``."""
    return {
        "schema": REPLAY_REQUEST_V1,
        "source": source,
        "seq": seq,
        "ts": ts,
        "requestId": request_id,
        "topic": topic,
        "ranges": [{"source": src, "first": first, "last": last} for src, first, last in ranges],
        "others": others,
        "exclude": list(exclude or ()),
    }


def replay_message(
    source: str,
    seq: int,
    ts: float,
    *,
    request_id: str,
    topic: str,
    messages: list[dict[str, Any]],
    missing: list[dict[str, Any]],
    final: bool,
) -> dict[str, Any]:
    """Build one message of a replay (see :class:`Replay`); ``missing`` as :class:`ReplayMissing` dicts."""
    return {
        "schema": REPLAY_V1,
        "source": source,
        "seq": seq,
        "ts": ts,
        "requestId": request_id,
        "topic": topic,
        "messages": messages,
        "missing": missing,
        "final": final,
    }
