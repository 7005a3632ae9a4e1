"""The status record of every deployment the core was given, kept under ``<root>/deployments/``.

The nucleus keeps local deployments' records under ``services.aws.greengrass.Cli.runtime.
LocalDeployments.<uuid>`` in its config.tlog, so they survive a restart (reference
greengrass-deployments.md section 3.3, 3.4). Here they live in ``<root>/deployments/records.json``
(written atomically at every status change), with the configuration and recipe versions in
effect before the deployment changed anything, so a deployment cut short by a kill -9 can be
rolled back at the next start (:meth:`DeploymentService.recover`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from localcore.logfmt import kv

RECORDS_NAME = "records.json"
FORMAT_VERSION = 1
# The states a deployment record passes through (IoT JobStatus names, reference section 3.1).
QUEUED, IN_PROGRESS, SUCCEEDED, FAILED, CANCELED = "QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "CANCELED"
FINISHED_STATES = (SUCCEEDED, FAILED, CANCELED)

_log = logging.getLogger("localcore.deployments")


def created_on(now: datetime | None = None) -> str:
    """``dd-MM-uuuu HH:mm:ss z`` in UTC, as the CLI formats ``createdOn`` (reference section 4.3)."""
    moment = now or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%d-%m-%Y %H:%M:%S UTC")


class DeploymentRecords:
    """Every record by id, in creation order; thread-safe; saved at every change."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / "deployments" / RECORDS_NAME
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, Any]] = self._load()

    def add(self, record: dict[str, Any]) -> None:
        """A new record (its ``deploymentId`` is new)."""
        with self._lock:
            self._records[record["deploymentId"]] = record
            self._save()

    def update(self, deployment_id: str, **fields: Any) -> dict[str, Any]:
        """Change fields of a record and save it; the record after the change."""
        with self._lock:
            record = self._records[deployment_id]
            record.update(fields)
            self._save()
            return dict(record)

    def get(self, deployment_id: str) -> dict[str, Any] | None:
        """A copy of one record, or None."""
        with self._lock:
            record = self._records.get(deployment_id)
            return json.loads(json.dumps(record)) if record is not None else None

    def all(self) -> list[dict[str, Any]]:
        """Copies of every record, oldest first."""
        with self._lock:
            return json.loads(json.dumps(list(self._records.values())))

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(document, dict) or document.get("format") != FORMAT_VERSION:
                raise ValueError(f'expected an object with "format": {FORMAT_VERSION}')
            records = document.get("deployments")
            if not isinstance(records, list):
                raise ValueError('expected "deployments" to be a list')
        except (OSError, ValueError) as err:
            aside = self.path.with_name(RECORDS_NAME + ".unreadable")
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            # The deployments' history is lost, never the core's start: say so once.
            _log.warning(kv(event="deployment_records_unreadable", path=self.path, moved_to=aside, error=err))
            return {}
        return {record["deploymentId"]: record for record in records if isinstance(record, dict)}

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"format": FORMAT_VERSION, "deployments": list(self._records.values())}, indent=1)
        fd, partial = tempfile.mkstemp(prefix=".records.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise
