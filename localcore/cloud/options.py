"""Settings of the embedded cloud, read from a local deployment like the nucleus and ShadowManager
read theirs: ``mqtt.spooler`` of ``aws.greengrass.Nucleus`` and ``synchronize`` of
``aws.greengrass.ShadowManager``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from localcore.cloud.adapter import SpoolerConfig
from localcore.cloud.exceptions import ShadowSyncConfigError
from localcore.cloud.shadow_sync import parse_sync_config

NUCLEUS = "aws.greengrass.Nucleus"
SHADOW_MANAGER = "aws.greengrass.ShadowManager"


def _key(mapping: Mapping[str, Any], name: str) -> Any:
    for key, value in mapping.items():
        if str(key).lower() == name.lower():
            return value
    return None


@dataclass
class CloudOptions:
    """Settings of the embedded cloud; the nucleus' and ShadowManager's come from the deployment.

    ``shadow_sync`` is ShadowManager's configuration holding ``synchronize``; ``None`` when the
    deployment sets none, and the cloud description's ``shadowSync`` applies. ``fresh`` starts
    from an empty cloud instead of the state the previous run kept under ``<root>/cloud/state/``.
    """

    spooler: SpoolerConfig = field(default_factory=SpoolerConfig)
    schedule: str | None = None
    shadow_sync: dict[str, Any] | None = None
    shadow_poll_interval: float = 2.0
    fresh: bool = False

    @classmethod
    def from_configuration(
        cls, configuration: Mapping[str, Mapping[str, Any]], schedule: str | None = None
    ) -> CloudOptions:
        """Read ``mqtt.spooler`` of the nucleus and ``synchronize`` of ShadowManager from the
        deployment's ``configurationUpdate.merge`` of each component.

        Raises:
            DeploymentError: a value has the wrong type or shape; names the key path.
        """
        from localcore.runner.errors import DeploymentError

        options = cls(schedule=schedule)
        nucleus = configuration.get(NUCLEUS) or {}
        spooler = _key(_key(nucleus, "mqtt") or {}, "spooler") or {}
        if spooler:
            where = f"components.{NUCLEUS}.configurationUpdate.merge.mqtt.spooler"
            size = _key(spooler, "maxSizeInBytes")
            keep = _key(spooler, "keepQos0WhenOffline")
            if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
                raise DeploymentError(
                    "deployment", f"{where}.maxSizeInBytes", f"expected a positive integer, got {size!r}"
                )
            if keep is not None and not isinstance(keep, bool):
                raise DeploymentError(
                    "deployment", f"{where}.keepQos0WhenOffline", f"expected true or false, got {keep!r}"
                )
            options.spooler = SpoolerConfig(
                max_size_in_bytes=size if size is not None else SpoolerConfig.max_size_in_bytes,
                keep_qos0_when_offline=bool(keep),
            )
        shadow_manager = configuration.get(SHADOW_MANAGER) or {}
        if _key(shadow_manager, "synchronize") is not None:
            options.shadow_sync = {"synchronize": _key(shadow_manager, "synchronize")}
            try:
                parse_sync_config(options.shadow_sync, "core-thing")
            except ShadowSyncConfigError as err:
                raise DeploymentError(
                    "deployment", f"components.{SHADOW_MANAGER}.configurationUpdate.merge", str(err)
                ) from err
        return options
