"""Configuration through the component's shadow, with the real awsiotsdk client against
localcore's IPC server and its shadow store (ShadowManager's rate limits on).

ShadowManager publishes ``update/delta`` after every accepted update while desired and reported
differ (reference greengrass-ipc.md, ShadowManager UpdateThingShadow: "If the delta is non-empty
after an update ... is published to …/update/delta"), the component's own report included. A
component answering the delta with a report therefore answered itself: issue #17 measured 11-12
rejections in 100 ms with 429 tracebacks. It follows ``update/documents`` and answers each desired
version once; a desired ``config`` removed (no delta at all: an empty desired has none) brings back
the deployment's configuration.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from components.common import topics
from components.common.ipc import ComponentIpc
from components.sensing.__main__ import build_and_run as sensing_main
from components.sync.__main__ import build_and_run as sync_main
from localcore.ipc.testing import IpcHarness, ipc_server
from localcore.shadows.store import ShadowStore
from tests.components.rig import (
    ConfigShadow,
    component_thread,
    config_store,
    pubsub_acl,
    recipe_defaults,
    running_component,
    wait_until,
)
from tests.components.sensing.fakes import HOT_RULE, spiky_sensor
from tests.components.sync.test_ipc_integration import DictConfig, cloud_s3

__all__ = ["cloud_s3"]  # a fixture, used by name

THING = "shadow-1"
SENSING = "com.edgebundle.Sensing"
SHADOW = "sensing-config"
DEPLOYMENT_INTERVAL = 0.2


class Reports:
    """Every report the component wrote to its shadow (updates not made from the cloud side)."""

    def __init__(self, store: ShadowStore) -> None:
        self.seen: list[dict[str, Any]] = []
        store.add_listener(self._on_change)

    def _on_change(self, thing: str, shadow: str, document: dict[str, Any] | None, source: str) -> None:
        if shadow == SHADOW and source != "cloud" and document is not None:
            self.seen.append(dict(document["state"].get("reported") or {}))

    def rejected(self, error_part: str) -> list[dict[str, Any]]:
        return [
            r for r in self.seen if r.get("status") == "rejected" and error_part in (r.get("error") or "")
        ]


@contextmanager
def sensing(tmp_path: Path) -> Iterator[tuple[IpcHarness, ConfigShadow, Reports]]:
    deployment = {
        "sensors": [spiky_sensor(interval_s=0.05, seed=4)],
        "rules": [HOT_RULE],
        "healthIntervalSeconds": DEPLOYMENT_INTERVAL,
    }
    store = ShadowStore(tmp_path / "shadows")  # ShadowManager's default rate limits
    reports = Reports(store)
    acl = recipe_defaults(SENSING, THING)["accessControl"]
    with (
        ipc_server(
            tmp_path,
            components={SENSING: acl},
            shadows=store,
            config=config_store(SENSING, THING, deployment),
        ) as core,
        running_component(core, SENSING, THING, sensing_main),
    ):
        shadow = ConfigShadow(core, THING, SHADOW)
        wait_until(lambda: shadow.reported().get("status") == "applied", what="the first report")
        yield core, shadow, reports


def _interval(shadow: ConfigShadow) -> Any:
    return (shadow.reported().get("config") or {}).get("healthIntervalSeconds")


def test_a_refused_desired_config_is_reported_once_and_a_new_version_is_evaluated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with sensing(tmp_path) as (_core, shadow, reports):
        # WHEN the operator desires a value the component's validation refuses
        shadow.desire({"healthIntervalSeconds": "often"})
        wait_until(lambda: shadow.reported().get("status") == "rejected", what="the rejection")
        assert "healthIntervalSeconds" in shadow.reported()["error"]
        assert _interval(shadow) == DEPLOYMENT_INTERVAL  # the old configuration keeps running
        # AND then a new desired version, which is evaluated again (and accepted)
        shadow.desire({"healthIntervalSeconds": 0.5})
        wait_until(lambda: _interval(shadow) == 0.5, what="the new version applied")
        # AND the same refused value desired once more is a new version: answered once more
        shadow.desire({"healthIntervalSeconds": "often"})
        wait_until(lambda: shadow.reported().get("status") == "rejected", what="the second rejection")
        shadow.desire({"healthIntervalSeconds": 0.6})
        wait_until(lambda: _interval(shadow) == 0.6, what="the last version applied")
    # THEN each refused version got exactly one rejection, and the core throttled nothing
    assert len(reports.rejected("healthIntervalSeconds")) == 2, reports.seen
    assert [r.get("status") for r in reports.seen] == [
        "applied",
        "rejected",
        "applied",
        "rejected",
        "applied",
    ]
    assert "ThrottlingException" not in caplog.text and "429" not in caplog.text
    assert sum("event=config_rejected" in r.getMessage() for r in caplog.records) == 2


def test_removing_desired_config_brings_back_the_deployment_configuration(tmp_path: Path) -> None:
    with sensing(tmp_path) as (core, shadow, reports):
        shadow.desire({"healthIntervalSeconds": 0.5})
        wait_until(lambda: _interval(shadow) == 0.5, what="the override applied")
        # WHEN desired.config is removed (an empty desired publishes no delta)
        assert core.shadows is not None
        core.shadows.update(
            THING, SHADOW, json.dumps({"state": {"desired": {"config": None}}}).encode(), source="cloud"
        )
        # THEN the deployment's configuration is in effect again, and reported
        wait_until(lambda: _interval(shadow) == DEPLOYMENT_INTERVAL, what="the deployment's value back")
        assert shadow.reported()["status"] == "applied" and shadow.reported().get("error") is None
    assert [r.get("status") for r in reports.seen] == ["applied", "applied", "applied"]


def test_removing_a_refused_desired_config_clears_the_rejection(tmp_path: Path) -> None:
    with sensing(tmp_path) as (core, shadow, reports):
        shadow.desire({"healthIntervalSeconds": -1})
        wait_until(lambda: shadow.reported().get("status") == "rejected", what="the rejection")
        assert core.shadows is not None
        core.shadows.update(THING, SHADOW, json.dumps({"state": {"desired": None}}).encode(), source="cloud")
        wait_until(lambda: shadow.reported().get("status") == "applied", what="the rejection cleared")
        assert shadow.reported().get("error") is None and _interval(shadow) == DEPLOYMENT_INTERVAL
    assert [r.get("status") for r in reports.seen] == ["applied", "rejected", "applied"]


def test_sync_answers_a_refused_desired_config_once_while_it_keeps_reporting_status(
    tmp_path: Path, cloud_s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Sync writes its status to the same ``sync`` shadow every interval; each write is an
    accepted update that re-published the delta, so a refused desired config was refused again
    at every status (issue #17: 104 rejections in 20 s). Status reports change no desired state."""
    caplog.set_level(logging.INFO)
    sync = "com.edgebundle.Sync"
    defaults = recipe_defaults(sync, THING)
    config = {**defaults, "storeDir": str(tmp_path / "store"), "statusIntervalSeconds": 0.1}
    statuses: list[Any] = []
    watcher_acl = pubsub_acl("w", subscribe=[topics.SYNC_STATUS])
    with ipc_server(
        tmp_path,
        components={sync: defaults["accessControl"], "test.Watcher": watcher_acl},
        shadows=ShadowStore(tmp_path / "shadows"),  # ShadowManager's default rate limits
        config=DictConfig({sync: config}),
    ) as core:
        ComponentIpc(core.client("test.Watcher"), "test.Watcher", THING).subscribe_json(
            topics.SYNC_STATUS, statuses.append
        )
        shadow = ConfigShadow(core, THING, topics.SHADOW_SYNC)
        with component_thread(
            sync_main, ComponentIpc(core.client(sync), sync, THING), join_timeout=20
        ) as run:
            wait_until(lambda: shadow.reported().get("status") == "applied", what="the first report")
            shadow.desire({"statusIntervalSeconds": "often"})
            wait_until(lambda: shadow.reported().get("status") == "rejected", what="the rejection")
            seen = len(statuses)
            wait_until(lambda: len(statuses) >= seen + 5, what="five more status reports")
            assert not run.errors
    rejected = [
        r.getMessage() for r in caplog.records if "event=config_rejected shadow=sync" in r.getMessage()
    ]
    assert len(rejected) == 1, rejected
    assert "statusIntervalSeconds" in rejected[0]
