"""The key scheme (hypothesis) and how the store cuts batches."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from components.sync.batching import batch_key, parse_batch_key, utc_day
from components.sync.store.base import NewRecord
from components.sync.store.sqlite import SqliteStore

names = st.text(min_size=1, max_size=12)
seqs = st.integers(min_value=0, max_value=10**16 - 1)
stamps = st.floats(min_value=0, max_value=4e9, allow_nan=False)


@settings(max_examples=200)
@given(
    thing=names,
    stream=names,
    source=names,
    a=seqs,
    b=seqs,
    ts=stamps,
    compression=st.sampled_from(["zstd", "gzip"]),
)
def test_keys_parse_back_to_their_parts(
    thing: str, stream: str, source: str, a: int, b: int, ts: float, compression: str
) -> None:
    first, last = min(a, b), max(a, b)
    key = batch_key("telemetry", thing, stream, source, first, last, ts, compression)
    parsed = parse_batch_key(key)
    assert parsed is not None
    assert (parsed.thing, parsed.stream, parsed.source) == (thing, stream, source)
    assert (parsed.first_seq, parsed.last_seq, parsed.day) == (first, last, utc_day(ts))
    assert key.startswith("telemetry/")
    assert f"/date={utc_day(ts)}/" in key


@settings(max_examples=200)
@given(source=names, a=seqs, b=seqs, ts=stamps)
def test_keys_sort_in_sequence_order_within_a_source_and_day(source: str, a: int, b: int, ts: float) -> None:
    key_a = batch_key("telemetry", "dev-1", "readings", source, a, a, ts, "zstd")
    key_b = batch_key("telemetry", "dev-1", "readings", source, b, b, ts, "zstd")
    assert (key_a < key_b) == (a < b)
    assert (key_a == key_b) == (a == b)  # the same batch always gets the same key


def _key(stream: str, source: str, first: int, last: int, ts: float) -> str:
    return batch_key("telemetry", "dev-1", stream, source, first, last, ts, "zstd")


def _records(source: str, seqs: list[int], ts_of: dict[int, float], size: int) -> list[NewRecord]:
    return [NewRecord("readings", 10, source, s, ts_of[s], time.time(), None, b"x" * size) for s in seqs]


@settings(max_examples=25, deadline=None)
@given(
    data=st.data(),
    count=st.integers(min_value=1, max_value=60),
    max_records=st.integers(min_value=1, max_value=25),
    max_bytes=st.integers(min_value=1, max_value=400),
    size=st.integers(min_value=1, max_value=50),
)
def test_batches_partition_the_records_in_order_within_limits_and_days(
    data: st.DataObject, count: int, max_records: int, max_bytes: int, size: int
) -> None:
    # GIVEN records of two sources over a UTC midnight
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "sync.db")
        midnight = 1764374400.0  # 2025-11-29T00:00:00Z
        ts_of = {s: midnight - 30 + s * data.draw(st.sampled_from([0.5, 1.0, 2.0])) for s in range(count)}
        sources = data.draw(st.lists(st.sampled_from(["a", "b"]), min_size=count, max_size=count))
        for source in ("a", "b"):
            mine = [s for s in range(count) if sources[s] == source]
            store.add(_records(source, mine, ts_of, size), {})
        # WHEN every ready batch is planned
        batches = []
        while (batch := store.plan_batch(
            "readings", max_records=max_records, max_bytes=max_bytes, min_age_seconds=0, now=time.time() + 1,
            key_for=_key,
        )) is not None:  # fmt: skip
            batches.append((batch, store.batch_records(batch.id)))
        # THEN each record is in exactly one batch, batches hold one source, consecutive, one day, in limits
        seen = sorted((r.source, r.seq) for _b, records in batches for r in records)
        assert seen == sorted((sources[s], s) for s in range(count))
        for batch, records in batches:
            assert {r.source for r in records} == {batch.source}
            assert [r.seq for r in records] == sorted(r.seq for r in records)
            assert (records[0].seq, records[-1].seq, len(records)) == (
                batch.first_seq,
                batch.last_seq,
                batch.count,
            )
            assert len({utc_day(r.ts) for r in records}) == 1
            assert len(records) <= max_records
            assert len(records) == 1 or len(records) * size <= max_bytes
            assert batch.key == _key("readings", batch.source, batch.first_seq, batch.last_seq, records[0].ts)
        assert len({b.key for b, _ in batches}) == len(batches)
        store.close()
