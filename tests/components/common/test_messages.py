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
