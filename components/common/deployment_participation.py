"""A component's part in a deployment: validating a proposed configuration, deferring an update.

- SubscribeToValidateConfigurationUpdates: each proposed configuration (the whole of it, reference
  greengrass-deployments.md section 2.3) goes through the very validation the component applies at
  start (:func:`~components.common.live_config.validate_config`), and the component answers
  SendConfigurationValidityReport ACCEPTED, or REJECTED with the key-path message, so a fleet
  deployment with a bad value fails with the component's reason and changes nothing.
- SubscribeToComponentUpdates: on a PreComponentUpdateEvent the component defers while ``busy()``
  names a reason (Sync: a batch not yet committed) and acknowledges otherwise with
  ``recheck_after_ms=0``, the acknowledgement the Java nucleus needs (reference trap 3).

A core without these operations (nucleus lite answers ServiceError, nucleus-lite.md) does not
stop the component: the log says once which parts are off (``event=deployment_participation_off``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from awsiot.greengrasscoreipc.model import (
    ComponentUpdatePolicyEvents,
    ConfigurationValidityReport,
    ConfigurationValidityStatus,
    ServiceError,
    ValidateConfigurationUpdateEvents,
)

from components.common.exceptions import ConfigError
from components.common.ipc import Closeable, ComponentIpc
from components.common.live_config import validate_config
from components.common.logs import kv

log = logging.getLogger(__name__)

# Sync commits accepted records to its store within its commit interval (a fraction of a second):
# asking again soon keeps the update from waiting longer than the commit does.
DEFER_RECHECK_MS = 200


def proposal_problem(model: type[Any], configuration: Any) -> str | None:
    """Why ``configuration`` would be refused at start (the key-path message), or None."""
    try:
        validate_config(model, configuration)
    except ConfigError as err:
        return str(err)
    return None


class DeploymentParticipant:
    """Answers a component's deployment handshakes; :meth:`start` after its first configuration."""

    def __init__(
        self, ipc: ComponentIpc, model: type[Any], busy: Callable[[], str | None] | None = None
    ) -> None:
        self._ipc = ipc
        self._model = model
        self._busy = busy or (lambda: None)
        self._streams: list[Closeable] = []

    def start(self) -> None:
        """Subscribe to both handshakes (each one that the core does not serve is logged, skipped)."""
        client = getattr(self._ipc, "client", None)
        if client is None:
            return  # an IPC wrapper without a Greengrass client (an in-memory nucleus) has no handshakes
        for name, subscribe in (
            (
                "validation",
                lambda: client.subscribe_to_validate_configuration_updates(on_stream_event=self._validate),
            ),
            (
                "component_updates",
                lambda: client.subscribe_to_component_updates(on_stream_event=self._on_update),
            ),
        ):
            try:
                _, operation = subscribe()
            except ServiceError as err:
                log.warning(kv(event="deployment_participation_off", part=name, reason=err.message))
                continue
            self._streams.append(operation)

    def stop(self) -> None:
        """Close the handshake streams."""
        for stream in self._streams:
            try:
                stream.close()
            except Exception as err:  # closing at shutdown: the core may be gone already
                log.debug(kv(event="participation_close_failed", error=repr(err)))
        self._streams.clear()

    def _validate(self, event: ValidateConfigurationUpdateEvents) -> None:
        request = event.validate_configuration_update_event
        if request is None:
            return
        problem = proposal_problem(self._model, request.configuration or {})
        report = ConfigurationValidityReport(
            status=ConfigurationValidityStatus.REJECTED if problem else ConfigurationValidityStatus.ACCEPTED,
            deployment_id=request.deployment_id,
            message=problem or "configuration accepted",
        )
        try:
            self._ipc.client.send_configuration_validity_report(configuration_validity_report=report)
        except Exception as err:  # a late report: the core has already decided
            log.warning(kv(event="validity_report_failed", deployment=request.deployment_id, error=repr(err)))
            return
        log.info(
            kv(
                event="configuration_validated",
                deployment=request.deployment_id,
                outcome=report.status,
                error=problem,
            )
        )

    def _on_update(self, event: ComponentUpdatePolicyEvents) -> None:
        if event.post_update_event is not None:
            log.info(kv(event="update_finished", deployment=event.post_update_event.deployment_id))
            return
        if event.pre_update_event is None:
            return
        deployment_id = event.pre_update_event.deployment_id
        reason = self._busy()
        try:
            if reason:
                self._ipc.client.defer_component_update(
                    deployment_id=deployment_id, message=reason, recheck_after_ms=DEFER_RECHECK_MS
                )
                log.info(kv(event="update_deferred", deployment=deployment_id, reason=reason))
            else:
                self._ipc.client.defer_component_update(deployment_id=deployment_id, recheck_after_ms=0)
                log.info(kv(event="update_acknowledged", deployment=deployment_id))
        except Exception as err:
            log.warning(kv(event="update_reply_failed", deployment=deployment_id, error=repr(err)))
