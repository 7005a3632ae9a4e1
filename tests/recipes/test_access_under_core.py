"""The bundle's recipes work under any deployment route: every shadow, pub/sub and IoT Core call the
four components make is authorized whether or not the nucleus interpolates component configuration.

Why both: the nucleus replaces recipe variables in a component's configuration, its
``accessControl`` included, only when its ``interpolateComponentConfiguration`` is true, and that
setting defaults to false (nucleus ``deployment/DeviceConfiguration.java``:
``getTopic(DEVICE_PARAM_INTERPOLATE_COMPONENT_CONFIGURATION).dflt(false)``; reference
greengrass-ipc.md 4.3 "Recipe variables in policies" and 5 "Recipe variables",
greengrass-deployments.md 1.3). A deployment made in the console or with GDK does not set it, so a
policy naming ``$aws/things/{iot:thingName}/...`` would match nothing and deny every shadow call.

The four components run from ``recipes/`` under localcore, which keeps ``{iot:thingName}``
literal in accessControl unless the deployment's ``aws.greengrass.Nucleus`` merge sets the
option, as the nucleus does. A spy on the core's authorizer records every decision.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.common import topics
from components.common.ipc import shadow_topic
from localcore.ipc.auth import AuthorizationDenied, Authorizer
from localcore.testing import CoreHarness, running_core
from tests.components.rig import wait_until
from tests.components.sensing.fakes import HOT_RULE, spiky_sensor

ROOT = Path(__file__).resolve().parents[2]
THING = "line-4"
SENSING = "com.edgebundle.Sensing"
INFERENCE = "com.edgebundle.Inference"
INSPECTION = "com.edgebundle.QualityInspection"
SYNC = "com.edgebundle.Sync"
SHADOWS = {
    SENSING: topics.SHADOW_SENSING,
    INFERENCE: topics.SHADOW_INFERENCE,
    INSPECTION: topics.SHADOW_INSPECTION,
    SYNC: topics.SHADOW_SYNC,
}
SHADOW_SERVICE = "aws.greengrass.ShadowManager"
PUBSUB = "aws.greengrass.ipc.pubsub"
MQTT_PROXY = "aws.greengrass.ipc.mqttproxy"

Decision = tuple[str, str, str, str, bool]  # principal, destination, operation, resource, allowed


def deployment(interpolate: bool | None) -> dict[str, Any]:
    """Spiky readings (so sensing raises alerts and sync forwards them to IoT Core); the nucleus
    option set to ``interpolate``, or absent (the console's and GDK's default) when None."""
    components: dict[str, Any] = {
        SENSING: {
            "configurationUpdate": {
                "merge": {"sensors": [spiky_sensor(interval_s=0.02, seed=11)], "rules": [HOT_RULE]}
            }
        },
    }
    if interpolate is not None:
        components["aws.greengrass.Nucleus"] = {
            "configurationUpdate": {"merge": {"interpolateComponentConfiguration": interpolate}}
        }
    return {"components": components}


@pytest.fixture
def decisions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Decision]]:
    """Every authorization decision the core makes while the test runs."""
    seen: list[Decision] = []
    lock = threading.Lock()
    original = Authorizer.check

    def recording_check(
        self: Authorizer, destination: str, principal: str, operation: str, resource: str, **options: Any
    ) -> None:
        try:
            original(self, destination, principal, operation, resource, **options)
        except AuthorizationDenied:
            with lock:
                seen.append((principal, destination, operation, resource, False))
            raise
        with lock:
            seen.append((principal, destination, operation, resource, True))

    monkeypatch.setattr(Authorizer, "check", recording_check)
    yield seen


def calls(decisions: list[Decision], principal: str) -> set[tuple[str, str, str]]:
    return {(d, op, res) for who, d, op, res, _ in list(decisions) if who == principal}


def shadow(name: str) -> str:
    return f"$aws/things/{THING}/shadow/name/{name}"


def reported(core: CoreHarness, name: str) -> bool:
    try:
        document = json.loads(core.shadows.get(THING, SHADOWS[name]))
    except Exception:  # not there yet (ShadowNotFoundError)
        return False
    return bool(document.get("state", {}).get("reported"))


@pytest.mark.parametrize("interpolate", [None, False, True], ids=["unset", "off", "on"])
def test_every_call_of_the_four_components_is_authorized(
    tmp_path: Path, decisions: list[Decision], interpolate: bool | None
) -> None:
    with running_core(
        tmp_path, ROOT / "recipes", thing_name=THING, deployment=deployment(interpolate), project_root=ROOT
    ) as core:
        for name in SHADOWS:
            core.wait_for_state(name, "RUNNING", timeout=120)
        # Each component read its shadow and reported the configuration in effect ...
        for name in SHADOWS:
            wait_until(functools.partial(reported, core, name), timeout=60, what=f"{name}'s reported state")
        # ... and sync forwarded an alert to IoT Core.
        alerts = f"edgebundle/{THING}/alerts"
        wait_until(lambda: any(m.topic == alerts for m in core.cloud.published), timeout=60, what="an alert")
        made = list(decisions)

    denied = [d for d in made if not d[4]]
    assert denied == [], f"denied: {denied}"
    for name, shadow_name in SHADOWS.items():
        assert {
            (SHADOW_SERVICE, "aws.greengrass#GetThingShadow", shadow(shadow_name)),
            (SHADOW_SERVICE, "aws.greengrass#UpdateThingShadow", shadow(shadow_name)),
            (PUBSUB, "aws.greengrass#SubscribeToTopic", shadow_topic(THING, shadow_name, "update/documents")),
        } <= calls(made, name), name
    assert (PUBSUB, "aws.greengrass#PublishToTopic", topics.READINGS) in calls(made, SENSING)
    assert (PUBSUB, "aws.greengrass#SubscribeToTopic", topics.READINGS) in calls(made, INFERENCE)
    assert (PUBSUB, "aws.greengrass#SubscribeToTopic", topics.ALERTS) in calls(made, SYNC)
    assert (MQTT_PROXY, "aws.greengrass#PublishToIoTCore", alerts) in calls(made, SYNC)


def test_a_policy_naming_the_thing_by_variable_is_denied_without_interpolation(
    tmp_path: Path, decisions: list[Decision]
) -> None:
    """The check above can fail: sensing's recipe as it was (``{iot:thingName}`` in its shadow
    resources), under a deployment that does not set the option, is denied its shadow."""
    recipe = (ROOT / "recipes" / f"{SENSING}.yaml").read_text()
    assert "$aws/things/*/shadow/" in recipe
    old_style = tmp_path / "recipes" / f"{SENSING}.yaml"
    old_style.parent.mkdir()
    old_style.write_text(recipe.replace("$aws/things/*/shadow/", "$aws/things/{iot:thingName}/shadow/"))
    with running_core(
        tmp_path, old_style.parent, thing_name=THING, deployment=deployment(None), project_root=ROOT
    ) as core:
        wait_until(lambda: any(not d[4] for d in decisions), timeout=120, what="a denied call")
        core_log = (core.root / "logs" / "greengrass.log").read_text()
    denied = {resource for who, _, _, resource, allowed in decisions if not allowed and who == SENSING}
    sensing_shadow = shadow(SHADOWS[SENSING])
    assert denied and denied <= {sensing_shadow, f"{sensing_shadow}/update/documents"}, denied
    assert "event=access_control_variables_not_interpolated component=com.edgebundle.Sensing" in core_log
