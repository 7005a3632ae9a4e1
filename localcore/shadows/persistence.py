"""One JSON file per shadow under ``<root>/shadows/``, written atomically (temp + fsync + rename).

Layout: ``<root>/shadows/<thing>/classic.json`` for the classic shadow and
``<root>/shadows/<thing>/named/<shadow>.json`` for named shadows. Named shadows live in their own
folder so a shadow that happens to be called ``classic`` cannot collide with the classic one;
names are restricted to ``[a-zA-Z0-9:_-]+`` so they are always safe file names.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from localcore.logfmt import kv
from localcore.shadows.document import ShadowDocument
from localcore.shadows.errors import ShadowError
from localcore.shadows.jsonvalues import dump_json
from localcore.shadows.request import validate_shadow_name, validate_thing_name

log = logging.getLogger("localcore.shadows")

CLASSIC_FILE = "classic.json"
NAMED_DIR = "named"


class ShadowFiles:
    """Reads and writes shadow documents under ``<root>/shadows``."""

    def __init__(self, root: Path) -> None:
        self.directory = Path(root) / "shadows"

    def path_for(self, thing: str, shadow: str) -> Path:
        """The file holding ``thing``/``shadow`` (``""`` = classic)."""
        if shadow:
            return self.directory / thing / NAMED_DIR / f"{shadow}.json"
        return self.directory / thing / CLASSIC_FILE

    def write(self, thing: str, shadow: str, document: ShadowDocument, updated: float) -> None:
        """Replace the file atomically: a crash leaves either the old or the new document, never half."""
        path = self.path_for(thing, shadow)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"thing": thing, "shadow": shadow, "updated": updated, **document.to_json()}
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(dump_json(record))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_directory(path.parent)

    def remove(self, thing: str, shadow: str) -> None:
        """Delete the file of a deleted shadow (missing is fine)."""
        path = self.path_for(thing, shadow)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        _fsync_directory(path.parent)

    def load_all(self) -> Iterator[tuple[str, str, ShadowDocument]]:
        """Every readable stored shadow; an unreadable file is logged and skipped, never fatal."""
        if not self.directory.is_dir():
            return
        for thing_dir in sorted(p for p in self.directory.iterdir() if p.is_dir()):
            thing = thing_dir.name
            candidates = [("", thing_dir / CLASSIC_FILE)]
            named_dir = thing_dir / NAMED_DIR
            if named_dir.is_dir():
                candidates += [(p.stem, p) for p in sorted(named_dir.glob("*.json"))]
            for shadow, path in candidates:
                if not path.is_file():
                    continue
                loaded = _read(path, thing, shadow)
                if loaded is not None:
                    yield thing, shadow, loaded


def _read(path: Path, thing: str, shadow: str) -> ShadowDocument | None:
    try:
        validate_thing_name(thing)
        validate_shadow_name(shadow)
        record: Any = json.loads(path.read_bytes())
        if not isinstance(record, dict):
            raise ValueError("the file does not hold a JSON object")
        return ShadowDocument.from_json({k: record.get(k) for k in ("state", "metadata", "version")})
    except (OSError, ValueError, ShadowError) as err:
        log.warning(kv(event="shadow_file_unreadable", path=str(path), error=str(err)))
        return None


def _fsync_directory(directory: Path) -> None:
    # The rename is only durable once the directory entry is on disk.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
