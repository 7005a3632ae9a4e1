"""The embedded cloud as `localcore run` uses it, driven through the control channel and the CLI."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from localcore.cloud.cli import _fill, run_cloud_command
from localcore.cloud.service import CloudOptions, EmbeddedCloud
from localcore.contracts import IotMessage
from localcore.control import ControlServer
from localcore.shadows.store import ShadowStore
from tests.localcore.cloud.description import ALERTS_TABLE, DESCRIPTION, DESCRIPTION_FILE

THING = "dev-1"


def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait on a condition (never a bare sleep as synchronisation)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def cli(root: Path, *argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    _fill(parser)
    args = parser.parse_args([*argv, "--root", str(root)])
    out = io.StringIO()
    return run_cloud_command(args, out), out.getvalue()


@pytest.fixture
def running() -> Iterator[tuple[EmbeddedCloud, ShadowStore, Path]]:
    root = Path(tempfile.mkdtemp(prefix="lc-cloud-"))  # short: the control socket is a Unix socket
    options = CloudOptions(
        shadow_sync={"synchronize": {"coreThing": {"classic": True, "namedShadows": ["cfg"]}}},
        shadow_poll_interval=0.2,
    )
    cloud = EmbeddedCloud(root, THING, description=DESCRIPTION, options=options)
    cloud.start()
    store = ShadowStore(root / "shadows", rate_limits=None)
    cloud.attach_shadows(store)
    control = ControlServer(root)
    cloud.register_control(control)
    control.start()
    try:
        yield cloud, store, root
    finally:
        control.stop()
        cloud.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_publish_watch_offline_and_shadow_through_the_cli(
    running: tuple[EmbeddedCloud, ShadowStore, Path],
) -> None:
    cloud, store, root = running
    assert json.loads((root / "cloud" / "endpoint.json").read_text())["region"] == "us-east-1"

    # GIVEN a watcher on the alerts topic
    watched = io.StringIO()
    parser = argparse.ArgumentParser()
    _fill(parser)
    watch_args = parser.parse_args(["watch", "edgebundle/+/alerts", "--count", "1", "--root", str(root)])
    watcher = threading.Thread(target=run_cloud_command, args=(watch_args, watched), daemon=True)
    watcher.start()
    wait_for(lambda: cloud._watchers)
    # WHEN the device publishes an alert
    alert = {"alertKey": "k-cli", "value": 3}
    cloud.adapter.publish(IotMessage(f"edgebundle/{THING}/alerts", json.dumps(alert).encode(), qos=1))
    watcher.join(timeout=10)
    # THEN the watcher printed it and the rule wrote the item
    assert json.loads(watched.getvalue())["topic"] == f"edgebundle/{THING}/alerts"
    assert cloud.broker.flush()
    assert cloud.status()["rules"]["alerts_to_dynamodb"]["written"] == 1

    # a cloud command reaches a device subscriber
    received: list[bytes] = []
    cloud.adapter.subscribe(f"edgebundle/{THING}/commands", 1, lambda m: received.append(m.payload))
    code, out = cli(root, "publish", f"edgebundle/{THING}/commands", '{"do": "blink"}', "--qos", "1")
    assert code == 0 and json.loads(out) == {"delivered": 1}
    assert received == [b'{"do": "blink"}']

    # offline / online
    changes: list[bool] = []
    cloud.adapter.add_connection_listener(changes.append)
    assert cli(root, "offline")[0] == 0 and not cloud.adapter.is_connected()
    code, out = cli(root, "flaky", "--drop", "0.5")
    assert code == 0 and json.loads(out)["connectivity"] == "flaky"
    assert cli(root, "online")[0] == 0
    assert changes == [False, True]

    # the cloud's desired state arrives locally; shadow traffic shows on the cloud side
    shadow_topics: list[str] = []
    cloud.broker.subscribe("$aws/things/+/shadow/#", lambda m: shadow_topics.append(m.topic))
    code, _ = cli(root, "shadow", "update", THING, "--name", "cfg", '{"state": {"desired": {"rate": 7}}}')
    assert code == 0
    wait_for(lambda: (store.document(THING, "cfg") or {}).get("state", {}).get("desired") == {"rate": 7})
    # and reported goes up
    store.update(THING, "cfg", json.dumps({"state": {"reported": {"rate": 7}}}).encode())
    wait_for(lambda: (cloud.shadow_get(THING, "cfg") or {}).get("state", {}).get("reported") == {"rate": 7})
    wait_for(lambda: shadow_topics.count(f"$aws/things/{THING}/shadow/name/cfg/update/accepted") >= 2)
    code, out = cli(root, "shadow", "get", THING, "--name", "cfg")
    assert code == 0 and json.loads(out)["state"]["reported"] == {"rate": 7}


def test_bad_cli_input_gets_a_clear_error(
    running: tuple[EmbeddedCloud, ShadowStore, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, root = running
    assert cli(root, "publish", "a/+/b", "x")[0] == 1
    assert "wildcard" in capsys.readouterr().err
    assert cli(root, "shadow", "update", THING, "{not json")[0] == 1
    assert "not JSON" in capsys.readouterr().err
    assert cli(root, "shadow", "update", THING, '{"desired": {}}')[0] == 1
    assert '"state"' in capsys.readouterr().err
    assert cli(root, "shadow", "get", THING, "--name", "nothing-here")[0] == 1
    assert cli(root, "watch", "a/#/b")[0] == 1
    assert "'#' must be" in capsys.readouterr().err


def test_stop_dumps_what_reached_the_cloud() -> None:
    root = Path(tempfile.mkdtemp(prefix="lc-cloud-"))
    try:
        with EmbeddedCloud(root, THING, description=DESCRIPTION) as cloud:
            cloud.adapter.publish(IotMessage(f"edgebundle/{THING}/alerts", b'{"alertKey": "dump-1"}', qos=1))
            s3 = cloud.moto.client("s3", endpoint_url=cloud.proxy.url if cloud.proxy else None)
            s3.put_object(Bucket=cloud.moto.bucket, Key="telemetry/x.json", Body=b"{}")
        lines = (root / "cloud" / "dynamodb" / f"{ALERTS_TABLE}.jsonl").read_text().splitlines()
        assert [json.loads(line)["alertKey"] for line in lines] == ["dump-1"]
        assert (root / "cloud" / "s3" / cloud.moto.bucket / "telemetry" / "x.json").read_bytes() == b"{}"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_options_come_from_the_deployment() -> None:
    options = CloudOptions.from_configuration(
        {
            "aws.greengrass.Nucleus": {
                "mqtt": {"spooler": {"maxSizeInBytes": 1000, "keepQos0WhenOffline": True}}
            },
            "aws.greengrass.ShadowManager": {"synchronize": {"coreThing": {"classic": True}}},
        },
        schedule="online:5,offline:5",
    )
    assert options.spooler.max_size_in_bytes == 1000 and options.spooler.keep_qos0_when_offline
    assert options.shadow_sync == {"synchronize": {"coreThing": {"classic": True}}}
    assert options.schedule == "online:5,offline:5"


def test_the_main_cli_has_the_cloud_commands_and_run_options(
    running: tuple[EmbeddedCloud, ShadowStore, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from localcore.cli import build_parser, main

    _, _, root = running
    assert main(["cloud", "status", "--root", str(root)]) == 0
    assert json.loads(capsys.readouterr().out)["connectivity"] == "online"

    base = ["run", "--recipes", "recipes", "--thing-name", THING]
    args = build_parser().parse_args(
        [*base, "--connectivity", "online:5,offline:5", "--cloud-description", str(DESCRIPTION_FILE)]
    )
    assert args.cloud_description == DESCRIPTION
    assert callable(args.make_cloud(args))
    recording = build_parser().parse_args([*base, "--cloud", "recording"])
    assert recording.make_cloud(recording) is None
    with pytest.raises(SystemExit):
        build_parser().parse_args([*base, "--connectivity", "sometimes:5"])
    assert "state must be one of" in capsys.readouterr().err


def test_a_bad_cloud_description_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from localcore.cli import build_parser

    bad = tmp_path / "cloud.yaml"
    bad.write_text("buckets: [a]\nthingGroup: fleet\n")
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["run", "--recipes", "r", "--thing-name", THING, "--cloud-description", str(bad)]
        )
    assert "thingGroup: unknown key; expected one of" in capsys.readouterr().err


def test_without_a_deployment_setting_the_descriptions_shadows_sync(tmp_path: Path) -> None:
    """ShadowManager syncs what the fleet deployment configures: the description's shadowSync,
    unless the local deployment configures ShadowManager itself."""
    options = CloudOptions.from_configuration({})
    assert options.shadow_sync is None
    cloud = EmbeddedCloud(tmp_path, THING, description=DESCRIPTION, options=options)
    assert cloud.sync_config.shadows == {(THING, "config"), (THING, "status")}
    given = CloudOptions(shadow_sync={"synchronize": {"coreThing": {"classic": True}}})
    assert EmbeddedCloud(tmp_path, THING, description=DESCRIPTION, options=given).sync_config.shadows == {
        (THING, "")
    }


@pytest.mark.parametrize(
    ("component", "merge", "fragment"),
    [
        (
            "aws.greengrass.Nucleus",
            {"mqtt": {"spooler": {"maxSizeInBytes": "big"}}},
            "maxSizeInBytes: expected a positive",
        ),
        (
            "aws.greengrass.Nucleus",
            {"mqtt": {"spooler": {"keepQos0WhenOffline": "yes"}}},
            "keepQos0WhenOffline",
        ),
        ("aws.greengrass.ShadowManager", {"synchronize": {"direction": "up"}}, "synchronize.direction"),
    ],
)
def test_bad_deployment_settings_name_the_key(
    component: str, merge: dict[str, object], fragment: str
) -> None:
    from localcore.runner.errors import DeploymentError

    with pytest.raises(DeploymentError, match=fragment):
        CloudOptions.from_configuration({component: merge})


def test_the_factory_reads_the_deployments_configuration(tmp_path: Path) -> None:
    from localcore.cloud.service import embedded_cloud_factory
    from localcore.contracts import CloudContext

    context = CloudContext(
        root=tmp_path,
        thing_name=THING,
        region="us-east-1",
        configuration={"aws.greengrass.Nucleus": {"mqtt": {"spooler": {"maxSizeInBytes": 4096}}}},
        shadows=ShadowStore(tmp_path / "shadows", rate_limits=None),
    )
    cloud = embedded_cloud_factory("online:1,offline:1", description=DESCRIPTION)(context)
    assert cloud.adapter.spooler.max_size_in_bytes == 4096
    assert cloud.options.schedule == "online:1,offline:1"


def test_run_fresh_cloud_reaches_the_embedded_cloud(tmp_path: Path) -> None:
    from localcore.cli import build_parser
    from localcore.contracts import CloudContext

    base = [
        "run",
        "--recipes",
        "recipes",
        "--thing-name",
        THING,
        "--cloud-description",
        str(DESCRIPTION_FILE),
    ]
    context = CloudContext(
        root=tmp_path,
        thing_name=THING,
        region="us-east-1",
        configuration={},
        shadows=ShadowStore(tmp_path / "shadows", rate_limits=None),
    )
    kept = build_parser().parse_args(base)
    assert kept.make_cloud(kept)(context).options.fresh is False
    fresh = build_parser().parse_args([*base, "--fresh-cloud"])
    assert fresh.make_cloud(fresh)(context).options.fresh is True
