"""The recipe agrees with the code: name, version, defaults, and exactly the access it uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components.common import topics
from components.common.ipc import shadow_topic
from components.common.live_config import validate_config
from components.inference.config import InferenceConfig

ROOT = Path(__file__).resolve().parents[3]
RECIPE: dict[str, Any] = yaml.safe_load((ROOT / "recipes" / "com.edgebundle.Inference.yaml").read_text())
THING = "{iot:thingName}"


def test_name_and_version_follow_the_bundle() -> None:
    bundle = yaml.safe_load((ROOT / "bundle.yaml").read_text())
    assert RECIPE["RecipeFormatVersion"] == "2020-01-25"
    assert RECIPE["ComponentName"] == f"{bundle['greengrass']['componentPrefix']}.Inference"
    assert RECIPE["ComponentVersion"] == bundle["greengrass"]["componentVersion"]
    assert set(RECIPE["ComponentDependencies"]) == {"aws.greengrass.ShadowManager"}


def test_default_configuration_is_the_models_defaults() -> None:
    defaults = RECIPE["ComponentConfiguration"]["DefaultConfiguration"]
    assert validate_config(InferenceConfig, defaults) == InferenceConfig()


def test_access_control_grants_exactly_what_the_code_uses() -> None:
    acl = RECIPE["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"]
    granted: dict[str, set[str]] = {}
    for service in acl.values():
        for policy in service.values():
            for operation in policy["operations"]:
                granted.setdefault(operation, set()).update(policy["resources"])
    (model,) = InferenceConfig().models
    shadow = f"$aws/things/{THING}/shadow/name/{topics.SHADOW_INFERENCE}"
    assert granted == {
        "aws.greengrass#PublishToTopic": {model.output_topic, topics.INFERENCE_STATUS},
        "aws.greengrass#SubscribeToTopic": {
            model.input_topic,
            shadow_topic(THING, topics.SHADOW_INFERENCE, "update/delta"),
        },
        "aws.greengrass#GetThingShadow": {shadow},
        "aws.greengrass#UpdateThingShadow": {shadow},
    }


def test_lifecycle_follows_the_project_arrangement() -> None:
    (manifest,) = RECIPE["Manifests"]
    assert manifest["Artifacts"] == [
        {"Uri": "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/edgebundle.zip", "Unarchive": "ZIP"}
    ]
    lifecycle = manifest["Lifecycle"]
    assert lifecycle["Setenv"] == {"PYTHONPATH": "{artifacts:decompressedPath}/edgebundle"}
    assert lifecycle["Run"]["Script"].endswith("exec python3 -u -m components.inference")
    assert "bundlebuild/install.py" in lifecycle["Install"]["Script"]
