"""Deployments on a running core: a FIFO queue, one at a time, each with a persisted status record.

``localcore deploy FILE`` (through the control socket) submits a thing-group-shaped deployment:
the core rehearses it as the cloud sends it (notifications and defers under NOTIFY_COMPONENTS,
ROLLBACK by default). The IPC CreateLocalDeployment submits a local one: no notification, DO_NOTHING
unless asked, a 20 s validation timeout (reference greengrass-deployments.md section 1.5, trap 1,
10). Records: :class:`~localcore.runner.deployment_records.DeploymentRecords`.

After a kill -9 the nucleus leaves an interrupted deployment IN_PROGRESS for good (section 3.4,
trap 17). localcore instead decides at the next start (:meth:`DeploymentService.recover`): a
deployment that had changed something is rolled back to its snapshot (FAILED_ROLLBACK_COMPLETE),
or kept as it was under DO_NOTHING (FAILED_ROLLBACK_NOT_REQUESTED); one that had changed nothing
ends FAILED_NO_STATE_CHANGE; and queued ones, as the nucleus does not keep its queue, end FAILED
without having started. Each record's failure cause says what state the device was left in.
"""

from __future__ import annotations

import collections
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from localcore.logfmt import kv
from localcore.runner.deployment import DeploymentDocument, parse_deployment_document
from localcore.runner.deployment_records import (
    CANCELED,
    FAILED,
    FINISHED_STATES,
    IN_PROGRESS,
    QUEUED,
    SUCCEEDED,
    DeploymentRecords,
    created_on,
)
from localcore.runner.deployment_task import (
    DeploymentCanceled,
    DeploymentFailure,
    DeploymentTask,
    RunnerForDeployments,
    Snapshot,
)
from localcore.runner.errors import DeploymentError
from localcore.runner.update_handshakes import UpdateHandshakes

_log = logging.getLogger("localcore.deployments")

ALREADY_FINISHED = "Cancellation request is not processed because deployment is already finished"


@dataclass
class _Queued:
    deployment_id: str
    document: DeploymentDocument
    local: bool


