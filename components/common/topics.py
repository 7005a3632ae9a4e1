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
# Sensing re-publishes what Sync asks for again (edgebundle.replay.v1)
SENSING_REPLAY = f"{PREFIX}/sensing/replay"

# Inference publishes
ANOMALIES = f"{PREFIX}/inference/anomalies"
INFERENCE_STATUS = f"{PREFIX}/inference/status"

# Quality inspection subscribes to the trigger and publishes decisions and its health
INSPECTION_TRIGGER = f"{PREFIX}/inspection/trigger"
INSPECTION_DECISIONS = f"{PREFIX}/inspection/decisions"
INSPECTION_HEALTH = f"{PREFIX}/inspection/health"
INSPECTION_REPLAY = f"{PREFIX}/inspection/replay"

# Sync publishes its own status
SYNC_STATUS = f"{PREFIX}/sync/status"
# Sync asks the producers for messages it missed (edgebundle.replay-request.v1)
REPLAY_REQUESTS = f"{PREFIX}/sync/replay-requests"

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

# Where each replayed topic's producer answers replay requests (edgebundle.replay.v1).
REPLAY_TOPICS: dict[str, str] = {
    READINGS: SENSING_REPLAY,
    ALERTS: SENSING_REPLAY,
    INSPECTION_DECISIONS: INSPECTION_REPLAY,
}
