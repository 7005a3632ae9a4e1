"""The deployment last applied under a core's root, so a restart does not apply it again.

The nucleus applies a deployment once: restarting it does not merge an old deployment's
``configurationUpdate`` again, so a value changed since then (``config set``, UpdateConfiguration)
survives the restart. Only a new deployment merges again. ``localcore run --deployment FILE``
reads the same file at every start, so the core records, per component, a digest of the entry it
applied (``<root>/config/deployment-applied.json``, beside ``config.json``) and applies a
component's ``configurationUpdate`` only when its entry differs from the recorded one.

Example::

    record = AppliedDeploymentRecord(root)
    if record.is_applied("com.example.A", entry):
        ...                                   # unchanged since last applied: skip it
    else:
        store.apply_deployment_update("com.example.A", merge=entry.merge, reset=entry.reset)
        record.remember("com.example.A", entry)
        record.save()
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from localcore.logfmt import kv
from localcore.runner.deployment import ComponentDeployment

_log = logging.getLogger("localcore.runner.deployment")

FORMAT_VERSION = 1
RECORD_NAME = "deployment-applied.json"


class AppliedDeploymentRecord:
    """``<root>/config/deployment-applied.json``: per component, the digest of the entry last applied.

    A missing file is a first start; an unreadable one is set aside (``.unreadable``) and also
    read as a first start. Either way one log line says so, and nothing is raised.
    """

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / "config" / RECORD_NAME
        self._applied = self._load()
        self._dirty = False

    def is_applied(self, component: str, entry: ComponentDeployment) -> bool:
        """Whether ``entry`` is exactly the entry last applied to ``component``."""
        return self._applied.get(component) == entry.digest()

    def knows(self, component: str) -> bool:
        """Whether some entry was applied to ``component`` before (else its next one is its first)."""
        return component in self._applied

    def remember(self, component: str, entry: ComponentDeployment) -> None:
        """Record ``entry`` as applied to ``component`` (written by :meth:`save`)."""
        digest = entry.digest()
        if self._applied.get(component) != digest:
            self._applied[component] = digest
            self._dirty = True

    def forget(self, component: str) -> None:
        """The last deployment had no entry for ``component``: whatever comes next is new to it."""
        if self._applied.pop(component, None) is not None:
            self._dirty = True

    def save(self) -> None:
        """Write the record if it changed (temp file, fsync, rename); a failure is logged, not raised.

        Call it only after the configuration store has the applied change: a record written first
        and a crash before the change would skip that change for good, while the other way round
        only applies it once more.
        """
        if not self._dirty:
            return
        record = {"format": FORMAT_VERSION, "components": dict(sorted(self._applied.items()))}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, partial = tempfile.mkstemp(prefix=f".{RECORD_NAME}.", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(record, handle, indent=1)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(partial, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(partial)
                raise
        except OSError as err:
            # The next start then applies the deployment once more: the behaviour before the record.
            _log.warning(kv(event="deployment_record_not_saved", path=self.path, error=err))
            return
        self._dirty = False

    def _load(self) -> dict[str, str]:
        if not self.path.exists():
            _log.info(
                kv(
                    event="deployment_record_missing",
                    path=self.path,
                    meaning="first start: every component's configurationUpdate applies",
                )
            )
            return {}
        try:
            return _parse(json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as err:
            aside = self.path.with_name(f"{RECORD_NAME}.unreadable")
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            _log.warning(
                kv(
                    event="deployment_record_unreadable",
                    path=self.path,
                    moved_to=aside,
                    error=err,
                    meaning="treated as a first start: every component's configurationUpdate applies",
                )
            )
            return {}


def _parse(record: Any) -> dict[str, str]:
    """The ``{component: digest}`` map of a record; ValueError names what is wrong."""
    if not isinstance(record, dict) or record.get("format") != FORMAT_VERSION:
        raise ValueError(f'expected an object with "format": {FORMAT_VERSION}')
    components = record.get("components")
    if not isinstance(components, dict):
        raise ValueError('expected "components" to be an object of component name to digest')
    for name, digest in components.items():
        if not isinstance(digest, str) or not digest:
            raise ValueError(f"component {name!r}: expected a digest string, got {digest!r:.80}")
    return dict(components)
