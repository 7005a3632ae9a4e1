"""The inspection component's image spool, as the sync component reads it.

Layout (one entry = an image file plus a JSON metadata file with the same stem)::

    <imageSpoolDir>/<stem>.png     the image (any extension)
    <imageSpoolDir>/<stem>.json    its metadata, written last: an entry is complete when it exists

The metadata may name the image file in ``"image"`` and the capture time in ``"ts"`` (Unix
seconds); without them the image is the other file with the same stem and the time is the
metadata file's modification time. Both files go to S3 under
``<imageKeyPrefix>/<thing>/date=YYYY-MM-DD/<file name>`` and are removed after both puts
succeeded (image first, metadata last, so a crash in between re-uploads the same keys).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from components.common.logs import kv
from components.sync.exceptions import SpoolError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpoolEntry:
    """One complete spool entry."""

    metadata_path: Path
    image_path: Path | None  # None: the image is gone (only the metadata is left to upload)
    captured_ts: float
    metadata: bytes


def read_entry(metadata_path: Path) -> SpoolEntry:
    """Read one entry from its metadata file.

    Raises:
        SpoolError: the metadata is not a JSON object, or names an image outside the spool.
    """
    try:
        raw = metadata_path.read_bytes()
        stat = metadata_path.stat()
    except OSError as err:
        raise SpoolError(f"{metadata_path}: cannot read: {err}") from err
    try:
        document = json.loads(raw)
    except ValueError as err:
        raise SpoolError(f"{metadata_path}: metadata is not JSON: {err}") from err
    if not isinstance(document, dict):
        raise SpoolError(f"{metadata_path}: metadata must be a JSON object")
    ts = document.get("ts")
    captured = float(ts) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else stat.st_mtime
    named = document.get("image")
    image: Path | None
    if isinstance(named, str) and named:
        if Path(named).name != named:
            raise SpoolError(f"{metadata_path}: 'image' must be a file name in the spool, got {named!r}")
        image = metadata_path.with_name(named)
    else:
        siblings = [p for p in metadata_path.parent.glob(f"{metadata_path.stem}.*") if p.suffix != ".json"]
        image = sorted(siblings)[0] if siblings else None
    if image is not None and not image.exists():
        image = None
    return SpoolEntry(metadata_path, image, captured, raw)


def complete_entries(spool_dir: Path, limit: int = 100) -> list[SpoolEntry]:
    """Up to ``limit`` complete entries, oldest first; unreadable ones are logged and skipped."""
    if not spool_dir.is_dir():
        return []
    candidates = []
    for path in spool_dir.glob("*.json"):
        try:
            candidates.append((path.stat().st_mtime, path))
        except OSError:
            continue  # removed by the producer's own bound in the meantime
    entries: list[SpoolEntry] = []
    for _mtime, path in sorted(candidates)[:limit]:
        try:
            entries.append(read_entry(path))
        except SpoolError as err:
            log.warning(kv(event="spool_entry_unreadable", error=err))
    return entries


def remove_entry(entry: SpoolEntry) -> None:
    """Delete an uploaded entry (image first, so a leftover is always the metadata)."""
    for path in (entry.image_path, entry.metadata_path):
        if path is not None:
            path.unlink(missing_ok=True)
