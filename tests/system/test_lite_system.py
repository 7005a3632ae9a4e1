"""The whole bundle under localcore's nucleus lite profile (``--nucleus lite``): the four
components start from ``recipes/`` (their lite manifests), readings reach inference and sync,
inspection decisions and alerts (the gateway disk-full alert included) reach sync, and sync
uploads to the embedded cloud with the credentials lite's token service provides.

What the profile holds the bundle to is ``/work/shared/reference/nucleus-lite.md`` (see
``localcore/profiles/lite.py``): no shadow operations (``ServiceError``), the 10,000-byte IPC
buffer, the 50-node subscription limit, string configuration from the recipes, lite's recipe
rules and environment. A message past a limit would close a component's connection or silence a
subscription, and the uploads checked here would stop.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .rig import COMPONENTS, INFERENCE, INSPECTION, SENSING, SYNC, SystemRig, system_rig, wait_for


def lite_deployment() -> dict[str, Any]:
    """Fast sensors and batches; every inference window published; a disk-full rule that fires
    at once. No ``aws.greengrass.ShadowManager`` entry: lite has no recipe for it, and a
    deployment naming it fails offline (nucleus-lite.md "Recipes")."""
    return {
        "components": {
            SENSING: {
                "configurationUpdate": {
                    "merge": {
                        "sensors": [
                            {"id": "line1-env", "driver": "simulated", "intervalSeconds": 0.1},
                            {"id": "gateway", "driver": "system", "intervalSeconds": 1.0},
                        ],
                        # The gateway disk-full alert of the defaults, with a threshold any disk passes.
                        "rules": [
                            {
                                "type": "threshold",
                                "id": "gateway-disk-full",
                                "sensor": "gateway",
                                "metric": "disk_percent",
                                "above": 0.0,
                                "hysteresis": 0.0,
                                "severity": "critical",
                            }
                        ],
                        "healthIntervalSeconds": 2.0,
                    }
                }
            },
            INFERENCE: {
                "configurationUpdate": {
                    "merge": {
                        "models": [
                            {
                                "name": "sensor-anomaly",
                                "model": "sensor_anomaly",
                                "variant": "int8",
                                "inputTopic": "edgebundle/sensing/readings",
                                "outputTopic": "edgebundle/inference/anomalies",
                                "hop": 1,
                                "publish": "all",
                            }
                        ]
                    }
                }
            },
            SYNC: {
                "configurationUpdate": {
                    "merge": {
                        "commitIntervalMs": 100,
                        "batch": {"maxRecords": 400, "maxBytes": 1048576, "maxAgeSeconds": 0.5},
                        "statusIntervalSeconds": 1,
                        "backoffInitialSeconds": 0.2,
                        "backoffMaxSeconds": 1.0,
                    }
                }
            },
        }
    }


def _environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def _streams(rig: SystemRig) -> set[str]:
    return {key.split("/")[2] for key in rig.s3_objects()}


def test_whole_system_under_the_lite_profile(tmp_path: Path) -> None:
    with system_rig(tmp_path, nucleus="lite", deployment_document=lite_deployment()) as rig:
        rig.start_core()  # every component RUNNING (and the witness)
        assert rig.control("status")["nucleus"] == "lite"
        wait_for(
            lambda: {"readings", "anomalies", "inspections"} <= _streams(rig),
            "readings, inference's anomaly scores and inspection decisions in S3",
            timeout=90,
        )
        # The rule fires on sensing's first gateway reading, maybe before sync subscribed: a
        # restart of sensing, with sync listening, raises it again.
        rig.control("restart", {"component": SENSING})
        rig.wait_for_state(SENSING, "RUNNING")
        wait_for(
            lambda: any(
                "gateway-disk-full" in json.dumps(item, default=str) for item in rig.dynamodb_alerts()
            ),
            "the gateway disk-full alert in the cloud's alerts table (sync forwarded it to IoT Core)",
            timeout=90,
        )
        for name in COMPONENTS:
            assert rig.state(name) == "RUNNING", f"{name}: {rig.log_tail(name)}"
        sync_env = _environment_of(rig.pid_of(SYNC))
        # nucleus-lite.md "Process environment": the credentials URI only for a TES dependent.
        assert sync_env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI", "").startswith("http://")
        assert sync_env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] == sync_env["SVCUID"]
        assert "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH" not in sync_env
        assert "AWS_CONTAINER_CREDENTIALS_FULL_URI" not in _environment_of(rig.pid_of(INSPECTION))
        # Each component said once per start that its shadow features are off (GetThingShadow:
        # ServiceError); sensing started twice.
        for name in COMPONENTS:
            starts = rig.log(name).count("STARTING -> RUNNING")
            assert starts >= 1 and rig.log(name).count("event=shadow_unavailable") == starts, rig.log_tail(
                name
            )
