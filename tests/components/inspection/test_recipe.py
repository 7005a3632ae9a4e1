"""The recipe agrees with the code: name, version, defaults, and exactly the access it uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components.common import topics
from components.common.ipc import shadow_topic
from components.common.live_config import validate_config
from components.inspection.component import PUBLISHED_TOPICS
from components.inspection.config import InspectionConfig

ROOT = Path(__file__).resolve().parents[3]
RECIPE: dict[str, Any] = yaml.safe_load(
    (ROOT / "recipes" / "com.edgebundle.QualityInspection.yaml").read_text()
)
THING = "{iot:thingName}"


def test_name_and_version_follow_the_bundle() -> None:
    bundle = yaml.safe_load((ROOT / "bundle.yaml").read_text())
    assert RECIPE["RecipeFormatVersion"] == "2020-01-25"
    assert RECIPE["ComponentName"] == f"{bundle['greengrass']['componentPrefix']}.QualityInspection"
    assert RECIPE["ComponentVersion"] == bundle["greengrass"]["componentVersion"]
    assert set(RECIPE["ComponentDependencies"]) == {"aws.greengrass.ShadowManager"}


def test_default_configuration_is_the_models_defaults() -> None:
    defaults = RECIPE["ComponentConfiguration"]["DefaultConfiguration"]
    assert validate_config(InspectionConfig, defaults) == InspectionConfig()


def test_access_control_grants_exactly_what_the_code_uses() -> None:
    acl = RECIPE["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"]
    assert set(acl) == {"aws.greengrass.ipc.pubsub", "aws.greengrass.ShadowManager"}
    granted: dict[str, set[str]] = {}
    for service in acl.values():
        for policy in service.values():
            for operation in policy["operations"]:
                granted.setdefault(operation, set()).update(policy["resources"])
    assert granted == {
        "aws.greengrass#PublishToTopic": set(PUBLISHED_TOPICS),
        "aws.greengrass#SubscribeToTopic": {
            topics.INSPECTION_TRIGGER,
            shadow_topic(THING, topics.SHADOW_INSPECTION, "update/delta"),
        },
        "aws.greengrass#GetThingShadow": {f"$aws/things/{THING}/shadow/name/{topics.SHADOW_INSPECTION}"},
        "aws.greengrass#UpdateThingShadow": {f"$aws/things/{THING}/shadow/name/{topics.SHADOW_INSPECTION}"},
    }
    assert not any("*" in resource for resources in granted.values() for resource in resources)


def test_lifecycle_follows_the_project_arrangement() -> None:
    (manifest,) = RECIPE["Manifests"]
    assert manifest["Artifacts"] == [
        {"Uri": "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/edgebundle.zip", "Unarchive": "ZIP"}
    ]
    lifecycle = manifest["Lifecycle"]
    assert lifecycle["Setenv"] == {"PYTHONPATH": "{artifacts:decompressedPath}/edgebundle"}
    assert lifecycle["Run"]["Script"].endswith("exec python3 -u -m components.inspection")
    assert "bundlebuild/install.py" in lifecycle["Install"]["Script"]
