"""Deployment files: validation, configurationUpdate (reset then merge), changes at run time."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcore.control import control_request
from localcore.runner.deployment import load_deployment, parse_deployment
from localcore.runner.errors import DeploymentError
from localcore.runner.limits import ResourceLimits
from localcore.testing import running_core

from .conftest import lifecycle

CONFIGURED = "test.life.Configured"


def test_a_deployment_file_in_json_or_yaml(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text(
        "components:\n  a:\n    componentVersion: '1.0.0'\n    configurationUpdate:\n      reset: ['/x']\n      merge: {x: 1}\n"
        "    runWith:\n      systemResourceLimits: {memory: 1024, cpus: 0.5}\n  b: {}\n"
    )
    (tmp_path / "d.json").write_text(
        json.dumps({"components": {"a": {"configurationUpdate": {"merge": '{"x": 1}'}}}})
    )
    parsed = load_deployment(tmp_path / "d.yaml")
    assert (parsed["a"].version, parsed["a"].merge, parsed["a"].reset) == ("1.0.0", {"x": 1}, ["/x"])
    assert parsed["a"].limits == ResourceLimits(memory_kb=1024, cpus=0.5)
    assert parsed["b"].merge is None and not parsed["b"].limits
    # the Greengrass API's merge is a JSON string: accepted as well
    assert load_deployment(tmp_path / "d.json")["a"].merge == {"x": 1}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "deployment: expected a mapping with a 'components' key"),
        ({"components": []}, "deployment: components: expected a mapping of component name to its settings"),
        ({"components": {"a": 5}}, "deployment: components.a: expected a mapping"),
        (
            {"components": {"a": {"componentVersion": 1}}},
            "components.a.componentVersion: expected a version string, got 1",
        ),
        (
            {"components": {"a": {"configurationUpdate": {"merge": "{bad"}}}},
            "components.a.configurationUpdate.merge: expected a JSON object",
        ),
        (
            {"components": {"a": {"configurationUpdate": {"merge": [1]}}}},
            "components.a.configurationUpdate.merge: expected a mapping, got list",
        ),
        (
            {"components": {"a": {"configurationUpdate": {"reset": "/x"}}}},
            "configurationUpdate.reset: expected a list of JSON pointers",
        ),
        (
            {"components": {"a": {"configurationUpdate": {"reset": ["x"]}}}},
            "expected JSON pointers starting with '/', got 'x'",
        ),
        (
            {"components": {"a": {"runWith": {"systemResourceLimits": {"memory": "lots"}}}}},
            "memory: expected a positive whole number of kilobytes, got 'lots'",
        ),
        (
            {"components": {"a": {"runWith": {"systemResourceLimits": {"cpus": -1}}}}},
            "cpus: expected a positive number of CPU cores, got -1",
        ),
    ],
)
def test_bad_deployments_are_named(document: Any, message: str) -> None:
    with pytest.raises(DeploymentError) as caught:
        parse_deployment(document, "deployment")
    assert message in str(caught.value)


def test_reset_then_merge_over_defaults(tmp_path: Path) -> None:
    # GIVEN a first run that changed "mode" and "interval" (configuration persists under the root)
    first = {
        "components": {
            CONFIGURED: {
                "configurationUpdate": {"merge": {"mode": "fast", "interval": 1, "mqtt": {"port": 1883}}}
            }
        }
    }
    with running_core(tmp_path, lifecycle("configured"), deployment=first) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        assert core.config.snapshot(CONFIGURED) == {
            "interval": 1,
            "mqtt": {"port": 1883, "host": "localhost"},
            "mode": "fast",
        }
    # WHEN a second deployment resets /mode and /mqtt and merges a new interval and key
    second = {
        "components": {
            CONFIGURED: {
                "configurationUpdate": {
                    "reset": ["/mode", "/mqtt"],
                    "merge": {"interval": 2, "extra": [1, 2]},
                }
            }
        }
    }
    with running_core(tmp_path, lifecycle("configured"), deployment=second) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        # THEN reset went first (back to the defaults), then the merge
        assert core.config.snapshot(CONFIGURED) == {
            "interval": 2,
            "mqtt": {"port": 8883, "host": "localhost"},
            "mode": "normal",
            "extra": [1, 2],
        }
        # AND the component sees it over IPC
        answer = core.client_for(CONFIGURED).get_configuration(key_path=["interval"])
        assert answer.value == {"interval": 2}


def test_a_version_the_recipe_does_not_have_is_refused(tmp_path: Path) -> None:
    deployment = {"components": {CONFIGURED: {"componentVersion": "9.9.9"}}}
    with running_core(tmp_path, lifecycle("configured", "finishes"), deployment=deployment) as core:
        core.wait_for_state("test.life.Finishes", "FINISHED")
        assert "expected 1.0.0 (the recipe's version), got 9.9.9" in str(core.runner.refused[CONFIGURED])


def test_config_set_at_run_time_is_announced_to_subscribers(tmp_path: Path) -> None:
    with running_core(tmp_path, lifecycle("configured"), control=True) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        events: list[Any] = []
        heard = threading.Event()

        def on_event(event: Any) -> None:
            events.append(event)
            heard.set()

        client = core.client_for(CONFIGURED)
        client.subscribe_to_configuration_update(key_path=["mqtt"], on_stream_event=on_event)
        # WHEN an operator sets a value through the control channel (what `localcore config set` does)
        result = control_request(
            core.root, "config.set", {"component": CONFIGURED, "keyPath": ["mqtt", "port"], "value": 9000}
        )
        # config set is a configuration-only local deployment (issue #17): its id comes back too.
        assert result.pop("deploymentId")
        assert result == {"component": CONFIGURED, "keyPath": ["mqtt", "port"], "value": 9000}
        # THEN the subscriber hears of it and GetConfiguration answers the new value
        assert heard.wait(10)
        assert events[0].configuration_update_event.key_path[:1] == ["mqtt"]
        assert client.get_configuration(key_path=["mqtt", "port"]).value == {"port": 9000}
        assert control_request(core.root, "config.get", {"component": CONFIGURED, "keyPath": ["mqtt"]}) == {
            "port": 9000,
            "host": "localhost",
        }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)
deployment_keys = st.sampled_from(
    [
        "componentVersion",
        "configurationUpdate",
        "runWith",
        "merge",
        "reset",
        "systemResourceLimits",
        "memory",
        "cpus",
    ]
)


def nested(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        json_values, lambda children: st.dictionaries(keys, children, max_size=4), max_leaves=12
    )


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), nested(deployment_keys), max_size=3))
def test_any_deployment_parses_or_raises_a_deployment_error(components: dict[str, Any]) -> None:
    try:
        parsed = parse_deployment({"components": components}, "d.yaml")
    except DeploymentError as err:
        assert str(err).startswith("d.yaml: components")
    else:
        assert set(parsed) == {str(name) for name in components}


def test_an_access_control_change_at_run_time_reaches_the_ipc_server(tmp_path: Path) -> None:
    from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage, UnauthorizedError

    message = PublishMessage(json_message=JsonMessage(message={"a": 1}))

    interpolating = {
        "components": {
            "aws.greengrass.Nucleus": {
                "configurationUpdate": {"merge": {"interpolateComponentConfiguration": True}}
            }
        }
    }
    with running_core(
        tmp_path, lifecycle("configured"), thing_name="line-3", control=True, deployment=interpolating
    ) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        client = core.client_for(CONFIGURED)
        # GIVEN a component without any grant: its publish is refused
        with pytest.raises(UnauthorizedError):
            client.publish_to_topic(topic="factory/line-3/x", publish_message=message)
        # WHEN an operator grants it (recipe variables work there too: the nucleus interpolates them)
        policy = {
            "aws.greengrass.ipc.pubsub": {
                "p1": {
                    "operations": ["aws.greengrass#PublishToTopic"],
                    "resources": ["factory/{iot:thingName}/*"],
                }
            }
        }
        control_request(
            core.root, "config.set", {"component": CONFIGURED, "keyPath": ["accessControl"], "value": policy}
        )
        # THEN the same client may publish
        client.publish_to_topic(topic="factory/line-3/x", publish_message=message)


def test_changed_recipe_defaults_apply_unless_customized(tmp_path: Path) -> None:
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    original = (lifecycle("configured")[0]).read_text()
    (recipes / "configured.yaml").write_text(original)
    # GIVEN a first run where the deployment customized "interval"
    first = {"components": {CONFIGURED: {"configurationUpdate": {"merge": {"interval": 1}}}}}
    with running_core(tmp_path, recipes, deployment=first) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
    # WHEN the recipe's defaults change (interval, mode, mqtt.port) and the core runs again
    changed = (
        original.replace("interval: 5", "interval: 10")
        .replace("mode: normal", "mode: eco")
        .replace("port: 8883", "port: 8884")
    )
    (recipes / "configured.yaml").write_text(changed)
    with running_core(tmp_path, recipes) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        configuration = core.config.snapshot(CONFIGURED)
    # THEN the untouched keys follow the recipe, the customized one stays
    assert configuration == {"interval": 1, "mqtt": {"port": 8884, "host": "localhost"}, "mode": "eco"}
