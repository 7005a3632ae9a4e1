"""PutComponentMetric (NUC ``builtin/services/telemetry/ComponentMetricIPCEventStreamAgent``).

Nucleus rules kept: the caller needs ``aws.greengrass#PutComponentMetric`` on resource ``*`` under
``aws.greengrass.ipc.componentmetric`` *and* a name starting with ``aws.`` (the nucleus reserves
component metrics for AWS-provided components); every metric needs a name of 1..32 UTF-8 bytes, a
known unit and a value >= 0.
"""

from __future__ import annotations

import time
from typing import Any

from localcore.contracts import Metric
from localcore.ipc.context import Call
from localcore.ipc.errors import invalid_arguments, unauthorized

DESTINATION = "aws.greengrass.ipc.componentmetric"
UNITS = ("BYTES", "BYTES_PER_SECOND", "COUNT", "COUNT_PER_SECOND", "MEGABYTES", "SECONDS")


def put_component_metric(call: Call) -> dict[str, Any]:
    """Validate and keep the metrics; ``IpcServer.metrics()`` returns them."""
    denied = f"Principal {call.component} is not authorized to perform {DESTINATION}:{call.operation} "
    call.authorize(DESTINATION, "*", denial=denied)
    if not call.component.startswith("aws."):
        raise unauthorized(denied)
    raw = call.request.get("metrics")
    if not raw or not isinstance(raw, list):
        raise invalid_arguments("Null or Empty list of metrics found in PutComponentMetricRequest")
    now = time.time()
    metrics: list[Metric] = []
    for item in raw:
        name = item.get("name") if isinstance(item, dict) else None
        unit = item.get("unit") if isinstance(item, dict) else None
        value = item.get("value") if isinstance(item, dict) else None
        unit_key = "".join(ch for ch in str(unit or "") if ch.isalnum()).upper()
        units = {u.replace("_", ""): u for u in UNITS}
        if (
            not isinstance(name, str)
            or not name
            or len(name.encode("utf-8")) > 32
            or unit_key not in units
            or not isinstance(value, int | float)
            or isinstance(value, bool)
            or value < 0
        ):
            raise invalid_arguments("Invalid argument found in PutComponentMetricRequest")
        metrics.append(Metric(call.component, name, units[unit_key], float(value), now))
    call.core.metrics.add(metrics)
    return {}


HANDLERS = {"PutComponentMetric": put_component_metric}
