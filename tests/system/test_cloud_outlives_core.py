"""The embedded cloud started against a cloud that already holds state (``core_process.ExternalMoto``,
as after a core restart): the thing's cloud shadows survive the start.

moto's CreateThing replaces an existing thing and its shadows; the embedded cloud once called it
for every synced thing at start, so a restarted core found the cloud shadows gone and shadow sync
then deleted the local copies too (a one-sided delete propagates).
"""

from __future__ import annotations

import json
from pathlib import Path

from bundledev.cloud_description import describe_bundle
from bundlespec import load_spec
from localcore.cloud.moto_server import MotoCloud
from localcore.cloud.service import EmbeddedCloud
from localcore.shadows.store import ShadowStore

from .core_process import ExternalMoto
from .rig import THING


def test_a_started_cloud_keeps_the_shadows_the_cloud_already_holds(tmp_path: Path) -> None:
    moto = MotoCloud(describe_bundle(load_spec()), (THING,))
    moto.start()
    try:
        data = moto.client("iot-data")
        document = {"state": {"desired": {"config": {"sensorFaultSeverity": "warning"}}}}
        data.update_thing_shadow(thingName=THING, shadowName="sensing-config", payload=json.dumps(document))
        cloud = EmbeddedCloud(tmp_path, THING, description=describe_bundle(load_spec(), THING))
        cloud.moto = ExternalMoto(cloud.moto, moto.url)
        cloud.start()
        try:
            cloud.attach_shadows(ShadowStore(tmp_path / "shadows"))
            kept = json.loads(
                data.get_thing_shadow(thingName=THING, shadowName="sensing-config")["payload"].read()
            )
            assert kept["state"]["desired"] == document["state"]["desired"]
        finally:
            cloud.stop()
    finally:
        moto.stop()
