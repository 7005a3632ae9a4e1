"""A component that takes part in deployments as a careful Greengrass developer writes one.

Its configuration is ``{"interval": <positive number>, "deferFlag": <path or "">}``. At start it
applies the same validation it answers validation requests with, and exits 1 on a bad value. It
defers an update while the file ``deferFlag`` names exists, and acknowledges otherwise
(``recheck_after_ms=0``, the acknowledgement the Java nucleus needs: reference trap 3).
``--crash`` makes it exit at once (a new version that fails at start).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import (
    ComponentUpdatePolicyEvents,
    ConfigurationValidityReport,
    ConfigurationValidityStatus,
    ValidateConfigurationUpdateEvents,
)


def problem(configuration: dict[str, Any]) -> str | None:
    """The key-path message for a configuration this component cannot run with, else None."""
    interval = configuration.get("interval")
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
        return f"interval: expected a positive number of seconds, got {interval!r}"
    return None


def main() -> int:
    if "--crash" in sys.argv:
        print("crashing at start", flush=True)
        return 1
    client = GreengrassCoreIPCClientV2()
    configuration = client.get_configuration(key_path=[]).value
    bad = problem(configuration)
    if bad:
        print(f"refusing to start: {bad}", flush=True)
        return 1

    def on_validate(event: ValidateConfigurationUpdateEvents) -> None:
        request = event.validate_configuration_update_event
        assert request is not None
        reason = problem(request.configuration or {})
        report = ConfigurationValidityReport(
            status=ConfigurationValidityStatus.REJECTED if reason else ConfigurationValidityStatus.ACCEPTED,
            deployment_id=request.deployment_id,
            message=reason or "ok",
        )
        client.send_configuration_validity_report(configuration_validity_report=report)
        print(f"validated {request.deployment_id}: {reason or 'ACCEPTED'}", flush=True)

    def on_update(event: ComponentUpdatePolicyEvents) -> None:
        if event.pre_update_event is not None:
            deployment_id = event.pre_update_event.deployment_id
            flag = str(client.get_configuration(key_path=["deferFlag"]).value.get("deferFlag") or "")
            if flag and os.path.exists(flag):
                client.defer_component_update(
                    deployment_id=deployment_id, message="busy", recheck_after_ms=200
                )
                print(f"deferred {deployment_id}", flush=True)
            else:
                client.defer_component_update(deployment_id=deployment_id, recheck_after_ms=0)
                print(f"acknowledged {deployment_id}", flush=True)
        elif event.post_update_event is not None:
            print(f"post-update {event.post_update_event.deployment_id}", flush=True)

    client.subscribe_to_validate_configuration_updates(on_stream_event=on_validate)
    client.subscribe_to_component_updates(on_stream_event=on_update)
    client.update_state(state="RUNNING")
    print("participant ready", flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    sys.exit(main())
