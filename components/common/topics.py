"""Local pub/sub topic names and shadow names of the bundle: defined here once.

Recipes' ``accessControl`` is checked against these by ``tests/recipes`` so a recipe never grants
more (or less) than the code uses.
"""

from __future__ import annotations

PREFIX = "edgebundle"

# Sensing publishes
READINGS = f"{PREFIX}/sensing/readings"
ALERTS = f"{PREFIX}/sensing/alerts"
HEALTH = f"{PREFIX}/sensing/health"
ACTUATOR = f"{PREFIX}/sensing/actuator"

# Inference publishes
ANOMALIES = f"{PREFIX}/inference/anomalies"
INFERENCE_STATUS = f"{PREFIX}/inference/status"

# Quality inspection subscribes to the trigger and publishes decisions and its health
INSPECTION_TRIGGER = f"{PREFIX}/inspection/trigger"
INSPECTION_DECISIONS = f"{PREFIX}/inspection/decisions"
INSPECTION_HEALTH = f"{PREFIX}/inspection/health"

# Sync publishes its own status
SYNC_STATUS = f"{PREFIX}/sync/status"

# Named shadows on the core device (thing name from AWS_IOT_THING_NAME)
SHADOW_SENSING = "sensing-config"
SHADOW_INFERENCE = "inference-config"
SHADOW_INSPECTION = "inspection-config"
SHADOW_SYNC = "sync"

# The streams the sync component stores and forwards, by local topic.
TELEMETRY_TOPICS: dict[str, str] = {
    READINGS: "readings",
    ALERTS: "alerts",
    HEALTH: "health",
    ANOMALIES: "anomalies",
    INSPECTION_DECISIONS: "inspections",
}
