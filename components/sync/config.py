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

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from components.common import topics
from components.common.exceptions import StructError
from components.common.structs import ConfigStruct, convert

Destination = Literal["iot", "s3"]
FullStrategy = Literal["RejectNewData", "OverwriteOldestData"]
UploadMode = Literal["all", "deadband"]
Compression = Literal["zstd", "gzip"]


class StreamPolicy(ConfigStruct, frozen=True):
    """How one stream is kept and forwarded.

    ``priority``: higher drains first (alerts are highest by default). ``ttlSeconds``: records older
    than this are dropped unsent (0 = keep until sent). ``maxBytes`` and ``strategyOnFull``: Stream
    Manager's semantics, reject the new record or drop the oldest. ``upload``: ``all`` or
    ``deadband`` (a reading is kept when a field in ``deadband`` moved by at least its threshold,
    a field is missing or appears, the quality changes, or ``heartbeatSeconds`` passed since the
    last kept one). ``resolution``: per-field grid values are rounded to before delta encoding
    (the sensor's resolution); fields not named are stored exactly. ``iotTopic``: the IoT Core
    topic template (``{thing}`` expanded) for ``destination: iot``; empty means the
    configuration's ``alertsTopic``.
    """

    destination: Destination = "s3"
    priority: Annotated[int, Meta(ge=0, le=1000)] = 10
    ttl_seconds: Annotated[float, Meta(ge=0)] = 7 * 86400.0
    max_bytes: Annotated[int, Meta(gt=0)] = 256 * 1024 * 1024
    strategy_on_full: FullStrategy = "OverwriteOldestData"
    upload: UploadMode = "all"
    deadband: dict[str, float] = msgspec.field(default_factory=dict)
    heartbeat_seconds: Annotated[float, Meta(gt=0)] = 60.0
    resolution: dict[str, float] = msgspec.field(default_factory=dict)
    iot_topic: str = ""

    def __post_init__(self) -> None:
        # Each message starts with the key it is about, which effective_policies puts after
        # ``streams.<name>``. The limits of map entries are checked here rather than in their type
        # so the message names the entry (msgspec would say ``deadband.*``).
        for name, threshold in self.deadband.items():
            if threshold < 0:
                raise ValueError(f"deadband.{name}: must be >= 0 (got {threshold})")
        for name, step in self.resolution.items():
            if step <= 0:
                raise ValueError(f"resolution.{name}: must be > 0 (got {step})")
        if self.upload == "deadband" and not self.deadband:
            raise ValueError("deadband: upload 'deadband' needs at least one field in 'deadband'")

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


# The cloud side's names, as bundle.yaml gives them to the CDK app and the embedded cloud (a test
# holds these, the recipe's DefaultConfiguration and bundle.yaml equal; the CDK deployment sets
# whichever differ). The component reads them from its configuration only, never from bundle.yaml.
DEFAULT_BUCKET_PREFIX = "edge-bundle-data"
DEFAULT_BATCH_KEY_PREFIX = "telemetry"
DEFAULT_IMAGE_KEY_PREFIX = "images"
DEFAULT_ALERTS_TOPIC = "edgebundle/{thing}/alerts"
# The region when neither the configuration nor the environment names one (the nucleus always
# sets AWS_REGION, so only a process started by hand gets this).
FALLBACK_REGION = "us-east-1"

# S3 bucket names are lowercase letters, digits, dots and hyphens; a key prefix is one or more
# path segments without a leading or trailing slash.
BucketName = Annotated[str, Meta(pattern=r"^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$")]
BucketPrefix = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9.-]*$", max_length=40)]
KeyPrefix = Annotated[str, Meta(pattern=r"^[^/]+(/[^/]+)*$")]
Region = Annotated[str, Meta(pattern=r"^([a-z]{2}(-[a-z]+)+-\d+)?$")]


class BatchSettings(ConfigStruct, frozen=True):
    """When a bulk batch is closed: whichever limit is reached first."""

    max_records: Annotated[int, Meta(gt=0)] = 20_000
    max_bytes: Annotated[int, Meta(gt=0)] = 8 * 1024 * 1024
    max_age_seconds: Annotated[float, Meta(ge=0)] = 60.0


