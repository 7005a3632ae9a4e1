"""Authorization decisions, as the nucleus makes them (reference section 4)."""

from __future__ import annotations

import json
import logging

import pytest

from localcore.ipc.auth import AuthorizationDenied, Authorizer, PolicyError

PUBSUB = "aws.greengrass.ipc.pubsub"
MQTT = "aws.greengrass.ipc.mqttproxy"
PUB = "aws.greengrass#PublishToTopic"
SUB = "aws.greengrass#SubscribeToTopic"
IOT_PUB = "aws.greengrass#PublishToIoTCore"


def _auth(component: str, destination: str, operations: list[str], resources: list[str]) -> Authorizer:
    authorizer = Authorizer()
    authorizer.set_policies(
        component, {destination: {"policy1": {"operations": operations, "resources": resources}}}
    )
    return authorizer


@pytest.mark.parametrize(
    ("resource", "topic", "allowed"),
    [
        ("a/b", "a/b", True),
        ("a/b", "a/c", False),
        ("*", "anything/at/all", True),
        ("a/*", "a/b/c", True),
        ("a/*", "a", False),
        ("a/*/c", "a/x/y/c", True),  # '*' crosses levels under STANDARD
        ("*/c", "c", False),
        ("a*", "a", True),  # '*' matches the empty string
        ("test/topic/#", "test/topic/#", True),  # '#' and '+' are literal under STANDARD
        ("test/topic/#", "test/topic/filter", False),
        ("a/+/c", "a/b/c", False),
        ("a/+/c", "a/+/c", True),
        ("$aws/things/t/shadow", "$aws/things/t/shadow", True),
        ("$aws/things/t/shadow/", "$aws/things/t/shadow", False),  # the docs' trailing slash matches nothing
        ("lit${*}", "lit*", True),
        ("lit${*}", "litx", False),
        ("cost${$}", "cost$", True),
        ("why${?}", "why?", True),
    ],
)
def test_standard_matching(resource: str, topic: str, allowed: bool) -> None:
    authorizer = _auth("c", PUBSUB, [PUB], [resource])
    assert authorizer.is_allowed(PUBSUB, "c", PUB, topic) is allowed


@pytest.mark.parametrize(
    ("resource", "topic", "allowed"),
    [
        ("test/topic/#", "test/topic/#", True),  # DOCS ipc-iot-core-mqtt: may subscribe to the filter
        ("test/topic/#", "test/topic/filter", True),  # ... and publish below it
        ("test/topic/#", "test/topic", True),  # '#' also covers its parent level
        ("test/topic/#", "test/topics", False),
        ("#", "any/thing", True),
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/x/c", False),
        ("a/+", "a/b", True),
        ("+/b", "a/b", True),
        ("a+/c", "ab/c", False),  # '+' not filling a whole level is literal
        ("a+/c", "a+/c", True),
        ("a/#/c", "a/x/c", False),  # '#' not at the end is literal
        ("a/b#", "a/b#", True),
        ("a/*", "a/b/c", True),
        ("dt/${*}/x", "dt/*/x", True),
    ],
)
def test_mqtt_style_matching(resource: str, topic: str, allowed: bool) -> None:
    authorizer = _auth("c", MQTT, [IOT_PUB], [resource])
    assert authorizer.is_allowed(MQTT, "c", IOT_PUB, topic, mqtt_style=True) is allowed


def test_unescaped_question_mark_drops_only_that_resource(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        authorizer = _auth("c", PUBSUB, [PUB], ["bad?", "good", "x${y}"])
    assert authorizer.is_allowed(PUBSUB, "c", PUB, "good")
    assert not authorizer.is_allowed(PUBSUB, "c", PUB, "bad?")
    assert not authorizer.is_allowed(PUBSUB, "c", PUB, "x${y}")
    dropped = [r.getMessage() for r in caplog.records if "policy_resource_dropped" in r.getMessage()]
    assert len(dropped) == 2 and "resource=bad?" in dropped[0]


def test_policy_without_operations_is_skipped_and_without_resources_grants_nothing() -> None:
    authorizer = Authorizer()
    authorizer.set_policies(
        "c",
        {
            PUBSUB: {
                "noops": {"operations": [], "resources": ["*"]},
                "nores": {"operations": [SUB]},
            }
        },
    )
    assert not authorizer.is_allowed(PUBSUB, "c", PUB, "t")
    assert not authorizer.is_allowed(PUBSUB, "c", SUB, "t")


def test_operation_star_and_lookup_order() -> None:
    authorizer = Authorizer()
    authorizer.set_policies(
        "c",
        {
            PUBSUB: {
                "exact": {"operations": [PUB], "resources": ["a"]},
                "any": {"operations": ["*"], "resources": ["b"]},
            }
        },
    )
    assert authorizer.is_allowed(PUBSUB, "c", PUB, "a")
    assert authorizer.is_allowed(PUBSUB, "c", PUB, "b")  # falls through to (principal, *)
    assert authorizer.is_allowed(PUBSUB, "c", SUB, "b")
    assert not authorizer.is_allowed(PUBSUB, "c", SUB, "a")
    assert not authorizer.is_allowed(PUBSUB, "other", PUB, "a")  # a component grants only itself


def test_access_control_as_json_string_with_case_insensitive_keys() -> None:
    authorizer = Authorizer()
    policy = {"AWS.Greengrass.IPC.PubSub": {"p": {"Operations": [PUB], "RESOURCES": ["x/*"]}}}
    authorizer.set_policies("c", json.dumps(policy))
    assert authorizer.is_allowed(PUBSUB, "c", PUB, "x/1")


def test_unreadable_access_control_is_refused_and_keeps_old_grants() -> None:
    authorizer = _auth("c", PUBSUB, [PUB], ["t"])
    with pytest.raises(PolicyError, match="not JSON"):
        authorizer.set_policies("c", "{not json")
    with pytest.raises(PolicyError, match="must be a map"):
        authorizer.set_policies("c", ["list"])
    assert authorizer.is_allowed(PUBSUB, "c", PUB, "t")


def test_denial_names_who_what_and_where_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    authorizer = _auth("c", PUBSUB, [PUB], ["t"])
    with caplog.at_level(logging.WARNING), pytest.raises(AuthorizationDenied) as denied:
        authorizer.check(PUBSUB, "c", PUB, "other")
    assert str(denied.value) == (
        "Principal c is not authorized to perform aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic "
        "on resource other"
    )
    line = next(r.getMessage() for r in caplog.records if "ipc_unauthorized" in r.getMessage())
    assert "component=c" in line and "resource=other" in line and f"operation={PUB}" in line


def test_operation_not_registered_for_destination() -> None:
    authorizer = _auth("c", PUBSUB, ["*"], ["*"])
    with pytest.raises(AuthorizationDenied, match="not registered for operation"):
        authorizer.check(PUBSUB, "c", IOT_PUB, "t")


def test_policy_updates_and_removal_take_effect_immediately() -> None:
    authorizer = _auth("c", PUBSUB, [PUB], ["a"])
    assert authorizer.is_allowed(PUBSUB, "c", PUB, "a")  # cached decision
    authorizer.set_policies("c", {PUBSUB: {"p": {"operations": [PUB], "resources": ["b"]}}})
    assert not authorizer.is_allowed(PUBSUB, "c", PUB, "a")
    authorizer.remove("c")
    assert not authorizer.is_allowed(PUBSUB, "c", PUB, "b")
