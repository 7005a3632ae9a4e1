"""Batch encoding: exact round trips (hypothesis), the bytes-per-reading target, and damaged input."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.common.messages import Quality, reading_message
from components.sync.encoding import decode_batch, encode_batch, quantize
from components.sync.exceptions import EncodingError

from .conftest import alert, reading

finite = st.floats(allow_nan=False, allow_infinity=False)
value = st.one_of(
    st.none(),
    finite,
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False),  # infinities take the raw float64 path
    st.decimals(min_value=-10000, max_value=10000, places=2, allow_nan=False, allow_infinity=False).map(
        float
    ),
)
field_name = st.sampled_from(["temperature", "humidity", "pressure", "x y", "ünits"])


@st.composite
def reading_batches(draw: st.DrawFn) -> list[dict]:
    source = draw(st.text(min_size=1, max_size=8))
    count = draw(st.integers(min_value=1, max_value=40))
    seqs = sorted(draw(st.lists(st.integers(0, 2**40), min_size=count, max_size=count, unique=True)))
    ts = draw(st.lists(st.one_of(finite, st.integers(0, 2**31)), min_size=count, max_size=count))
    records = []
    for seq, stamp in zip(seqs, ts, strict=True):
        values = draw(st.dictionaries(field_name, value, max_size=3))
        units = {name: "u" for name in values}
        extra = draw(st.dictionaries(st.sampled_from(["partId", "note"]), st.text(max_size=4), max_size=1))
        quality: Quality = draw(st.sampled_from(["good", "bad", "stale"]))
        records.append(reading_message(source, seq, stamp, "k", values, units, quality, **extra))
    return records


@settings(max_examples=60, deadline=None)
@given(records=reading_batches(), compression=st.sampled_from(["zstd", "gzip"]))
def test_reading_batches_round_trip_exactly(records: list[dict], compression: str) -> None:
    # GIVEN any readings of one source  WHEN encoded and decoded  THEN every value is reproduced
    blob = encode_batch("readings", records, compression)
    assert decode_batch(blob) == records


json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | finite | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=40, deadline=None)
@given(
    records=st.lists(st.dictionaries(st.text(max_size=5), json_value, max_size=4), min_size=1, max_size=10)
)
def test_any_json_objects_round_trip_as_json_lines(records: list[dict]) -> None:
    assert decode_batch(encode_batch("health", records)) == records


def test_encoding_is_deterministic_so_a_retry_writes_the_same_bytes() -> None:
    records = [reading(i) for i in range(100)]
    assert encode_batch("readings", records) == encode_batch("readings", list(records))
    assert encode_batch("readings", records, "gzip") == encode_batch("readings", records, "gzip")


def test_mixed_sources_and_alerts_fall_back_to_json_lines() -> None:
    records = [reading(1, "a"), reading(2, "b"), alert(3)]
    assert decode_batch(encode_batch("mixed", records)) == records


def test_steady_10hz_readings_take_under_two_bytes_each_at_full_resolution() -> None:
    # GIVEN an hour-long 10 Hz DHT22-like signal at the sensor's 0.1 resolution, ms timestamps
    rng = random.Random(7)
    temperature, humidity = 21.0, 45.0
    records = []
    for i in range(36_000):
        temperature += rng.gauss(0, 0.02)
        humidity += rng.gauss(0, 0.03)
        values: dict[str, float | None] = {
            "temperature": round(temperature, 1),
            "humidity": round(humidity, 1),
        }
        records.append(
            reading_message(
                "dht-1",
                i,
                round(1764331200 + i / 10, 3),
                "dht22",
                values,
                {"temperature": "C", "humidity": "%"},
            )
        )
    blob = encode_batch("readings", records)
    # THEN each reading costs under 2 bytes, and nothing of the sensor's resolution is lost
    assert len(blob) / len(records) < 2.0
    assert decode_batch(blob) == records


def test_resolution_rounds_to_the_sensor_grid() -> None:
    record = reading(1, temperature=21.04999, humidity=40.26)
    rounded = quantize(record, {"temperature": 0.1, "humidity": 0.5})
    assert rounded["values"] == {"temperature": 21.0, "humidity": 40.5}
    assert (
        decode_batch(encode_batch("readings", [record], resolution={"temperature": 0.1}))[0]["values"][
            "temperature"
        ]
        == 21.0
    )


def test_resolution_keeps_values_its_grid_cannot_hold() -> None:
    # GIVEN values where value / step overflows (or is not a float at all) and a normal one
    huge = 4.49423283715579e307
    record = reading(1, a=huge, b=float("inf"), c=21.04)
    record["values"]["d"] = 10**400
    # WHEN quantized and encoded with a resolution for each  THEN those are kept, not an error
    rounded = quantize(record, {"a": 0.25, "b": 0.1, "c": 0.1, "d": 0.5})
    assert rounded["values"] == {"a": huge, "b": float("inf"), "c": 21.0, "d": 10**400}
    blob = encode_batch("readings", [reading(1, a=huge, c=21.04)], resolution={"a": 0.25, "c": 0.1})
    assert decode_batch(blob)[0]["values"] == {"a": huge, "c": 21.0}


@pytest.mark.parametrize(
    ("blob", "problem"),
    [
        (b"", "expected zstd or gzip"),
        (b"hello world", "expected zstd or gzip"),
        (b"\x28\xb5\x2f\xfd garbage", "does not decompress"),
    ],
)
def test_damaged_blobs_are_refused_by_name(blob: bytes, problem: str) -> None:
    with pytest.raises(EncodingError, match=problem):
        decode_batch(blob)


def test_truncated_batch_is_refused() -> None:
    import zstandard

    from components.sync.encoding import decompress

    raw = decompress(encode_batch("readings", [reading(i) for i in range(10)]))
    with pytest.raises(EncodingError):
        decode_batch(zstandard.ZstdCompressor().compress(raw[:-5]))


def test_empty_batch_and_unknown_compression_are_refused() -> None:
    with pytest.raises(EncodingError, match="at least one record"):
        encode_batch("readings", [])
    with pytest.raises(EncodingError, match="unknown compression 'lz4'"):
        encode_batch("readings", [reading(1)], "lz4")