class DeploymentService:
    """Queues deployments and applies them one at a time on a worker thread."""

    def __init__(
        self, *, root: Any, runner: RunnerForDeployments, config: Any, handshakes: UpdateHandshakes
    ) -> None:
        self.records = DeploymentRecords(root)
        self._runner = runner
        self._config = config
        self._handshakes = handshakes
        self._queue: collections.deque[_Queued] = collections.deque()
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._current: tuple[str, threading.Event] | None = None
        self._stage: str | None = None
        self.handshakes = handshakes
        self._thread = threading.Thread(target=self._work, name="deployments", daemon=True)

    # --- lifecycle -------------------------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Settle the records a killed core left unfinished (see the module docstring); their ids.

        Call after the configuration store is loaded and before the components start.
        """
        settled = []
        for record in self.records.all():
            if record["status"] not in (QUEUED, IN_PROGRESS):
                continue
            deployment_id = record["deploymentId"]
            settled.append(deployment_id)
            if record["status"] == QUEUED:
                self._finish(
                    deployment_id,
                    FAILED,
                    "FAILED_NO_STATE_CHANGE",
                    ["DEPLOYMENT_FAILURE"],
                    [],
                    "The core stopped before this deployment started; the queue is not kept "
                    "across a restart (as the nucleus). Nothing was changed; deploy it again.",
                )
                continue
            snapshot = record.get("snapshot")
            if snapshot is None or record.get("stage") not in ("APPLYING", "ROLLING_BACK"):
                self._finish(
                    deployment_id,
                    FAILED,
                    "FAILED_NO_STATE_CHANGE",
                    ["DEPLOYMENT_FAILURE"],
                    [],
                    "The core stopped before this deployment changed anything; the device runs "
                    "what it ran before.",
                )
                continue
            if record.get("failureHandlingPolicy") == "ROLLBACK":
                for name, configuration in snapshot["configurations"].items():
                    if configuration is not None:
                        self._config.apply_deployment_update(name, reset=[""], merge=configuration)
                self._finish(
                    deployment_id,
                    FAILED,
                    "FAILED_ROLLBACK_COMPLETE",
                    ["DEPLOYMENT_FAILURE"],
                    [],
                    "The core stopped while applying this deployment. At this start localcore "
                    "restored the configuration in effect before it, and runs the component "
                    "versions of its recipe folder: the device is back where it was.",
                )
            else:
                self._finish(
                    deployment_id,
                    FAILED,
                    "FAILED_ROLLBACK_NOT_REQUESTED",
                    ["DEPLOYMENT_FAILURE"],
                    [],
                    "The core stopped while applying this deployment (failureHandlingPolicy "
                    "DO_NOTHING): configuration changes already merged were kept; component "
                    "versions are those of the recipe folder. Deploy again to finish or revert.",
                )
            _log.warning(kv(event="deployment_interrupted", deployment=deployment_id))
        return settled

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop taking deployments; a running one is told the core stops."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread.is_alive():  # a core that failed to start never started it
            self._thread.join(timeout=30)

    # --- requests --------------------------------------------------------------------------------------
    def submit(self, document: DeploymentDocument, *, local: bool, source: str = "") -> str:
        """Queue a deployment; its id (a UUID). The record starts QUEUED."""
        deployment_id = str(uuid.uuid4())
        self.records.add(
            {
                "deploymentId": deployment_id,
                "status": QUEUED,
                "createdOn": created_on(),
                "type": "LOCAL" if local else "THING_GROUP_REHEARSAL",
                "source": source,
                "components": sorted(document.components),
                "removing": list(document.components_to_remove),
                "failureHandlingPolicy": document.policies.failure_handling,
            }
        )
        with self._wake:
            self._queue.append(_Queued(deployment_id, document, local))
            self._wake.notify_all()
        _log.info(kv(event="deployment_queued", deployment=deployment_id, source=source or "ipc"))
        return deployment_id

    def submit_local(self, document: DeploymentDocument) -> str:
        """Queue an IPC CreateLocalDeployment's deployment."""
        return self.submit(document, local=True, source="CreateLocalDeployment")

    def local_records(self) -> list[dict[str, Any]]:
        """Every record, as ListLocalDeployments returns them (all it holds, section 4.3)."""
        return self.records.all()

    @staticmethod
    def local_document(request: dict[str, Any]) -> DeploymentDocument:
        """A CreateLocalDeployment request as a deployment document (reference section 1.1).

        Raises:
            ValueError: a field of the wrong shape, naming it.
        """
        components: dict[str, dict[str, Any]] = {}
        versions = request.get("rootComponentVersionsToAdd") or {}
        configurations = request.get("componentToConfiguration") or {}
        run_with = request.get("componentToRunWithInfo") or {}
        for field_name, value in (
            ("rootComponentVersionsToAdd", versions),
            ("componentToConfiguration", configurations),
            ("componentToRunWithInfo", run_with),
        ):
            if not isinstance(value, dict):
                raise ValueError(f"{field_name} must be a map of component name to its value")
        for name, version in versions.items():
            components.setdefault(name, {})["componentVersion"] = version
        for name, update in configurations.items():
            if not isinstance(update, dict):
                raise ValueError(f"componentToConfiguration.{name} must be a map with MERGE and/or RESET")
            entry: dict[str, Any] = {}
            for key, value in update.items():
                if key.upper() not in ("MERGE", "RESET"):
                    raise ValueError(f"componentToConfiguration.{name}.{key}: expected MERGE or RESET")
                entry[key.lower()] = value
            components.setdefault(name, {})["configurationUpdate"] = entry
        for name, info in run_with.items():
            if isinstance(info, dict) and info.get("systemResourceLimits"):
                raise ValueError(
                    f"componentToRunWithInfo.{name}.systemResourceLimits: localcore applies resource "
                    "limits only at start (the --deployment file)"
                )
            components.setdefault(name, {})["runWith"] = info
        if request.get("artifactsDirectoryPath"):
            raise ValueError(
                "artifactsDirectoryPath is not supported by localcore: artifact URIs resolve against "
                "the project folder; put the new version's artifacts there"
            )
        document: dict[str, Any] = {
            "components": components,
            # Local deployments default to DO_NOTHING (reference section 1.2, trap 10).
            "deploymentPolicies": {
                "failureHandlingPolicy": request.get("failureHandlingPolicy") or "DO_NOTHING"
            },
        }
        if request.get("rootComponentsToRemove"):
            document["rootComponentsToRemove"] = request["rootComponentsToRemove"]
        if request.get("recipeDirectoryPath"):
            document["recipeDirectoryPath"] = request["recipeDirectoryPath"]
        try:
            return parse_deployment_document(document, "CreateLocalDeployment")
        except DeploymentError as err:
            raise ValueError(str(err)) from err

    def cancel(self, deployment_id: str) -> str:
        """Cancel a queued deployment, or a running one before it changes anything (section 5).

        Raises:
            KeyError: no such deployment.
        """
        record = self.records.get(deployment_id)
        if record is None:
            raise KeyError(deployment_id)
        if record["status"] in FINISHED_STATES:
            return ALREADY_FINISHED
        with self._wake:
            for queued in list(self._queue):
                if queued.deployment_id == deployment_id:
                    self._queue.remove(queued)
                    self._finish(deployment_id, CANCELED, None, [], [], "")
                    return f"Cancel request submitted. Deployment ID: {deployment_id}"
            if self._current is not None and self._current[0] == deployment_id:
                if self._stage in ("APPLYING", "ROLLING_BACK"):
                    _log.warning(
                        kv(
                            event="cancel_too_late",
                            deployment=deployment_id,
                            meaning="Cancelling deployment, changes may already have been applied. Make a "
                            "new deployment to revert the update",
                        )
                    )
                self._current[1].set()
        return f"Cancel request submitted. Deployment ID: {deployment_id}"

    def wait(self, deployment_id: str, timeout: float) -> dict[str, Any] | None:
        """Wait until a deployment finishes; its record (None if it is not known)."""
        with self._wake:
            self._wake.wait_for(
                lambda: (
                    (self.records.get(deployment_id) or {"status": SUCCEEDED})["status"] in FINISHED_STATES
                ),
                timeout=timeout,
            )
        return self.records.get(deployment_id)

    # --- the worker ------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: bool(self._queue) or self._stopping.is_set())
                if self._stopping.is_set():
                    return
                item = self._queue.popleft()
                canceled = threading.Event()
                self._current = (item.deployment_id, canceled)
                self._stage = None
            try:
                self._run(item, canceled)
            except Exception as err:  # a bug in a deployment must not stop the queue
                _log.exception(kv(event="deployment_crashed", deployment=item.deployment_id, error=err))
                self._finish(
                    item.deployment_id,
                    FAILED,
                    "FAILED_NO_STATE_CHANGE",
                    ["DEPLOYMENT_FAILURE"],
                    ["NUCLEUS_ERROR"],
                    f"{type(err).__name__}: {err}",
                )
            finally:
                with self._wake:
                    self._current = None
                    self._wake.notify_all()

    def _run(self, item: _Queued, canceled: threading.Event) -> None:
        deployment_id = item.deployment_id
        self.records.update(deployment_id, status=IN_PROGRESS, stage="RESOLVING")
        _log.info(kv(event="deployment_started", deployment=deployment_id))

        def on_stage(stage: str, snapshot: Snapshot | None) -> None:
            self._stage = stage
            fields: dict[str, Any] = {"stage": stage}
            if snapshot is not None:
                fields["snapshot"] = {
                    "recipes": {n: (str(r.source) if r else None) for n, r in snapshot.recipes.items()},
                    "configurations": snapshot.configurations,
                }
            self.records.update(deployment_id, **fields)

        task = DeploymentTask(
            deployment_id=deployment_id,
            document=item.document,
            local=item.local,
            runner=self._runner,
            config=self._config,
            handshakes=self._handshakes,
            canceled=canceled,
            stopping=self._stopping,
            on_stage=on_stage,
        )
        try:
            task.run()
        except DeploymentCanceled:
            self._finish(deployment_id, CANCELED, None, [], [], "")
            return
        except DeploymentFailure as failure:
            self._finish(deployment_id, FAILED, failure.detailed, failure.stack, failure.types, failure.cause)
            return
        self._finish(deployment_id, SUCCEEDED, "SUCCESSFUL", [], [], "")

    def _finish(
        self,
        deployment_id: str,
        status: str,
        detailed: str | None,
        stack: list[str],
        types: list[str],
        cause: str,
    ) -> None:
        details = None
        if status != CANCELED:
            details = {
                "detailedDeploymentStatus": detailed,
                "deploymentErrorStack": stack,
                "deploymentErrorTypes": types,
                "deploymentFailureCause": cause,
            }
        self.records.update(deployment_id, status=status, deploymentStatusDetails=details, stage=None)
        level = logging.INFO if status == SUCCEEDED else logging.WARNING
        _log.log(
            level,
            kv(
                event="deployment_finished",
                deployment=deployment_id,
                status=status,
                detailed=detailed,
                cause=cause,
            ),
        )
        with self._wake:
            self._wake.notify_all()
