"""Batch encoding: golden bytes, so a rewrite of the encoder keeps writing exactly today's objects.

Batches already in S3 (and ones re-encoded after a crash, which must match the first upload's bytes)
are read by :func:`decode_batch`; the expected digests below were produced by the original numpy
encoder. Each case hashes the *uncompressed* batch (the layout this module owns; the compressed bytes
also depend on the zstd/zlib library version) and the decoded records as canonical JSON (so decoding
is pinned too, NaN and -0.0 included).

To add a case: add it to ``_cases`` and run this file; the failure message prints its digests.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.common.messages import (
    Quality,
    alert_message,
    health_message,
    inspection_message,
    reading_message,
)
from components.sync.encoding import decode_batch, decompress, encode_batch

T0 = 1764331200.0
MAX_TESTED_DECIMALS = 10  # one past the encoder's nine: that field must go raw


def _steady(count: int, source: str = "dht-1", seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    temperature, humidity = 21.0, 45.0
    records = []
    for i in range(count):
        temperature += rng.gauss(0, 0.05)
        humidity += rng.gauss(0, 0.08)
        records.append(
            reading_message(
                source,
                i,
                round(T0 + i / 10, 3),
                "dht22",
                {"temperature": round(temperature, 1), "humidity": round(humidity, 1)},
                {"temperature": "C", "humidity": "%"},
            )
        )
    return records


def _decimals_mix() -> list[dict[str, Any]]:
    """Each field needs a different number of decimals, 0 to 9, and one needs raw float64."""
    rng = random.Random(11)
    records = []
    for i in range(60):
        values: dict[str, float | None] = {
            f"d{d}": round(rng.uniform(-1000, 1000), d) for d in range(MAX_TESTED_DECIMALS + 1)
        }
        values["raw"] = rng.random() * math.pi  # ~16 significant digits: no decimal grid fits
        values["int"] = rng.randint(-(10**6), 10**6)
        records.append(reading_message("mix", 1000 + i * 3, T0 + i * 0.25, "mix", values, {"d0": "x"}))
    return records


def _specials() -> list[dict[str, Any]]:
    """NaN, infinities, None, absent fields, -0.0, subnormals and the largest floats."""
    cycle: list[float | None] = [
        float("nan"),
        float("inf"),
        float("-inf"),
        None,
        -0.0,
        0.0,
        5e-324,
        1.7976931348623157e308,
        -2.2250738585072014e-308,
        1.5,
    ]
    records = []
    for i, special in enumerate(cycle * 3):
        values: dict[str, float | None] = {"a": special, "b": 20.5 + i / 10}
        if i % 4 == 0:
            values["c"] = None
        if i % 5 == 0:
            del values["b"]
        records.append(reading_message("sp", i, T0 + i, "k", values, {"a": "u"}))
    return records


def _large_ints() -> list[dict[str, Any]]:
    """Integers at and past float64's exact range, and seqs at the layout's limits."""
    numbers = [2**53, -(2**53), 2**53 - 1, -(2**53) + 1, 2**60, 10**15, -(10**17), 0, 1, -1, 2**52 + 1]
    seqs = [2**61 - 1, -(2**61) + 1, 2**61 - 1, 0, -(2**61) + 1, 5, 2**40, -(2**40), 7, 2**61 - 2, 3]
    return [
        reading_message("big", seq, 1_700_000_000 + i, "k", {"n": n, "m": -n}, {"n": "count"})
        for i, (n, seq) in enumerate(zip(numbers, seqs, strict=True))
    ]


def _near_limit() -> list[dict[str, Any]]:
    """Scaled integers just under 2**53 with alternating signs (the widest deltas), and values
    whose needed decimals would scale them past 2**53 (raw float64)."""
    top = 2**53 - 1
    records = []
    for i in range(12):
        sign = 1 if i % 2 else -1
        values: dict[str, float | None] = {
            "wide": sign * (top - i),
            "tenths": sign * (top - i) / 10,
            "past": 123456789.12345679 + i,
        }
        records.append(reading_message("lim", i, T0 + i / 100, "k", values, {}))
    return records


def _negative_deltas() -> list[dict[str, Any]]:
    """Time and seq going backwards, values falling, a clock step."""
    records = []
    for i in range(50):
        ts = T0 - i * 0.1 if i < 25 else T0 + 3600.0 + i * 0.001
        records.append(
            reading_message("back", 10_000 - i * i, round(ts, 3), "k", {"v": 100.0 - i * 1.25}, {"v": "V"})
        )
    return records


def _varied_text() -> list[dict[str, Any]]:
    """Several kinds, qualities, units and extra keys (dictionary columns), unicode included."""
    rng = random.Random(3)
    kinds = ["dht22", "bme280", "ärger", "x y"]
    qualities: list[Quality] = ["good", "bad", "stale"]
    records = []
    for i in range(80):
        units = {"t": rng.choice(["C", "F", "°C"])}
        extra: dict[str, Any] = {}
        if i % 3 == 0:
            extra["partId"] = f"p{i % 4}"
        if i % 7 == 0:
            extra["note"] = {"nested": [1, 2, {"x": None}]}
        records.append(
            reading_message(
                "txt",
                i,
                T0 + i / 3,
                rng.choice(kinds),
                {"t": round(rng.uniform(-40, 80), 2)},
                units,
                rng.choice(qualities),
                **extra,
            )
        )
    return records


def _sparse_fields() -> list[dict[str, Any]]:
    """Fields that come and go, one that is always None, and a record with no values."""
    records = []
    for i in range(30):
        values: dict[str, float | None] = {"never": None}
        if i % 2:
            values["odd"] = i * 1.5
        if i % 3 == 0:
            values["third"] = -i
        records.append(reading_message("sparse", i, T0 + i, "k", values if i != 13 else {}, {}))
    return records


def _int_timestamps() -> list[dict[str, Any]]:
    return [reading_message("ints", i, 1_700_000_000 + 2 * i, "k", {"v": i}, {"v": "u"}) for i in range(20)]


def _fine_timestamps() -> list[dict[str, Any]]:
    """Microsecond timestamps (6 decimals) and nanosecond-ish ones that need raw float64."""
    records = [reading_message("us", i, T0 + i * 0.000123, "k", {"v": 1.0}, {}) for i in range(10)]
    return records + [reading_message("us", 10 + i, T0 + i * math.e, "k", {"v": 2.0}, {}) for i in range(5)]


def _other_streams() -> list[tuple[str, list[dict[str, Any]]]]:
    alerts = [
        alert_message("rules", i, T0 + i, f"a{i}", "hot", "critical", "raised", "too hot", _steady(1)[0])
        for i in range(5)
    ]
    health = [
        health_message("gw", i, T0 + 60 * i, {"cpu": 12.5 + i, "mem": 40_000_000 + i, "ok": True, "x": None})
        for i in range(5)
    ]
    inspections = [
        inspection_message(
            "cam",
            i,
            T0 + i,
            part_id=f"p{i}",
            probability=i / 7,
            decision="reject" if i % 2 else "accept",
            model="m",
            model_version="1",
            latency_ms=3.25,
        )
        for i in range(5)
    ]
    mixed_sources = _steady(3, "a") + _steady(3, "b")
    bool_value = [reading_message("b", 1, T0, "k", {"on": True}, {})]
    return [
        ("alerts", alerts),
        ("health", health),
        ("inspections", inspections),
        ("readings", mixed_sources),
        ("readings", bool_value),
    ]


def _cases() -> dict[str, tuple[str, list[dict[str, Any]], dict[str, float] | None]]:
    cases: dict[str, tuple[str, list[dict[str, Any]], dict[str, float] | None]] = {
        "steady": ("readings", _steady(300), None),
        "single": ("readings", _steady(1), None),
        "decimals": ("readings", _decimals_mix(), None),
        "specials": ("readings", _specials(), None),
        "large_ints": ("readings", _large_ints(), None),
        "near_limit": ("readings", _near_limit(), None),
        "negative_deltas": ("readings", _negative_deltas(), None),
        "varied_text": ("readings", _varied_text(), None),
        "sparse": ("readings", _sparse_fields(), None),
        "int_ts": ("readings", _int_timestamps(), None),
        "fine_ts": ("readings", _fine_timestamps(), None),
        "resolution": ("readings", _decimals_mix(), {"d5": 0.1, "raw": 0.25, "int": 10.0}),
    }
    for i, (stream, records) in enumerate(_other_streams()):
        cases[f"other_{i}_{stream}"] = (stream, records, None)
    return cases


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# name -> (sha256 of the uncompressed batch, sha256 of the decoded records as canonical JSON)
GOLDEN: dict[str, tuple[str, str]] = {
    "decimals": (
        "cdc047e26518f076cbb11b558fda52c7a3ee5c746ee623354e93e045ac50182e",
        "278b196adccc5e0e17237c8676c2087e8c352e2eab85d1f504a4f3a1b0e55125",
    ),
    "fine_ts": (
        "8ea71c0a1081503797eea9715cfc838c9038fe2868f326683c3a344b852d7644",
        "8a4a62e25b60ce7c9a205beccd791d0f30143a14c0af75a7ac3ea73ba91d3c5d",
    ),
    "int_ts": (
        "c433895a41233f9712c1befd572464db47986b516fb60cc6086f68a37bce7a3e",
        "242e63cfa3a66998fc51c1492062df735669a1cdec1ff339fe7fd62c28ed4f60",
    ),
    "large_ints": (
        "9eadf85c01ace1ebc16f1cad2c806bb4246cb328c6f6f5f4aed5ff1178879104",
        "be81d19ac719989cde40b27d5982bce34e920efc4fe54f571ec8514cc496815b",
    ),
    "near_limit": (
        "8e2d862f147caf83df29492918d6ad2417d222e30b9f380dc2a3df30a14d8a76",
        "9d11c3b4b3e518876de751786fc49ab110a09f74d263cb6377406ed1a03022fb",
    ),
    "negative_deltas": (
        "ca31004fab9ca454c92c7262fa83f3296c7a61fb82e041d599bb4dcf21a6f5a9",
        "26b6a9526c1e91e612c1d4dcc6981eb65fc8dddffe4e8b24e7af418f642b0fee",
    ),
    "other_0_alerts": (
        "74b557ac7074a767bd6519ef16d0083bc6b2335fca96c6eebbff789d1840b826",
        "296ce643cb5963b64ff4a5bf8daaa32a18c14f9eaa5f2050595941be6bda9439",
    ),
    "other_1_health": (
        "f3562b64432affe1909c68075a7fe1a1f8fb72f3d25e90f30ddce002766556ff",
        "cf9a910e3ae5fcd4594fd8ba4f6d4503677b315723ccbb16a240032d8ee48f06",
    ),
    "other_2_inspections": (
        "2bad7f6557a1dc50ef22302f216cdaeaf82f1f2d99bca4baa3855f0cf40cceb6",
        "c7652b0458ccea4023b1077fd38eeecff2fd6b87b2c8d467a143db56f42e8280",
    ),
    "other_3_readings": (
        "3777845a40405423ebc7645d9edd69be9134822abbb68431358b1d5926b80b9a",
        "28db76fb7c2dfaa3ad8c64c7d80ffdf5d7378cce87151a2cb585cfe09a2bc7cd",
    ),
    "other_4_readings": (
        "8f0394df5b3782fd857da488aaf8ef6412219bf6d83a3e4b700db82a15e950e9",
        "1a41e15999b5866fe5da731091b10af56a7fbfc1d2b31f7e491b656e5928dfac",
    ),
    "resolution": (
        "83a56c09fee0a79abf20740a29531cdc4c80958862736dff077a992719ba2deb",
        "974fc8c23595d6fc3fbcc8748af9f7e54ef6ff52e0f0135296bcf2ea07b8041e",
    ),
    "single": (
        "f7bf041cd6621e5a8231f68ac19cf70bf98ab07932153dde35889df35f976e1c",
        "782f368de241d4945371782a080cf4b8345c6f5101949a81d37f8c9f4a6a35a0",
    ),
    "sparse": (
        "e70f066af24adbd8d2c1389b57d9ffd402139ea08ab8adddd8c233ddfcf1d351",
        "3521b5df3e1bb194cdd11c53f1188091442104c58edb9177522b77d4b708c816",
    ),
    "specials": (
        "6e1adec5ddd402e03a8c8702c6e6b0eec24da798d18c103a0e7a84f055567631",
        "afa93b13b2dc5c144c512c367a9a640300233b38da95a0ddced28d9d1abe4e2c",
    ),
    "steady": (
        "1c6ca77f26c2d468749cb3455fa05e14d19f43dd648c4af433ed37e05489aa7d",
        "f5f516848ecabc2de254fe7f90b0754368a77f548916c1d9ec07897807d3ca0a",
    ),
    "varied_text": (
        "972453be6fd0b91a494580c54a22b41af53e61cce3d37077d62588cac7c5cad0",
        "fc5bd7d159ca3f05d48a7bfba2e1cb357fb422bf823284a2c44675f704a2f2f7",
    ),
}


@pytest.mark.parametrize("name", sorted(_cases()))
@pytest.mark.parametrize("compression", ["zstd", "gzip"])
def test_batch_bytes_and_decoded_records_match_the_original_encoder(name: str, compression: str) -> None:
    # GIVEN a batch built by the original (numpy) encoder's golden digests
    stream, records, resolution = _cases()[name]
    # WHEN it is encoded and decoded today
    blob = encode_batch(stream, records, compression, resolution)
    raw = decompress(blob)
    decoded = decode_batch(blob)
    got = (_digest(raw), _digest(json.dumps(decoded, sort_keys=True, allow_nan=True).encode()))
    # THEN the layout bytes and the decoded records are exactly the original ones
    assert got == GOLDEN.get(name), f"{name!r}: {got!r}"


def test_every_golden_case_is_checked() -> None:
    assert sorted(GOLDEN) == sorted(_cases())


_seq = st.integers(min_value=-(2**61) + 1, max_value=2**61 - 1)
_number = st.one_of(
    st.none(),
    st.floats(allow_nan=False),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.builds(round, st.floats(-1e6, 1e6), st.integers(0, 11)),  # 0..11 decimals
)


@st.composite
def _unordered_readings(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One source's readings with seqs and timestamps in any order, anywhere in the layout's range."""
    count = draw(st.integers(min_value=1, max_value=30))
    records = []
    for _ in range(count):
        values = draw(st.dictionaries(st.sampled_from(["a", "b", "c"]), _number, max_size=3))
        ts = draw(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**53), 2**53)))
        records.append(reading_message("s", draw(_seq), ts, "k", values, {}))
    return records


@settings(max_examples=150, deadline=None)
@given(records=_unordered_readings())
def test_readings_in_any_order_round_trip_exactly(records: list[dict[str, Any]]) -> None:
    # GIVEN readings whose seq and ts deltas are as wide as the layout allows  WHEN encoded and
    # decoded  THEN every record comes back equal
    assert decode_batch(encode_batch("readings", records)) == records
