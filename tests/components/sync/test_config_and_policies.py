"""Configuration validation, per-stream policy merging, deadband, disk guard, budget and link state."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from components.common.exceptions import ConfigError
from components.common.live_config import validate_config
from components.sync.budget import BandwidthLimiter, DailyBudget
from components.sync.config import SyncConfig, effective_policies
from components.sync.link import LinkMonitor
from components.sync.policies import DeadbandFilter, DiskGuard, store_limits
from components.sync.store.sqlite import SqliteStore

from .conftest import reading


def test_defaults_put_alerts_first_and_on_iot_core() -> None:
    policies = effective_policies(SyncConfig())
    assert policies["alerts"].destination == "iot"
    assert max(policies, key=lambda s: policies[s].priority) == "alerts"
    assert all(p.is_bulk for s, p in policies.items() if s != "alerts")


def test_a_partial_stream_override_keeps_the_other_defaults() -> None:
    config = validate_config(SyncConfig, {"streams": {"alerts": {"ttlSeconds": 60}}})
    alerts = effective_policies(config)["alerts"]
    assert alerts.ttl_seconds == 60 and alerts.destination == "iot" and alerts.priority == 100


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"streams": {"readingz": {}}}, "streams.readingz: unknown stream; expected one of ['alerts',"),
        (
            {"streams": {"readings": {"strategyOnFull": "Drop"}}},
            "streams.readings.strategyOnFull: Invalid enum value 'Drop'",
        ),
        (
            {"streams": {"readings": {"upload": "deadband"}}},
            "streams.readings.deadband: upload 'deadband' needs at least one field",
        ),
        (
            {"streams": {"readings": {"deadband": {"t": -1}}}},
            "streams.readings.deadband.t: must be >= 0 (got -1",
        ),
        (
            {"streams": {"health": {"resolution": {"t": 0}}}},
            "streams.health.resolution.t: must be > 0 (got 0",
        ),
        (
            {"streams": {"readings": {"priority": -4}}},
            "streams.readings.priority: Expected `int` >= 0 (got -4)",
        ),
        # keys are camelCase, as recipes, deployments and shadows write them
        (
            {"streams": {"readings": {"ttl_seconds": 1}}},
            "streams.readings: Object contains unknown field `ttl_seconds`",
        ),
        ({"daily_byte_budget": 5}, "Object contains unknown field `daily_byte_budget`"),
        ({"compression": "lz4"}, "compression: Invalid enum value 'lz4'"),
        ({"commitIntervalMs": 0}, "commitIntervalMs: Expected `int` >= 1 (got 0)"),
        ({"dailyByteBudget": -5}, "dailyByteBudget: Expected `int` >= 0 (got -5)"),
        # the cloud names: what S3 and IoT Core would refuse is refused here, by key
        ({"bucket": "My Bucket"}, "bucket: Expected `str` matching regex"),
        ({"bucketPrefix": "Edge_Data"}, "bucketPrefix: Expected `str` matching regex"),
        ({"batchKeyPrefix": "/telemetry"}, "batchKeyPrefix: Expected `str` matching regex"),
        ({"imageKeyPrefix": ""}, "imageKeyPrefix: Expected `str` matching regex"),
        ({"region": "US East"}, "region: Expected `str` matching regex"),
        (
            {"alertsTopic": "edgebundle/+/alerts"},
            "alertsTopic: a topic to publish to cannot hold MQTT wildcards",
        ),
        ({"alertsTopic": ""}, "alertsTopic: Expected `str` of length >= 1"),
    ],
)
def test_bad_configuration_is_refused_by_key(raw: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        validate_config(SyncConfig, raw)


def test_deadband_keeps_significant_changes_and_heartbeats() -> None:
    config = validate_config(
        SyncConfig,
        {
            "streams": {
                "readings": {"upload": "deadband", "deadband": {"temperature": 0.5}, "heartbeatSeconds": 10}
            }
        },
    )
    policy = effective_policies(config)["readings"]
    band = DeadbandFilter()
    kept = [
        band.keep(policy, reading(seq, ts=float(ts), temperature=t, humidity=40.0))
        for seq, (ts, t) in enumerate([(0, 20.0), (1, 20.4), (2, 20.5), (3, 20.1), (13, 20.1), (14, 20.2)])
    ]
    assert kept == [True, False, True, False, True, False]
    # a field going null or the quality changing is always significant; sources are independent
    assert band.keep(policy, reading(9, ts=15.0, temperature=None, humidity=40.0))
    assert band.keep(policy, reading(1, source="other", ts=15.0, temperature=20.2, humidity=40.0))
    everything = effective_policies(SyncConfig())["readings"]
    assert all(band.keep(everything, reading(i, ts=20.0)) for i in range(3))


def test_disk_guard_stops_bulk_streams_only(tmp_path: Path) -> None:
    free = {"bytes": 10**9}
    guard = DiskGuard(
        tmp_path, watermark_bytes=10**6, free_bytes=lambda _p: free["bytes"], clock=iter(range(100)).__next__
    )
    assert guard.ok()
    free["bytes"] = 10
    assert not guard.ok()
    limits = store_limits(effective_policies(SyncConfig()), disk_ok=False)
    assert limits["alerts"].accept and not limits["readings"].accept


def test_budget_persists_across_restarts_and_rolls_at_utc_midnight(tmp_path: Path) -> None:
    now = {"t": 1764374399.0}  # one second before 2025-11-29T00:00Z
    store = SqliteStore(tmp_path / "sync.db")
    budget = DailyBudget(store, 100, clock=lambda: now["t"])
    budget.record(60)
    assert budget.bulk_allowed()
    budget.record(50)
    assert not budget.bulk_allowed()
    restarted = DailyBudget(store, 100, clock=lambda: now["t"])
    assert restarted.spent_today == 110 and not restarted.bulk_allowed()
    now["t"] += 2
    assert restarted.bulk_allowed() and restarted.spent_today == 0
    assert DailyBudget(store, 0).bulk_allowed()
    store.close()


def test_bandwidth_limiter_spaces_sends_to_the_rate() -> None:
    now = {"t": 0.0}
    limiter = BandwidthLimiter(1000, clock=lambda: now["t"])
    assert limiter.delay_for(1000) == 0.0
    assert limiter.delay_for(500) == pytest.approx(0.5)
    now["t"] = 10.0
    assert limiter.delay_for(800) == 0.0
    assert BandwidthLimiter(0).delay_for(10**9) == 0.0


def test_link_backs_off_with_jitter_and_recovers_on_connect() -> None:
    now = {"t": 0.0}
    link = LinkMonitor(1.0, 8.0, clock=lambda: now["t"], rng=random.Random(3))
    assert link.state() == "unknown" and link.bulk_ready()
    delays = [link.failed("refused") for _ in range(6)]
    assert all(0.5 <= d <= 1.0 for d in delays[:1]) and all(d <= 8.0 for d in delays)
    assert delays[3] >= 4.0  # grows exponentially up to the cap
    assert not link.bulk_ready() and link.state() == "offline"
    link.mqtt_status(False)
    assert not link.iot_ready()
    link.mqtt_status(True)  # the nucleus reconnected: retry at once
    assert link.bulk_ready() and link.iot_ready() and link.wake.is_set() and link.state() == "online"
