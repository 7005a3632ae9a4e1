"""Sync pipeline benchmark: ingest, offline drain and bytes per reading, ours against a naive design.

Run: ``.venv/bin/python benchmarks/sync_pipeline.py [--drain-records 360000] [--ipc-messages 20000]``

Measured side by side in one run (numbers vary with the machine; ratios are the point):

(a) ingest: messages published over localcore's real IPC server (awsiotsdk clients on both ends)
    into the store, committed records/s and memory; next to the IPC ceiling (the same producer
    into a subscriber that only counts) and the naive store (one INSERT + COMMIT per record).
    Also the store alone: group commit vs one commit (fsync) per row.
(b) drain: one hour of 100 Hz readings (360,000 records) buffered offline, uploaded to the
    embedded cloud's S3 (moto server over HTTP); ours (delta-column batches, zstd) vs naive
    (SELECT every row, one JSON object per reading in one upload, then UPDATE synced).
(c) bytes uploaded per reading for steady 10 Hz sensor data at full resolution: ours, JSON lines,
    and zstd of JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

from bundledev.cloud_description import describe_bundle
from bundlespec import load_spec
from components.common import topics
from components.common.ipc import ComponentIpc
from components.common.live_config import validate_config
from components.common.messages import reading_message
from components.sync.budget import BandwidthLimiter, DailyBudget
from components.sync.component import SyncComponent
from components.sync.config import BatchSettings, SyncConfig, effective_policies
from components.sync.encoding import encode_batch
from components.sync.link import LinkMonitor
from components.sync.sinks import MemoryMessageSink, MemoryObjectSink, S3ObjectSink
from components.sync.store.base import NewRecord
from components.sync.store.sqlite import SqliteStore
from components.sync.uploader import Uploader, UploadTargets

T0 = 1764331200.0  # 2025-11-28T12:00:00Z
TARGETS = UploadTargets("dev-1", "telemetry", "images", "edgebundle/{thing}/alerts")
THING = TARGETS.thing


def steady_readings(count: int, hz: float, source: str = "dht-1") -> list[dict[str, Any]]:
    """A DHT22-like signal at the sensor's 0.1 resolution, millisecond timestamps."""
    rng = random.Random(1)
    temperature, humidity = 21.0, 45.0
    out = []
    for i in range(count):
        temperature += rng.gauss(0, 0.02)
        humidity += rng.gauss(0, 0.03)
        out.append(
            reading_message(
                source,
                i,
                round(T0 + i / hz, 3),
                "dht22",
                {"temperature": round(temperature, 1), "humidity": round(humidity, 1)},
                {"temperature": "C", "humidity": "%"},
            )
        )
    return out


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 1e6


