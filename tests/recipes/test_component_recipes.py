"""Each component's recipe agrees with its code: name, version, dependencies, defaults, lifecycle,
and an ``accessControl`` that grants exactly the topics and shadows the code uses, nothing more.

One table drives every check, so a new component adds a row, not another copy of the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bundlespec import load_spec
from components.common import topics
from components.common.ipc import shadow_topic
from components.common.live_config import validate_config
from components.common.structs import ConfigStruct
from components.inference.config import InferenceConfig
from components.inspection.component import PUBLISHED_TOPICS as INSPECTION_PUBLISHES
from components.inspection.config import InspectionConfig
from components.sensing.component import PUBLISHED_TOPICS as SENSING_PUBLISHES
from components.sensing.config import SensingConfig
from components.sync.config import SyncConfig

ROOT = Path(__file__).resolve().parents[2]
# Where a resource names the core's thing. Not "{iot:thingName}": the nucleus interpolates
# accessControl only when its interpolateComponentConfiguration is true, false by default
# (reference greengrass-ipc.md 4.3), so a console or GDK deployment would leave it literal and
# deny every shadow call. "*" in a local topic or shadow resource matches any characters
# (STANDARD); "+" in an IoT Core topic matches one level (MQTT_STYLE).
THING = "*"
IOT_CORE_THING = "+"
ARTIFACT = {"Uri": "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/edgebundle.zip", "Unarchive": "ZIP"}


def _shadow_grants(shadow_name: str) -> dict[str, set[str]]:
    """What a component that keeps its configuration in a named shadow needs on it."""
    shadow = f"$aws/things/{THING}/shadow/name/{shadow_name}"
    return {
        "aws.greengrass#GetThingShadow": {shadow},
        "aws.greengrass#UpdateThingShadow": {shadow},
    }


def _delta(shadow_name: str) -> str:
    return shadow_topic(THING, shadow_name, "update/documents")


def _sensing_grants() -> dict[str, set[str]]:
    return {
        "aws.greengrass#PublishToTopic": set(SENSING_PUBLISHES),
        "aws.greengrass#SubscribeToTopic": {_delta(topics.SHADOW_SENSING), topics.REPLAY_REQUESTS},
        **_shadow_grants(topics.SHADOW_SENSING),
    }


def _inference_grants() -> dict[str, set[str]]:
    (model,) = InferenceConfig().models
    return {
        "aws.greengrass#PublishToTopic": {model.output_topic, topics.INFERENCE_STATUS},
        "aws.greengrass#SubscribeToTopic": {model.input_topic, _delta(topics.SHADOW_INFERENCE)},
        **_shadow_grants(topics.SHADOW_INFERENCE),
    }


def _inspection_grants() -> dict[str, set[str]]:
    return {
        "aws.greengrass#PublishToTopic": set(INSPECTION_PUBLISHES),
        "aws.greengrass#SubscribeToTopic": {
            topics.INSPECTION_TRIGGER,
            _delta(topics.SHADOW_INSPECTION),
            topics.REPLAY_REQUESTS,
        },
        **_shadow_grants(topics.SHADOW_INSPECTION),
    }


def _sync_grants() -> dict[str, set[str]]:
    return {
        "aws.greengrass#SubscribeToTopic": {
            *topics.TELEMETRY_TOPICS,
            *topics.REPLAY_TOPICS.values(),
            _delta(topics.SHADOW_SYNC),
        },
        "aws.greengrass#PublishToTopic": {topics.SYNC_STATUS, topics.REPLAY_REQUESTS},
        "aws.greengrass#PublishToIoTCore": {load_spec().iot.alerts_topic.format(thing=IOT_CORE_THING)},
        **_shadow_grants(topics.SHADOW_SYNC),
    }


@dataclass(frozen=True)
class ComponentRecipe:
    """What the code says one component's recipe must hold."""

    short_name: str  # after the bundle's component prefix
    module: str  # python -m components.<module>
    config_model: type[ConfigStruct]
    dependencies: frozenset[str]
    grants: Callable[[], dict[str, set[str]]]

    @property
    def recipe(self) -> dict[str, Any]:
        path = ROOT / "recipes" / f"{load_spec().greengrass.component_prefix}.{self.short_name}.yaml"
        loaded: dict[str, Any] = yaml.safe_load(path.read_text())
        return loaded


