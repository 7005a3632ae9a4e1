"""The sync component's configuration: validated at the boundary, with per-stream policies.

A deployment (or the ``sync`` shadow's ``desired.config``) overrides only what it names: a stream
missing from ``streams`` keeps its default policy, and a stream given partially keeps the default
for the fields it leaves out (see :func:`effective_policies`).

Example (recipe ``DefaultConfiguration`` or a deployment's ``configurationUpdate.merge``)::

    {"dailyByteBudget": 50000000,
     "streams": {"readings": {"upload": "deadband", "deadband": {"temperature": 0.5},
                              "heartbeatSeconds": 60}}}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from components.common import topics

Destination = Literal["iot", "s3"]
FullStrategy = Literal["RejectNewData", "OverwriteOldestData"]
UploadMode = Literal["all", "deadband"]
Compression = Literal["zstd", "gzip"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class StreamPolicy(_Model):
    """How one stream is kept and forwarded.

    ``priority``: higher drains first (alerts are highest by default). ``ttlSeconds``: records older
    than this are dropped unsent (0 = keep until sent). ``maxBytes`` and ``strategyOnFull``: Stream
    Manager's semantics, reject the new record or drop the oldest. ``upload``: ``all`` or
    ``deadband`` (a reading is kept when a field in ``deadband`` moved by at least its threshold,
    a field is missing or appears, the quality changes, or ``heartbeatSeconds`` passed since the
    last kept one). ``resolution``: per-field grid values are rounded to before delta encoding
    (the sensor's resolution); fields not named are stored exactly. ``iotTopic``: the IoT Core
    topic template (``{thing}`` expanded) for ``destination: iot``; empty means the bundle's
    ``iot.alertsTopic``.
    """

    destination: Destination = "s3"
    priority: int = Field(default=10, ge=0, le=1000)
    ttl_seconds: float = Field(default=7 * 86400.0, ge=0, alias="ttlSeconds")
    max_bytes: int = Field(default=256 * 1024 * 1024, gt=0, alias="maxBytes")
    strategy_on_full: FullStrategy = Field(default="OverwriteOldestData", alias="strategyOnFull")
    upload: UploadMode = "all"
    deadband: dict[str, float] = Field(default_factory=dict)
    heartbeat_seconds: float = Field(default=60.0, gt=0, alias="heartbeatSeconds")
    resolution: dict[str, float] = Field(default_factory=dict)
    iot_topic: str = Field(default="", alias="iotTopic")

    @model_validator(mode="after")
    def _check(self) -> StreamPolicy:
        for name, threshold in self.deadband.items():
            if threshold < 0:
                raise ValueError(f"deadband.{name}: must be >= 0 (got {threshold})")
        for name, step in self.resolution.items():
            if step <= 0:
                raise ValueError(f"resolution.{name}: must be > 0 (got {step})")
        if self.upload == "deadband" and not self.deadband:
            raise ValueError("upload 'deadband' needs at least one field in 'deadband'")
        return self

    @property
    def is_bulk(self) -> bool:
        """Bulk streams go to S3 in batches; they pause on budget and low disk."""
        return self.destination == "s3"


DEFAULT_POLICIES: dict[str, dict[str, Any]] = {
    "alerts": {"destination": "iot", "priority": 100, "ttlSeconds": 30 * 86400.0,
               "maxBytes": 64 * 1024 * 1024, "strategyOnFull": "RejectNewData"},
    "inspections": {"priority": 50, "maxBytes": 128 * 1024 * 1024},
    "anomalies": {"priority": 40, "maxBytes": 128 * 1024 * 1024},
    "health": {"priority": 20, "ttlSeconds": 86400.0, "maxBytes": 32 * 1024 * 1024},
    "readings": {"priority": 10},
}  # fmt: skip


# The inspection component spools into ``inspection-spool`` under its own work folder; ours is its
# sibling (``<root>/work/<component>/`` on Greengrass and localcore alike). Empty disables images.
DEFAULT_IMAGE_SPOOL_DIR = "../com.edgebundle.QualityInspection/inspection-spool"


# Sent alerts kept for a re-send (see components/sync/uploader.py): five minutes is well past the
# nucleus noticing a dead link and flushing its spooler after a reconnect; 10,000 alerts are a few MB.
DEFAULT_ALERT_RETENTION_SECONDS = 300.0
DEFAULT_ALERT_RETENTION_MAX_RECORDS = 10_000


class BatchSettings(_Model):
    """When a bulk batch is closed: whichever limit is reached first."""

    max_records: int = Field(default=20_000, gt=0, alias="maxRecords")
    max_bytes: int = Field(default=8 * 1024 * 1024, gt=0, alias="maxBytes")
    max_age_seconds: float = Field(default=60.0, ge=0, alias="maxAgeSeconds")


class SyncConfig(_Model):
    """Everything the sync component reads from its configuration."""

    store_dir: str = Field(default="store", alias="storeDir")
    commit_interval_ms: int = Field(default=200, ge=1, le=60_000, alias="commitIntervalMs")
    commit_max_records: int = Field(default=1000, ge=1, alias="commitMaxRecords")
    free_disk_watermark_bytes: int = Field(default=256 * 1024 * 1024, ge=0, alias="freeDiskWatermarkBytes")
    bandwidth_bytes_per_second: int = Field(default=0, ge=0, alias="bandwidthBytesPerSecond")
    daily_byte_budget: int = Field(default=0, ge=0, alias="dailyByteBudget")
    compression: Compression = "zstd"
    batch: BatchSettings = Field(default_factory=BatchSettings)
    bucket: str = ""
    image_spool_dir: str = Field(default=DEFAULT_IMAGE_SPOOL_DIR, alias="imageSpoolDir")
    status_interval_seconds: float = Field(default=30.0, gt=0, alias="statusIntervalSeconds")
    backoff_initial_seconds: float = Field(default=1.0, gt=0, alias="backoffInitialSeconds")
    backoff_max_seconds: float = Field(default=120.0, gt=0, alias="backoffMaxSeconds")
    # Sent alerts are kept this long for a re-send in case the nucleus' in-memory spooler lost them
    # (0: forget at once); a day is far beyond any spooler's life without a reconnect.
    alert_retention_seconds: float = Field(
        default=DEFAULT_ALERT_RETENTION_SECONDS, ge=0, le=86400, alias="alertRetentionSeconds"
    )
    # At most this many are kept (oldest forgotten first, counted ``retentionCapped``).
    alert_retention_max_records: int = Field(
        default=DEFAULT_ALERT_RETENTION_MAX_RECORDS, ge=1, le=1_000_000, alias="alertRetentionMaxRecords"
    )
    streams: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_streams(self) -> SyncConfig:
        known = set(topics.TELEMETRY_TOPICS.values())
        for name in self.streams:
            if name not in known:
                raise ValueError(f"streams.{name}: unknown stream; expected one of {sorted(known)}")
        # Validate every merged policy now, so a bad override is refused with the config, by key.
        effective_policies(self)
        return self


def effective_policies(config: SyncConfig) -> dict[str, StreamPolicy]:
    """Each stream's policy: its defaults with the configuration's overrides for it on top.

    Raises:
        ValueError: naming ``streams.<name>.<field>`` and what was expected.
    """
    from pydantic import ValidationError

    policies: dict[str, StreamPolicy] = {}
    for stream in topics.TELEMETRY_TOPICS.values():
        raw = {**DEFAULT_POLICIES.get(stream, {}), **config.streams.get(stream, {})}
        try:
            policies[stream] = StreamPolicy.model_validate(raw)
        except ValidationError as err:
            problem = err.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            field = f".{where}" if where else ""
            raise ValueError(f"streams.{stream}{field}: {problem['msg']}") from None
    return policies