# --- naive store ---------------------------------------------------------------------------------------
class NaiveStore:
    """One row per reading as a JSON object, one commit per row, a ``synced`` flag."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT, synced INTEGER DEFAULT 0)"
        )
        self.lock = threading.Lock()
        self.count = 0

    def insert(self, message: Any) -> None:
        with self.lock:
            self.db.execute("BEGIN")
            self.db.execute("INSERT INTO rows (body) VALUES (?)", (json.dumps(message),))
            self.db.execute("COMMIT")
            self.count += 1

    def bulk_load(self, messages: list[dict[str, Any]]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO rows (body) VALUES (?)", [(json.dumps(m),) for m in messages])
        self.db.execute("COMMIT")

    def drain(self, s3: Any, bucket: str) -> int:
        rows = self.db.execute("SELECT id, body FROM rows WHERE synced = 0").fetchall()
        body = "\n".join(b for _id, b in rows).encode()
        s3.put_object(Bucket=bucket, Key="naive/all.jsonl", Body=body)
        self.db.execute("BEGIN")
        self.db.executemany("UPDATE rows SET synced = 1 WHERE id = ?", [(i,) for i, _b in rows])
        self.db.execute("COMMIT")
        return len(body)


# --- (a) ingest ------------------------------------------------------------------------------------------
def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        if predicate():
            return True
        pause.wait(0.01)
    return False


def bench_ingest(root: Path, messages: int) -> list[tuple[str, float, str]]:
    from localcore.ipc.testing import ipc_server

    sub_acl = {"aws.greengrass.ipc.pubsub": {"s": {"operations": ["*"], "resources": ["*"]}}}
    payloads = steady_readings(messages, 100.0)
    results: list[tuple[str, float, str]] = []

    def run(label: str, sink: Any, done: Any) -> None:
        with ipc_server(root / label, components={"bench.Sync": sub_acl, "bench.Producer": sub_acl}) as core:
            ipc = ComponentIpc(core.client("bench.Sync"), "bench.Sync", "dev-1")
            subscription = ipc.subscribe_json(topics.READINGS, sink)
            producer = core.client("bench.Producer")
            before = rss_mb()
            started = time.perf_counter()
            pending = []
            for message in payloads:
                pending.append(
                    producer.publish_to_topic_async(
                        topic=topics.READINGS,
                        publish_message=PublishMessage(json_message=JsonMessage(message=message)),
                    )
                )
                if len(pending) >= 256:
                    for future in pending:
                        future.result(30)
                    pending.clear()
            for future in pending:
                future.result(30)
            ok = _wait(done, 120)
            elapsed = time.perf_counter() - started
            subscription.close()
            note = f"+{rss_mb() - before:.0f} MB RSS" if ok else "DID NOT FINISH"
            results.append((label, messages / elapsed, note))

    counted = {"n": 0}

    def count(_payload: Any) -> None:
        counted["n"] += 1

    run("IPC ceiling (subscriber only counts)", count, lambda: counted["n"] >= messages)

    config = validate_config(SyncConfig, {"storeDir": str(root / "ours"), "freeDiskWatermarkBytes": 0})
    store = SqliteStore(root / "ours" / "sync.db")
    service = SyncComponent(config, store, MemoryObjectSink(), MemoryMessageSink(), THING)
    stop = threading.Event()
    writer = threading.Thread(target=service.ingestor.run, args=(stop,), daemon=True)
    writer.start()
    run(
        "ours: validate + group commit (200 ms / 1000)",
        service.message_handler("readings"),
        lambda: service.ingestor.committed_records >= messages,
    )
    stop.set()
    writer.join()
    store.close()

    naive = NaiveStore(root / "naive-ingest.db")
    run("naive: one INSERT + COMMIT per record", naive.insert, lambda: naive.count >= messages)
    return results


def bench_store_only(root: Path, rows: int) -> list[tuple[str, float]]:
    records = [
        NewRecord("readings", 10, "s", i, T0 + i / 100, T0, None, json.dumps(m).encode())
        for i, m in enumerate(steady_readings(rows, 100.0))
    ]
    store = SqliteStore(root / "store-only.db")
    started = time.perf_counter()
    for i in range(0, rows, 1000):
        store.add(records[i : i + 1000], {})
    grouped = rows / (time.perf_counter() - started)
    store.close()
    naive = NaiveStore(root / "store-only-naive.db")
    few = records[: min(rows, 3000)]
    started = time.perf_counter()
    for record in few:
        naive.insert(record.payload.decode())
    per_row = len(few) / (time.perf_counter() - started)
    return [("store alone: group commit of 1000", grouped), ("store alone: one commit per row", per_row)]


# --- (b) drain -------------------------------------------------------------------------------------------
def _crt_s3(cloud: Any) -> Any:
    """The component's own awscrt S3 client, pointed at the embedded cloud with its fake credentials."""
    from components.sync.aws import AwsApi, Credentials, HttpClient, S3Client, StaticCredentials
    from localcore.cloud.moto_server import FAKE_ACCESS_KEY, FAKE_SECRET_KEY

    credentials = StaticCredentials(Credentials(FAKE_ACCESS_KEY, FAKE_SECRET_KEY))
    return S3Client(AwsApi(cloud.region, credentials, HttpClient(), {"": cloud.url}))