# No ShadowManager: nucleus lite resolves every dependency it has no recipe for in the cloud
# (see test_no_dependency_nucleus_lite_cannot_resolve).
NONE: frozenset[str] = frozenset()
COMPONENTS = [
    ComponentRecipe("Sensing", "sensing", SensingConfig, NONE, _sensing_grants),
    ComponentRecipe("Inference", "inference", InferenceConfig, NONE, _inference_grants),
    ComponentRecipe("QualityInspection", "inspection", InspectionConfig, NONE, _inspection_grants),
    # TokenExchangeService: the sync component's S3 credentials come from it.
    ComponentRecipe(
        "Sync", "sync", SyncConfig, frozenset({"aws.greengrass.TokenExchangeService"}), _sync_grants
    ),
]
by_name = pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.short_name)


def test_every_recipe_in_the_folder_is_checked_here() -> None:
    prefix = load_spec().greengrass.component_prefix
    on_disk = {path.name for path in (ROOT / "recipes").glob("*.yaml")}
    assert on_disk == {f"{prefix}.{component.short_name}.yaml" for component in COMPONENTS}


@by_name
def test_name_version_and_dependencies_follow_the_bundle(component: ComponentRecipe) -> None:
    spec = load_spec()
    recipe = component.recipe
    assert recipe["RecipeFormatVersion"] == "2020-01-25"
    assert recipe["ComponentName"] == f"{spec.greengrass.component_prefix}.{component.short_name}"
    assert isinstance(recipe["ComponentVersion"], str)  # the one version source (bundlebuild, gdk/, infra)
    assert set(recipe.get("ComponentDependencies") or {}) == component.dependencies


@by_name
def test_default_configuration_is_the_models_defaults(component: ComponentRecipe) -> None:
    defaults = component.recipe["ComponentConfiguration"]["DefaultConfiguration"]
    assert validate_config(component.config_model, defaults) == component.config_model()


@by_name
def test_access_control_grants_exactly_what_the_code_uses(component: ComponentRecipe) -> None:
    acl = component.recipe["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"]
    granted: dict[str, set[str]] = {}
    for service in acl.values():
        for policy in service.values():
            for operation in policy["operations"]:
                granted.setdefault(operation, set()).update(policy["resources"])
    assert granted == component.grants()
    resources = {resource for listed in granted.values() for resource in listed}
    # A wildcard stands only for the thing, in its own topic level, nowhere else.
    for resource in resources:
        levels = resource.split("/")
        assert all(level in (THING, IOT_CORE_THING) or not set(level) & {"*", "+", "#"} for level in levels)
        if THING in levels or IOT_CORE_THING in levels:
            assert levels.index(THING if THING in levels else IOT_CORE_THING) in (1, 2), resource
    assert not any("{" in resource for resource in resources), "recipe variables need interpolation"


@by_name
def test_lifecycle_follows_the_project_arrangement(component: ComponentRecipe) -> None:
    classic, lite = component.recipe["Manifests"]
    for manifest, install, run in ((classic, "Install", "Run"), (lite, "install", "run")):
        assert manifest["Artifacts"] == [ARTIFACT]
        lifecycle = manifest["Lifecycle"]
        assert set(lifecycle) == {"Setenv", install, run}
        assert lifecycle["Setenv"]["PYTHONPATH"] == "{artifacts:decompressedPath}/edgebundle"
        assert lifecycle[run]["Script"].endswith(f"exec python3 -u -m components.{component.module}")
        assert "bundlebuild/install.py" in lifecycle[install]["Script"]
    # one component, the same steps under either runtime
    assert [list(step.values()) for step in classic["Lifecycle"].values()] == [
        list(step.values()) for step in lite["Lifecycle"].values()
    ]
