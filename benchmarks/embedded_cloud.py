"""Embedded cloud benchmark: start-up, the fault proxy's cost, and topic-rule throughput.

Run: ``.venv/bin/python benchmarks/embedded_cloud.py [--calls 300] [--messages 50000] [--writes 300]``

Measured side by side in one run (numbers vary with the machine; ratios are the point):

(a) start-up: ``EmbeddedCloud.start()`` (moto server, provisioning, proxy, TES) until ready.
(b) proxy: boto3 ``s3.put_object`` through the fault proxy vs straight to the moto server.
(c) rule SQL: our parsed ``SELECT *, topic(2) AS thing, timestamp() AS receivedAt`` evaluated per
    message vs a hand-written Python function computing the same object (the peer).
(d) rule writes: device publishes through the broker and the DynamoDB rule action vs the same
    ``put_item`` calls made directly with boto3 (the peer).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bundledev.cloud_description import describe_bundle
from bundlespec import load_spec
from localcore.cloud.broker import DEVICE
from localcore.cloud.rules_sql import parse_sql
from localcore.cloud.service import EmbeddedCloud
from localcore.contracts import IotMessage


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def bench_startup(root: Path, runs: int = 3) -> tuple[list[float], EmbeddedCloud]:
    times = []
    cloud = None
    for index in range(runs):
        cloud = EmbeddedCloud(root / f"r{index}", "dev-1", description=describe_bundle(load_spec(), "dev-1"))
        started = time.perf_counter()
        cloud.start()
        times.append(time.perf_counter() - started)
        if index < runs - 1:
            cloud.stop()
    assert cloud is not None
    return times, cloud


def bench_proxy(cloud: EmbeddedCloud, calls: int, rounds: int = 4) -> tuple[float, float]:
    """Alternate direct and proxied rounds so warm-up and load drift hit both alike."""
    assert cloud.proxy is not None
    clients = {}
    for name, endpoint in (("direct", cloud.moto.url), ("proxy", cloud.proxy.url)):
        clients[name] = cloud.moto.client("s3", endpoint_url=endpoint)
        clients[name].put_object(Bucket=cloud.moto.bucket, Key="bench/warm", Body=b"x")
    totals = {"direct": 0.0, "proxy": 0.0}
    per_round = max(1, calls // rounds)
    for round_index in range(rounds):
        order = ("direct", "proxy") if round_index % 2 == 0 else ("proxy", "direct")
        for name in order:
            started = time.perf_counter()
            for index in range(per_round):
                clients[name].put_object(
                    Bucket=cloud.moto.bucket, Key=f"bench/{name}/{index}", Body=b"x" * 256
                )
            totals[name] += time.perf_counter() - started
    return totals["direct"], totals["proxy"]


def bench_sql(messages: int) -> tuple[float, float]:
    rule = load_spec().iot.rules[0]
    query = parse_sql(rule.name, rule.sql)
    payload = {"alertKey": "k", "value": 1.5, "severity": "high", "sensor": "line1"}

    def hand_written(topic: str, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        result = dict(body)
        result["thing"] = topic.split("/")[1]
        result["receivedAt"] = now_ms
        return result

    assert query.evaluate("edgebundle/dev-1/alerts", payload, 1) == hand_written(
        "edgebundle/dev-1/alerts", payload, 1
    )
    started = time.perf_counter()
    for index in range(messages):
        query.evaluate("edgebundle/dev-1/alerts", payload, index)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    for index in range(messages):
        hand_written("edgebundle/dev-1/alerts", payload, index)
    return ours, time.perf_counter() - started


def bench_rule_writes(cloud: EmbeddedCloud, writes: int) -> tuple[float, float]:
    started = time.perf_counter()
    for index in range(writes):
        body = json.dumps({"alertKey": f"bench-{index}", "value": 1.5}).encode()
        cloud.broker.publish(IotMessage("edgebundle/dev-1/alerts", body, qos=1), origin=DEVICE)
    assert cloud.broker.flush(timeout=120)  # count until the last item is written, not just queued
    ours = time.perf_counter() - started
    rules = cloud.broker.rules
    assert rules is not None and rules.stats["edge_bundle_alerts_to_dynamodb"].written >= writes
    dynamodb = cloud.moto.client("dynamodb")
    started = time.perf_counter()
    for index in range(writes):
        item = {
            "thing": {"S": "dev-1"},
            "alertKey": {"S": f"peer-{index}"},
            "value": {"N": "1.5"},
            "receivedAt": {"N": str(index)},
        }
        dynamodb.put_item(TableName="edge-bundle-alerts", Item=item)
    return ours, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--writes", type=int, default=300)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-cloud-"))
    try:
        startup, cloud = bench_startup(root)
        try:
            direct, proxied = bench_proxy(cloud, args.calls)
            ours_sql, peer_sql = bench_sql(args.messages)
            ours_writes, peer_writes = bench_rule_writes(cloud, args.writes)
        finally:
            cloud.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    rows = [
        ("start-up, cold (first, incl. imports)", f"{startup[0]:.2f} s", "-", "-"),
        ("start-up, warm (median of the rest)", f"{statistics.median(startup[1:]):.2f} s", "-", "-"),
        (
            f"s3.put_object x{args.calls}",
            f"proxy {_rate(args.calls, proxied)}",
            f"direct {_rate(args.calls, direct)}",
            f"{proxied / direct:.2f}x time",
        ),
        (
            f"rule SQL x{args.messages}",
            f"ours {_rate(args.messages, ours_sql)}",
            f"hand-written {_rate(args.messages, peer_sql)}",
            f"{ours_sql / peer_sql:.2f}x time",
        ),
        (
            f"rule writes x{args.writes}",
            f"broker+rule {_rate(args.writes, ours_writes)}",
            f"direct put_item {_rate(args.writes, peer_writes)}",
            f"{ours_writes / peer_writes:.2f}x time",
        ),
    ]
    widths = [max(len(row[i]) for row in [("measure", "ours", "peer", "ratio"), *rows]) for i in range(4)]
    for row in [("measure", "ours", "peer", "ratio"), *rows]:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))


if __name__ == "__main__":
    main()