def bench_drain(root: Path, count: int) -> list[tuple[str, float, int, int]]:
    from localcore.cloud.moto_server import MotoCloud

    cloud = MotoCloud(describe_bundle(load_spec()))
    cloud.start()
    try:
        s3 = cloud.client("s3")
        readings = steady_readings(count, 100.0)
        store = SqliteStore(root / "drain.db")
        # Buffered offline over the last hour: each received when it was taken.
        hour_ago = time.time() - 3600
        batch: list[NewRecord] = []
        for m in readings:
            received = hour_ago + m["seq"] / 100
            payload = json.dumps(m).encode()
            batch.append(NewRecord("readings", 10, m["source"], m["seq"], m["ts"], received, None, payload))
            if len(batch) == 5000:
                store.add(batch, {})
                batch = []
        if batch:
            store.add(batch, {})
        config = SyncConfig()
        policies = effective_policies(config)
        uploader = Uploader(
            store, S3ObjectSink(_crt_s3(cloud), cloud.bucket), MemoryMessageSink(), LinkMonitor(),
            DailyBudget(store, 0),
            BandwidthLimiter(0), TARGETS, policies=lambda: policies,
            settings=lambda: (BatchSettings(), "zstd", None),
        )  # fmt: skip
        started = time.perf_counter()
        while uploader.step():
            pass
        ours = time.perf_counter() - started
        left = store.backlog().get("readings")
        listing = s3.list_objects_v2(Bucket=cloud.bucket, Prefix="telemetry/")["Contents"]
        ours_bytes = sum(o["Size"] for o in listing)
        store.close()
        results = [("ours: delta columns + zstd, 20k-record batches", ours, ours_bytes, len(listing))]
        if left is not None:
            raise RuntimeError(f"drain left {left.records} records")

        naive = NaiveStore(root / "drain-naive.db")
        naive.bulk_load(readings)
        started = time.perf_counter()
        naive_bytes = naive.drain(s3, cloud.bucket)
        results.append(("naive: SELECT all, JSON object per reading, mark synced", time.perf_counter() - started,
                        naive_bytes, 1))  # fmt: skip
        return results
    finally:
        cloud.stop()


# --- (c) bytes per reading --------------------------------------------------------------------------------
def bench_bytes(count: int) -> list[tuple[str, float]]:
    readings = steady_readings(count, 10.0)
    lines = "\n".join(json.dumps(m, separators=(",", ":")) for m in readings).encode()
    ours_zstd = sum(len(encode_batch("readings", readings[i : i + 20000])) for i in range(0, count, 20000))
    ours_gzip = sum(
        len(encode_batch("readings", readings[i : i + 20000], "gzip")) for i in range(0, count, 20000)
    )
    return [
        ("JSON lines (naive upload)", len(lines) / count),
        ("zstd of JSON lines", len(zstandard.ZstdCompressor(level=3).compress(lines)) / count),
        ("ours: delta columns + gzip", ours_gzip / count),
        ("ours: delta columns + zstd (default)", ours_zstd / count),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drain-records", type=int, default=360_000)
    parser.add_argument("--ipc-messages", type=int, default=20_000)
    parser.add_argument("--store-rows", type=int, default=100_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sync-bench-"))
    try:
        print(f"# sync pipeline benchmark ({os.cpu_count()} CPUs)\n")
        print("## (a) ingest through IPC into the store")
        ingest = bench_ingest(root, args.ipc_messages)
        ceiling = ingest[0][1]
        print("| path | records/s | vs IPC ceiling | memory |\n|---|---:|---:|---|")
        for label, rate, note in ingest:
            print(f"| {label} | {rate:,.0f} | {rate / ceiling:.2f}x | {note} |")
        store_rates = bench_store_only(root, args.store_rows)
        print("\n| store alone | rows/s | ratio |\n|---|---:|---:|")
        for label, rate in store_rates:
            print(f"| {label} | {rate:,.0f} | {rate / store_rates[-1][1]:.0f}x |")

        print(
            f"\n## (b) drain {args.drain_records:,} buffered readings (one hour at 100 Hz) into embedded S3"
        )
        drain = bench_drain(root, args.drain_records)
        print(
            "| design | seconds (loopback) | bytes uploaded | objects | bytes/reading | transfer at 1 Mbit/s |\n"
            "|---|---:|---:|---:|---:|---:|"
        )
        for label, seconds, size, objects in drain:
            print(
                f"| {label} | {seconds:.1f} | {size:,} | {objects} | {size / args.drain_records:.2f} "
                f"| {size * 8 / 1e6:,.0f} s |"
            )
        print(f"naive / ours drain time: {drain[1][1] / drain[0][1]:.2f}x")

        print("\n## (c) bytes uploaded per reading, steady 10 Hz, full sensor resolution (36,000 readings)")
        sizes = bench_bytes(36_000)
        print("| encoding | bytes/reading | vs JSON lines |\n|---|---:|---:|")
        for label, per in sizes:
            print(f"| {label} | {per:.2f} | {sizes[0][1] / per:.0f}x smaller |")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