class SyncConfig(ConfigStruct, frozen=True):
    """Everything the sync component reads from its configuration."""

    store_dir: str = "store"
    commit_interval_ms: Annotated[int, Meta(ge=1, le=60_000)] = 200
    commit_max_records: Annotated[int, Meta(ge=1)] = 1000
    free_disk_watermark_bytes: Annotated[int, Meta(ge=0)] = 256 * 1024 * 1024
    bandwidth_bytes_per_second: Annotated[int, Meta(ge=0)] = 0
    daily_byte_budget: Annotated[int, Meta(ge=0)] = 0
    compression: Compression = "zstd"
    batch: BatchSettings = BatchSettings()
    # Empty: ``<bucketPrefix>-<account>-<region>``, the account asked once with STS when online.
    bucket: BucketName = ""
    bucket_prefix: BucketPrefix = DEFAULT_BUCKET_PREFIX
    # Empty: the core's region (AWS_REGION, set by the nucleus), else FALLBACK_REGION.
    region: Region = ""
    batch_key_prefix: KeyPrefix = DEFAULT_BATCH_KEY_PREFIX
    image_key_prefix: KeyPrefix = DEFAULT_IMAGE_KEY_PREFIX
    # The IoT Core topic alerts go to (``{thing}`` is the thing name) unless a stream's iotTopic says.
    alerts_topic: Annotated[str, Meta(min_length=1)] = DEFAULT_ALERTS_TOPIC
    image_spool_dir: str = DEFAULT_IMAGE_SPOOL_DIR
    status_interval_seconds: Annotated[float, Meta(gt=0)] = 30.0
    backoff_initial_seconds: Annotated[float, Meta(gt=0)] = 1.0
    backoff_max_seconds: Annotated[float, Meta(gt=0)] = 120.0
    # Sent alerts are kept this long for a re-send in case the nucleus' in-memory spooler lost them
    # (0: forget at once); a day is far beyond any spooler's life without a reconnect.
    alert_retention_seconds: Annotated[float, Meta(ge=0, le=86400)] = DEFAULT_ALERT_RETENTION_SECONDS
    # At most this many are kept (oldest forgotten first, counted ``retentionCapped``).
    alert_retention_max_records: Annotated[int, Meta(ge=1, le=1_000_000)] = (
        DEFAULT_ALERT_RETENTION_MAX_RECORDS
    )
    # {stream name: partial StreamPolicy (camelCase keys)}: kept partial, as given, so that
    # effective_policies can fill in each stream's defaults for the keys it leaves out.
    streams: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if "#" in self.alerts_topic or "+" in self.alerts_topic:
            raise ValueError(
                f"alertsTopic: a topic to publish to cannot hold MQTT wildcards (got {self.alerts_topic!r})"
            )
        known = set(topics.TELEMETRY_TOPICS.values())
        for name in self.streams:
            if name not in known:
                raise ValueError(f"streams.{name}: unknown stream; expected one of {sorted(known)}")
        # Validate every merged policy now, so a bad override is refused with the config, by key.
        effective_policies(self)


def effective_policies(config: SyncConfig) -> dict[str, StreamPolicy]:
    """Each stream's policy: its defaults with the configuration's overrides for it on top.

    Raises:
        ValueError: naming ``streams.<name>.<field>`` and what was expected.
    """
    policies: dict[str, StreamPolicy] = {}
    for stream in topics.TELEMETRY_TOPICS.values():
        raw = {**DEFAULT_POLICIES.get(stream, {}), **config.streams.get(stream, {})}
        try:
            policies[stream] = convert(raw, StreamPolicy)
        except StructError as err:
            # "priority: Expected ..." or, from __post_init__, "deadband.t: must be >= 0"
            where, _, problem = str(err).partition(": ")
            path = f"streams.{stream}" if where == "<root>" else f"streams.{stream}.{where}"
            raise ValueError(f"{path}: {problem}") from None
    return policies


def aws_region(config: SyncConfig, environ: Mapping[str, str]) -> str:
    """The region of S3 and STS: ``region`` if configured, else the core's, else :data:`FALLBACK_REGION`."""
    return config.region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or FALLBACK_REGION


def bucket_name(prefix: str, account: str, region: str) -> str:
    """The bundle's data bucket in one account and region: ``<prefix>-<account>-<region>``, as the
    CDK app names it."""
    return f"{prefix}-{account}-{region}"
