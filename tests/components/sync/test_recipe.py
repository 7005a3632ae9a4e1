"""The recipe agrees with the code: name, version, defaults, and exactly the access it uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bundlespec import load_spec
from components.common import topics
from components.common.ipc import shadow_topic
from components.common.live_config import validate_config
from components.sync.config import SyncConfig

ROOT = Path(__file__).resolve().parents[3]
RECIPE: dict[str, Any] = yaml.safe_load((ROOT / "recipes" / "com.edgebundle.Sync.yaml").read_text())
THING = "{iot:thingName}"


def test_name_version_and_dependencies() -> None:
    spec = load_spec()
    assert RECIPE["RecipeFormatVersion"] == "2020-01-25"
    assert RECIPE["ComponentName"] == f"{spec.greengrass.component_prefix}.Sync"
    assert RECIPE["ComponentVersion"] == spec.greengrass.component_version
    # TokenExchangeService: boto3's default credential chain gets S3 credentials from it.
    assert set(RECIPE["ComponentDependencies"]) == {
        "aws.greengrass.ShadowManager",
        "aws.greengrass.TokenExchangeService",
    }


def test_default_configuration_is_the_models_defaults() -> None:
    defaults = RECIPE["ComponentConfiguration"]["DefaultConfiguration"]
    assert validate_config(SyncConfig, defaults) == SyncConfig()


def test_access_control_grants_exactly_what_the_code_uses() -> None:
    acl = RECIPE["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"]
    granted: dict[str, set[str]] = {}
    for service in acl.values():
        for policy in service.values():
            for operation in policy["operations"]:
                granted.setdefault(operation, set()).update(policy["resources"])
    shadow = f"$aws/things/{THING}/shadow/name/{topics.SHADOW_SYNC}"
    assert granted == {
        "aws.greengrass#SubscribeToTopic": {
            *topics.TELEMETRY_TOPICS,
            shadow_topic(THING, topics.SHADOW_SYNC, "update/delta"),
        },
        "aws.greengrass#PublishToTopic": {topics.SYNC_STATUS},
        "aws.greengrass#PublishToIoTCore": {load_spec().iot.alerts_topic.format(thing=THING)},
        "aws.greengrass#GetThingShadow": {shadow},
        "aws.greengrass#UpdateThingShadow": {shadow},
    }
    assert not any("*" in resource for resources in granted.values() for resource in resources)


def test_lifecycle_follows_the_project_arrangement() -> None:
    (manifest,) = RECIPE["Manifests"]
    assert manifest["Artifacts"] == [
        {"Uri": "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/edgebundle.zip", "Unarchive": "ZIP"}
    ]
    lifecycle = manifest["Lifecycle"]
    assert lifecycle["Setenv"] == {"PYTHONPATH": "{artifacts:decompressedPath}/edgebundle"}
    assert lifecycle["Run"]["Script"].endswith("exec python3 -u -m components.sync")
    assert "bundlebuild/install.py" in lifecycle["Install"]["Script"]
