"""The deployment handshakes between the core and its components, over IPC streams.

Two conversations (reference greengrass-deployments.md section 2.2, 2.3):

- configuration validation: a component that subscribed with SubscribeToValidateConfigurationUpdates
  is sent ``validateConfigurationUpdateEvent {deploymentId, configuration}`` and answers with
  SendConfigurationValidityReport (ACCEPTED or REJECTED with a message);
- component updates: a component that subscribed with SubscribeToComponentUpdates is sent
  ``preUpdateEvent {deploymentId, isGgcRestarting}`` and may answer DeferComponentUpdate, and is sent
  ``postUpdateEvent {deploymentId}`` once the update is over.

The IPC operations register a ``send(event)`` per stream; the deployment task calls
:meth:`UpdateHandshakes.validate` and :meth:`UpdateHandshakes.pre_update_round`, which block.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from localcore.logfmt import kv

Send = Callable[[dict[str, Any]], None]
"""Sends one stream event to a component (the IPC layer's stream, thread-safe)."""

_log = logging.getLogger("localcore.deployments")

NO_PENDING_VALIDATION = "Validation request either timed out or was never made"
NO_PENDING_DEFER = "Time limit to respond to PreComponentUpdateEvent exceeded"
NOT_SUBSCRIBED_TO_UPDATES = "Component is not subscribed to component update events"


class HandshakeRefused(Exception):
    """A reply the core cannot take; ``error`` is the modelled IPC error's name."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error


@dataclass
class ValidationOutcome:
    """What the components answered: rejections by component, and who never answered."""

    rejected: dict[str, str] = field(default_factory=dict)
    unanswered: list[str] = field(default_factory=list)


@dataclass
class DeferRound:
    """One PreComponentUpdateEvent round: the largest delay asked for, and by whom."""

    recheck_after_ms: int = 0
    deferred_by: dict[str, str] = field(default_factory=dict)
    unanswered: list[str] = field(default_factory=list)


class UpdateHandshakes:
    """The components' handshake streams and their pending replies; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Condition()
        self._clock = clock
        self._validation: dict[str, Send] = {}
        self._updates: dict[str, Send] = {}
        self._pending_validation: dict[tuple[str, str], tuple[str, str] | None] = {}
        self._pending_defer: dict[tuple[str, str], tuple[int, str] | None] = {}

    # --- subscriptions (from the IPC operations) -----------------------------------------------------
    def subscribe_validation(self, component: str, send: Send) -> Callable[[], None]:
        """A validation stream; only the first open one per component counts (section 2.3)."""
        with self._lock:
            if component in self._validation:
                return lambda: None
            self._validation[component] = send

        def close() -> None:
            with self._lock:
                if self._validation.get(component) is send:
                    del self._validation[component]

        return close

    def subscribe_updates(self, component: str, send: Send) -> Callable[[], None]:
        """A component-update stream; the last one per component is the one that answers (section 2.2)."""
        with self._lock:
            self._updates[component] = send

        def close() -> None:
            with self._lock:
                if self._updates.get(component) is send:
                    del self._updates[component]

        return close

    # --- replies (from the IPC operations) -------------------------------------------------------------
    def report_validity(self, component: str, deployment_id: str, status: str, message: str) -> None:
        """SendConfigurationValidityReport; HandshakeRefused when nothing waits for it."""
        with self._lock:
            key = (component, deployment_id)
            if key not in self._pending_validation or self._pending_validation[key] is not None:
                raise HandshakeRefused("InvalidArgumentsError", NO_PENDING_VALIDATION)
            self._pending_validation[key] = (status, message)
            self._lock.notify_all()

    def defer(self, component: str, deployment_id: str, recheck_after_ms: int | None, message: str) -> None:
        """DeferComponentUpdate; HandshakeRefused as the nucleus refuses (section 2.2)."""
        with self._lock:
            if component not in self._updates:
                raise HandshakeRefused("InvalidArgumentsError", NOT_SUBSCRIBED_TO_UPDATES)
            key = (component, deployment_id)
            if key not in self._pending_defer or self._pending_defer[key] is not None:
                raise HandshakeRefused("ServiceError", NO_PENDING_DEFER)
            if recheck_after_ms is None:
                # The Java nucleus logs "Deferral request contains null value, ignoring..." and the
                # round waits out its timeout (reference trap 3): not an acknowledgement.
                _log.info(kv(event="defer_without_recheck_ignored", component=component))
                return
            self._pending_defer[key] = (max(0, int(recheck_after_ms)), message)
            self._lock.notify_all()

    # --- the deployment's side -------------------------------------------------------------------------
    def validation_subscribers(self) -> set[str]:
        """Components with an open validation stream."""
        with self._lock:
            return set(self._validation)

    def validate(
        self, deployment_id: str, proposals: dict[str, dict[str, Any]], timeout: float
    ) -> ValidationOutcome:
        """Offer each proposed configuration to its subscriber and wait for every report.

        ``proposals`` are the changed components to validate. As the nucleus does, when at least
        one of them subscribed, every one of them is waited for, so a changed component that did
        not subscribe makes the wait time out (reference section 2.3, trap 6).
        """
        with self._lock:
            asked = {name: self._validation[name] for name in proposals if name in self._validation}
            if not asked:
                return ValidationOutcome()
            for name in proposals:
                self._pending_validation[(name, deployment_id)] = None
        for name, send in asked.items():
            event = {
                "validateConfigurationUpdateEvent": {
                    "deploymentId": deployment_id,
                    "configuration": proposals[name],
                }
            }
            try:
                send(event)
            except Exception as err:  # a closed stream: that component cannot answer
                _log.warning(kv(event="validation_event_not_sent", component=name, error=err))
        deadline = self._clock() + timeout
        with self._lock:
            keys = [(name, deployment_id) for name in proposals]
            self._lock.wait_for(
                lambda: all(self._pending_validation.get(k) is not None for k in keys),
                timeout=max(0.0, deadline - self._clock()),
            )
            outcome = ValidationOutcome()
            for name, key in zip(proposals, keys, strict=True):
                answer = self._pending_validation.pop(key, None)
                if answer is None:
                    outcome.unanswered.append(name)
                elif answer[0] != "ACCEPTED":
                    outcome.rejected[name] = answer[1]
            return outcome

    def pre_update_round(self, deployment_id: str, is_ggc_restarting: bool, timeout: float) -> DeferRound:
        """One round: a PreComponentUpdateEvent to every subscriber, then wait for their replies."""
        with self._lock:
            subscribers = dict(self._updates)
            self._pending_defer = {(name, deployment_id): None for name in subscribers}
        if not subscribers:
            return DeferRound()
        event = {"preUpdateEvent": {"deploymentId": deployment_id, "isGgcRestarting": is_ggc_restarting}}
        for name, send in subscribers.items():
            try:
                send(event)
            except Exception as err:
                _log.warning(kv(event="pre_update_event_not_sent", component=name, error=err))
                with self._lock:
                    self._pending_defer.pop((name, deployment_id), None)
        deadline = self._clock() + timeout
        with self._lock:
            self._lock.wait_for(
                lambda: all(answer is not None for answer in self._pending_defer.values()),
                timeout=max(0.0, deadline - self._clock()),
            )
            result = DeferRound()
            for (name, _id), answer in self._pending_defer.items():
                if answer is None:
                    result.unanswered.append(name)
                elif answer[0] > 0:
                    result.deferred_by[name] = answer[1]
                    result.recheck_after_ms = max(result.recheck_after_ms, answer[0])
            return result

    def end_round(self) -> None:
        """Discard the round's reply slots: a late defer is then refused (section 2.2)."""
        with self._lock:
            self._pending_defer = {}

    def post_update(self, deployment_id: str) -> None:
        """PostComponentUpdateEvent to every subscriber."""
        with self._lock:
            subscribers = dict(self._updates)
        self._send_all(subscribers.items(), {"postUpdateEvent": {"deploymentId": deployment_id}})

    @staticmethod
    def _send_all(targets: Iterable[tuple[str, Send]], event: dict[str, Any]) -> None:
        for name, send in targets:
            try:
                send(event)
            except Exception as err:
                _log.warning(kv(event="update_event_not_sent", component=name, error=err))
