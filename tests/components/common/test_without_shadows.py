"""Components on a core that serves no shadows: they run with their deployment's configuration.

Nucleus lite serves pub/sub, IoT Core, configuration and lifecycle over IPC, but "Everything
else, shadows and GetSecretValue included, answers ``ServiceError`` with an empty message ...
the connection stays usable (observed). Under the classic nucleus a missing shadow is
``ResourceNotFoundError``; under lite every shadow call is ``ServiceError``" (reference
nucleus-lite.md, "IPC operations"; ``LITE:modules/ggipcd/src/ipc_dispatch.c``).

:class:`LiteShadows` answers every shadow operation that way; it stands in for the shadow service
of localcore's IPC server, which the components reach with the real awsiotsdk client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.common import topics
from components.common.ipc import ComponentIpc
from components.common.live_config import SHADOW_FEATURES
from components.inference.__main__ import build_and_run as inference_main
from components.inspection.__main__ import build_and_run as inspection_main
from components.sensing.__main__ import build_and_run as sensing_main
from components.sync.__main__ import build_and_run as sync_main
from localcore.contracts import ShadowListener, Unsubscribe
from localcore.ipc.testing import ipc_server
from localcore.shadows.errors import ShadowError
from tests.components.rig import (
    RecordingPublisher,
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

THING = "lite-1"
SENSING = "com.edgebundle.Sensing"


class LiteShadows:
    """A shadow service that answers as nucleus lite does: ``ServiceError``, no message, every time.

    localcore turns a ShadowError whose code is not 400/404/409/413 into ``ServiceError`` with its
    message; lite's has none. ``calls`` counts the requests that reached it.
    """

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _refuse(self, operation: str) -> ShadowError:
        self.calls.append(operation)
        return ShadowError(500, "")

    def get(self, thing: str, shadow: str) -> bytes:
        raise self._refuse("GetThingShadow")

    def update(self, thing: str, shadow: str, payload: bytes, *, source: str = "local") -> bytes:
        raise self._refuse("UpdateThingShadow")

    def delete(self, thing: str, shadow: str, *, source: str = "local") -> bytes:
        raise self._refuse("DeleteThingShadow")

    def list_named(self, thing: str, page_size: int | None, next_token: str | None) -> dict[str, Any]:
        raise self._refuse("ListNamedShadowsForThing")

    def add_listener(self, listener: ShadowListener) -> Unsubscribe:
        return lambda: None


def unavailable_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "event=shadow_unavailable" in r.getMessage()]


def test_sensing_runs_on_its_deployment_configuration_and_says_once_what_is_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    deployment = {
        "sensors": [spiky_sensor(interval_s=0.01, seed=4)],
        "rules": [HOT_RULE],
        "healthIntervalSeconds": 0.2,
    }
    shadows = LiteShadows()
    acl = recipe_defaults(SENSING, THING)["accessControl"]
    observer_acl = pubsub_acl("o", subscribe=["edgebundle/sensing/*"])
    store = config_store(SENSING, THING, deployment)
    with ipc_server(
        tmp_path, components={SENSING: acl, "test.Observer": observer_acl}, shadows=shadows, config=store
    ) as core:
        seen = RecordingPublisher().subscribe(
            ComponentIpc(core.client("test.Observer"), "test.Observer", THING), topics.READINGS, topics.HEALTH
        )
        with running_component(core, SENSING, THING, sensing_main):
            # THEN it runs with the deployment's sensor (seed 4 at 100 Hz), and its alerts work
            seen.wait_for(topics.READINGS, lambda m: m.get("source") == "line1-env")
            assert "GetThingShadow" in shadows.calls
            # WHEN the deployment changes its configuration (SubscribeToConfigurationUpdate is served)
            store.update(SENSING, ["healthIntervalSeconds"], 0.3, time.time())
            wait_until(
                lambda: sum("event=config_applied" in r.getMessage() for r in caplog.records) >= 2,
                what="the configuration change applied",
            )
            wait_until(
                lambda: any(m["metrics"].get("readingsPublished") for m in seen.on(topics.HEALTH)),
                what="health",
            )
    # AND the log said once, at WARNING, that the shadow's features are off, and why
    (line,) = unavailable_lines(caplog)
    assert "shadow=sensing-config" in line and f'off="{SHADOW_FEATURES}"' in line
    assert "the core answered ServiceError" in line
    (record,) = [r for r in caplog.records if "event=shadow_unavailable" in r.getMessage()]
    assert record.levelno == logging.WARNING
    # AND nothing was reported to the shadow it knows is not there
    assert "UpdateThingShadow" not in shadows.calls
    assert not any("event=shadow_report_failed" in r.getMessage() for r in caplog.records)


def _tmp_spool(tmp_path: Path) -> dict[str, Any]:
    return {"spool": {"dir": str(tmp_path / "spool"), "minFreeBytes": 0}}


@pytest.mark.parametrize(
    ("name", "entry", "deployment"),
    [
        ("com.edgebundle.Inference", inference_main, lambda _tmp: {"healthIntervalSeconds": 0.2}),
        ("com.edgebundle.QualityInspection", inspection_main, _tmp_spool),
    ],
    ids=["inference", "inspection"],
)
def test_the_other_live_components_run_without_shadows(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    name: str,
    entry: Callable[..., None],
    deployment: Callable[[Path], dict[str, Any]],
) -> None:
    caplog.set_level(logging.INFO)
    acl = recipe_defaults(name, THING)["accessControl"]
    with (
        ipc_server(
            tmp_path,
            components={name: acl},
            shadows=LiteShadows(),
            config=config_store(name, THING, deployment(tmp_path)),
        ) as core,
        running_component(core, name, THING, entry, join_timeout=15),
    ):
        assert core.server.reported_state(name) == "RUNNING"
    assert len(unavailable_lines(caplog)) == 1


def test_sync_runs_and_reports_its_status_on_the_topic_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, cloud_s3: Any
) -> None:
    """Sync writes its status to the ``sync`` shadow each interval too: refused by a core without
    shadows, which it says once, while the same status keeps going out on its topic."""
    caplog.set_level(logging.INFO)
    sync = "com.edgebundle.Sync"
    defaults = recipe_defaults(sync, THING)
    config = {**defaults, "storeDir": str(tmp_path / "store"), "statusIntervalSeconds": 0.1}
    watcher_acl = pubsub_acl("w", subscribe=[topics.SYNC_STATUS])
    components = {sync: defaults["accessControl"], "test.Watcher": watcher_acl}
    with ipc_server(
        tmp_path, components=components, shadows=LiteShadows(), config=DictConfig({sync: config})
    ) as core:
        statuses: list[Any] = []
        ComponentIpc(core.client("test.Watcher"), "test.Watcher", THING).subscribe_json(
            topics.SYNC_STATUS, statuses.append
        )
        with component_thread(
            sync_main, ComponentIpc(core.client(sync), sync, THING), join_timeout=20
        ) as run:
            wait_until(lambda: core.server.reported_state(sync) == "RUNNING", what="RUNNING")
            wait_until(lambda: len(statuses) >= 5, what="five status messages")
            assert not run.errors
    messages = [r.getMessage() for r in caplog.records]
    assert len(unavailable_lines(caplog)) == 1
    assert sum("event=shadow_report_unavailable shadow=sync" in m for m in messages) == 1
    assert not any("event=shadow_report_failed" in m for m in messages)
