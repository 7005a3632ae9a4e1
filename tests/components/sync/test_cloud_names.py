"""The cloud names Sync uses (bucket, key prefixes, alerts topic, region) come from its
configuration, never from ``bundle.yaml`` at run time (issue #16).

``bundle.yaml`` stays the one source of the cloud's names for the CDK app and the embedded cloud;
the component's defaults equal them, and a deployment sets any that differ
(``infra/greengrass/infrastructure.py`` ``sync_configuration``; tested in ``tests/infra``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
import yaml

from bundlespec import load_spec
from components.common.exceptions import ConfigError
from components.common.live_config import deep_merge, validate_config
from components.sync.component import SyncComponent
from components.sync.config import FALLBACK_REGION, SyncConfig, aws_region, bucket_name
from components.sync.sinks import MemoryMessageSink, MemoryObjectSink
from components.sync.store.sqlite import SqliteStore
from tests.components.rig import recipe_defaults

from .conftest import alert, reading

PROJECT = Path(__file__).resolve().parents[3]
SYNC = "com.edgebundle.Sync"


def local_configuration() -> SyncConfig:
    """Sync's configuration under `make run`: recipe defaults with deployments/local.yaml merged."""
    local = yaml.safe_load((PROJECT / "deployments" / "local.yaml").read_text(encoding="utf-8"))
    merge = local["components"][SYNC].get("configurationUpdate", {}).get("merge", {})
    return validate_config(SyncConfig, deep_merge(recipe_defaults(SYNC, "dev-1"), merge))


def test_the_local_run_uses_the_names_the_embedded_cloud_is_provisioned_with() -> None:
    # GIVEN bundle.yaml (the embedded cloud provisions from it) and the local deployment
    spec, config = load_spec(), local_configuration()
    # THEN Sync's effective names are bundle.yaml's: its bucket in moto's account, keys, topic
    assert bucket_name(config.bucket_prefix, spec.local_account, spec.region) == spec.bucket_name(
        spec.local_account
    )
    assert (config.batch_key_prefix, config.image_key_prefix) == (
        spec.data.batch_key_prefix,
        spec.data.image_key_prefix,
    )
    assert config.alerts_topic == spec.iot.alerts_topic


def test_the_configured_region_wins_then_the_cores_then_the_fallback() -> None:
    env = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-central-1"}
    assert aws_region(SyncConfig(region="ap-south-1"), env) == "ap-south-1"
    assert aws_region(SyncConfig(), env) == "eu-west-1"
    assert aws_region(SyncConfig(), {"AWS_DEFAULT_REGION": "eu-central-1"}) == "eu-central-1"
    assert aws_region(SyncConfig(), {}) == FALLBACK_REGION == load_spec().region


@pytest.fixture
def component(tmp_path: Path) -> SyncComponent:
    config = validate_config(SyncConfig, {"storeDir": str(tmp_path / "store"), "batch": {"maxAgeSeconds": 0}})
    store = SqliteStore(tmp_path / "store" / "sync.db")
    return SyncComponent(config, store, MemoryObjectSink(), MemoryMessageSink(), "dev-1")


def drain(component: SyncComponent) -> None:
    for _ in range(100):
        if not component.uploader.step():
            return
    raise AssertionError("upload did not settle")


def test_key_prefixes_and_the_alerts_topic_follow_a_live_configuration_change(
    component: SyncComponent,
) -> None:
    # GIVEN a running configuration changed to other key prefixes and another alerts topic
    component.apply(
        msgspec.structs.replace(
            component.config, batch_key_prefix="lake/raw", alerts_topic="plant/{thing}/alarms"
        )
    )
    # WHEN a reading and an alert are taken in and uploaded
    component.ingestor.offer("readings", reading(1))
    component.ingestor.offer("alerts", alert(1))
    component.ingestor.flush()
    drain(component)
    # THEN the batch lands under the new prefix and the alert on the new topic
    objects, messages = component.uploader.objects, component.uploader.messages
    assert isinstance(objects, MemoryObjectSink) and isinstance(messages, MemoryMessageSink)
    assert [key.split("/")[:3] for key in objects.objects] == [["lake", "raw", "dev-1"]]
    [(topic, payload)] = messages.messages
    assert topic == "plant/dev-1/alarms" and json.loads(payload)["alertId"] == "a1"
    component.store.close()


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"bucket": "another-bucket"}, "bucket"),
        ({"bucket_prefix": "another-prefix"}, "bucketPrefix"),
        ({"region": "eu-west-1"}, "region"),
    ],
)
def test_the_bucket_and_region_cannot_change_while_running(
    component: SyncComponent, change: dict[str, str], key: str
) -> None:
    # The S3 client and its bucket are made once at start: a change would be silently ignored.
    with pytest.raises(ConfigError, match=f"^{key}: cannot change while running .*deploy it with a restart"):
        component.apply(msgspec.structs.replace(component.config, **change))
    component.store.close()


def test_the_running_component_never_loads_bundlespec_or_yaml() -> None:
    # GIVEN a fresh interpreter in which bundlespec cannot be imported at all (as in Sync's artifact)
    probe = (
        "import sys\n"
        "sys.modules['bundlespec'] = None\n"
        "import components.sync.__main__\n"
        "from components.common.live_config import validate_config\n"
        "from components.sync.component import SyncComponent\n"
        "from components.sync.config import SyncConfig\n"
        "from components.sync.sinks import MemoryMessageSink, MemoryObjectSink\n"
        "from components.sync.store.sqlite import SqliteStore\n"
        "import tempfile\n"
        "root = tempfile.mkdtemp()\n"
        "config = validate_config(SyncConfig, {'storeDir': root})\n"
        "component = SyncComponent(config, SqliteStore(root + '/sync.db'), MemoryObjectSink(),\n"
        "                          MemoryMessageSink(), 'dev-1')\n"
        "component.start(); component.stop(); component.store.close()\n"
        "print(','.join(sorted(m for m in ('bundlespec', 'yaml') if sys.modules.get(m))) or '-')\n"
    )
    # WHEN the entry point is imported and the component started and stopped
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    # THEN it worked, and neither bundlespec nor a YAML reader was loaded
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "-", result.stdout
