"""Applying a deployment's ``configurationUpdate`` once, as the nucleus does.

A component's entry applies at a start only if it differs from the one last applied under the
core's root (:class:`~localcore.runner.deployment_record.AppliedDeploymentRecord`), or if the
configuration it produced is gone; values changed since then survive a restart.
"""

from __future__ import annotations

import logging
from pathlib import Path

from localcore.logfmt import kv
from localcore.runner.deployment import ComponentDeployment
from localcore.runner.deployment_record import AppliedDeploymentRecord
from localcore.runner.errors import DeploymentError
from localcore.runner.interfaces import RunnerConfiguration

_log = logging.getLogger("localcore.runner")


class DeploymentApplier:
    """Decides whether each component's part of a deployment applies, applies it and records it.

    Args:
        root: the core's root (the record lives there).
        config: the configuration store the update is merged into.
        with_deployment: ``False`` when the core runs without one: a start is then a restart,
            and the record of the last deployment is left as is.
    """

    def __init__(self, root: Path, config: RunnerConfiguration, *, with_deployment: bool) -> None:
        self._config = config
        self._applied = AppliedDeploymentRecord(root) if with_deployment else None

    def reason_to_apply(self, name: str, entry: ComponentDeployment | None) -> str | None:
        """Why ``name``'s configurationUpdate applies at this start, or None to skip it.

        Called before the defaults are set, so that a component the store does not know yet
        (first run, or its configuration file was lost) is told apart from one it knows.
        """
        if self._applied is None or entry is None or not entry.has_configuration_update:
            return None
        if not self._applied.knows(name):
            return "first_deployment"
        if not self._applied.is_applied(name, entry):
            return "changed"
        try:
            self._config.snapshot(name)
        except KeyError:
            # The record says applied, but the configuration it describes is gone: apply it again.
            return "no_stored_configuration"
        return None

    def apply(self, name: str, entry: ComponentDeployment | None, reason: str | None) -> None:
        """Apply (or skip) ``name``'s part of the deployment and record it; one log line per update.

        Raises:
            DeploymentError: the store refused the update; names the component's key.
        """
        if self._applied is None:
            return
        if entry is None:
            self._applied.forget(name)
            return
        if not entry.has_configuration_update:
            self._applied.remember(name, entry)
            return
        if reason is None:
            _log.info(kv(event="deployment_configuration", component=name, outcome="unchanged_skipped"))
            return
        try:
            self._config.apply_deployment_update(name, merge=entry.merge, reset=entry.reset)
        except (ValueError, TypeError, KeyError) as err:
            raise DeploymentError("deployment", f"components.{name}.configurationUpdate", str(err)) from err
        _log.info(kv(event="deployment_configuration", component=name, outcome="applied", reason=reason))
        # Saved now, after the store has the change: a crash later in the start re-applies nothing.
        self._applied.remember(name, entry)
        self._applied.save()

    def save(self) -> None:
        """Write the record (once every component was prepared)."""
        if self._applied is not None:
            self._applied.save()
