"""Message schemas: builders produce what parsers accept; bad messages name the field."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.common import messages


def test_reading_round_trip() -> None:
    raw = messages.reading_message("line1", 3, 1.5, "dht22", {"temperature": 21.0}, {"temperature": "C"})
    parsed = messages.parse_message(raw)
    assert isinstance(parsed, messages.Reading)
    assert parsed.values == {"temperature": 21.0}


def test_unknown_schema_is_named() -> None:
    with pytest.raises(messages.MessageError, match="unknown schema 'nope'"):
        messages.parse_message({"schema": "nope"})


def test_wrong_field_is_named() -> None:
    raw = messages.reading_message("line1", 3, 1.5, "dht22", {"t": 1.0}, {"t": "C"})
    raw["seq"] = -1
    with pytest.raises(messages.MessageError, match="field 'seq'"):
        messages.parse_message(raw)


def test_not_an_object() -> None:
    with pytest.raises(messages.MessageError, match="expected a JSON object, got list"):
        messages.parse_message([1, 2])


@given(
    prob=st.floats(min_value=0.0, max_value=1.0),
    seq=st.integers(min_value=0, max_value=2**53),
    decision=st.sampled_from(["accept", "reject", "review"]),
)
def test_inspection_builder_always_parses(prob: float, seq: int, decision: str) -> None:
    raw = messages.inspection_message(
        "inspection",
        seq,
        0.0,
        part_id="p1",
        probability=prob,
        decision=decision,  # type: ignore[arg-type]
        model="defect",
        model_version="1",
        latency_ms=1.0,
    )
    assert messages.parse_message(raw).seq == seq


def test_every_builder_parses_into_its_model_with_camel_case_fields() -> None:
    # The builders write the wire names (alertId, modelVersion, isAnomaly, ...); the models must
    # read exactly those, or a consumer would refuse every message of that schema.
    built = {
        messages.Alert: messages.alert_message("line1", 1, 2.0, "a:line1", "a", "critical", "raised", "hot"),
        messages.Health: messages.health_message("sensing", 1, 2.0, {"cpu": 3}),
        messages.Anomaly: messages.anomaly_message(
            "line1",
            1,
            2.0,
            model="m",
            model_version="3",
            score=0.9,
            threshold=0.5,
            window_start=1.0,
            window_end=2.0,
            inference_ms=0.2,
        ),
        messages.ActuatorChange: messages.actuator_message("sensing", 1, 2.0, "alert-led", True, "alerts"),
    }
    for model, raw in built.items():
        parsed = messages.parse_message(raw)
        assert isinstance(parsed, model)
    alert = messages.parse_message(built[messages.Alert])
    assert isinstance(alert, messages.Alert) and (alert.alert_id, alert.rule_id) == ("a:line1", "a")
    anomaly = messages.parse_message(built[messages.Anomaly])
    assert isinstance(anomaly, messages.Anomaly) and anomaly.is_anomaly and anomaly.model_version == "3"


def test_fields_added_within_a_major_version_are_ignored() -> None:
    raw = messages.reading_message("line1", 3, 1.5, "dht22", {"t": 1.0}, {"t": "C"}, firmware="2.1")
    assert messages.parse_message(raw).seq == 3


def test_a_bad_reading_inside_a_batch_is_named_by_its_index() -> None:
    good = messages.reading_message("line1", 1, 1.0, "dht22", {"t": 1.0}, {"t": "C"})
    bad = messages.reading_message("line1", 2, 1.0, "dht22", {"t": "warm"}, {"t": "C"})  # type: ignore[dict-item]
    batch = messages.reading_batch_message("sensing", [good, good, bad])
    with pytest.raises(
        messages.MessageError, match=r"field 'readings\.2\.values\.\*': Expected `float \| null`"
    ):
        messages.reading_items(batch)


def test_a_number_written_as_a_string_is_accepted_as_before() -> None:
    raw = messages.reading_message("line1", 3, 1.5, "dht22", {"t": 1.0}, {"t": "C"})
    raw["seq"] = "4"
    assert messages.parse_message(raw).seq == 4
