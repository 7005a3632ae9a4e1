"""The image spool's format: what the inspection component writes and the sync component reads.

The one definition of the contract ``docs/spool.md`` describes. The inspection component's
:class:`~components.inspection.spool.ImageSpool` keeps the folder within its bounds and writes
entries with :func:`write_entry`; the sync component lists them with :func:`complete_entries`,
uploads and removes them with :func:`remove_uploaded_entry`. Neither side knows the other.

Layout (one entry = an image file plus a JSON metadata file with the same stem)::

    <spool>/<stem>.png     the image (a reader accepts any extension)
    <spool>/<stem>.json    its metadata, written last: an entry is complete when it exists

The metadata names the image file in ``"image"`` and the capture time in ``"ts"`` (Unix seconds);
a reader without them takes the other file with the same stem and the metadata file's
modification time. Files are written to ``.<name>.tmp`` and renamed into place, the image first,
so a reader looking only at ``*.json`` never sees half an entry.

No numpy and no image codec here: the sync component imports this module and must stay small.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> spool = Path(tempfile.mkdtemp())
    >>> stem = entry_stem(1764331200.5, "part 9", 3)
    >>> stem
    '1764331200500-part_9-000003'
    >>> size = write_entry(spool, stem, b"png bytes", metadata_document(stem, {"ts": 1764331200.5}))
    >>> [(entry.image_path.name, entry.captured_ts) for entry in complete_entries(spool)]
    [('1764331200500-part_9-000003.png', 1764331200.5)]
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.common.exceptions import SpoolEntryError
from components.common.logs import kv

log = logging.getLogger(__name__)

IMAGE_SUFFIX = ".png"
METADATA_SUFFIX = ".json"
TEMPORARY_SUFFIX = ".tmp"
#: Metadata keys of the format (the rest of the document is the decision message).
IMAGE_KEY = "image"
CAPTURED_KEY = "ts"
#: Longest part id kept in a stem; characters outside ``[A-Za-z0-9_.-]`` become ``_``.
MAX_PART_ID_CHARS = 64

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def entry_stem(captured: float, part_id: str, seq: int) -> str:
    """An entry's file stem: capture time in ms (13 digits, so name order is time order), part id, seq."""
    safe = _UNSAFE.sub("_", part_id)[:MAX_PART_ID_CHARS] or "part"
    return f"{int(captured * 1000):013d}-{safe}-{seq % 1_000_000:06d}"


def image_file_name(stem: str) -> str:
    """The file name the writer gives an entry's image (what the decision message's ``image`` says)."""
    return f"{stem}{IMAGE_SUFFIX}"


def image_path(directory: Path, stem: str) -> Path:
    """Where the writer puts an entry's image."""
    return directory / image_file_name(stem)


def metadata_path(directory: Path, stem: str) -> Path:
    """Where an entry's metadata goes; its existence makes the entry complete."""
    return directory / f"{stem}{METADATA_SUFFIX}"


def metadata_document(stem: str, metadata: dict[str, Any]) -> bytes:
    """The metadata file's bytes: ``metadata`` with the image's file name under ``"image"``."""
    return json.dumps({**metadata, IMAGE_KEY: image_file_name(stem)}, separators=(",", ":")).encode()


def is_temporary(name: str) -> bool:
    """Whether a file name is a write in progress (or one a crash interrupted)."""
    return name.startswith(".") and name.endswith(TEMPORARY_SUFFIX)


def write_entry(directory: Path, stem: str, image: bytes, metadata: bytes) -> int:
    """Write one entry so that it is complete only once both files are in place; returns its bytes.

    Raises:
        OSError: a file could not be written; neither file of the entry is left behind.
    """
    image_file, metadata_file = image_path(directory, stem), metadata_path(directory, stem)
    try:
        for path, content in ((image_file, image), (metadata_file, metadata)):
            temporary = path.with_name(f".{path.name}{TEMPORARY_SUFFIX}")
            temporary.write_bytes(content)
            os.replace(temporary, path)
    except OSError:
        for path in (metadata_file, image_file, *directory.glob(f".{stem}.*{TEMPORARY_SUFFIX}")):
            try:
                path.unlink(missing_ok=True)
            except OSError as cleanup:  # the write error is what the caller reports
                log.debug(kv(event="spool_cleanup_failed", path=path, error=cleanup))
        raise
    return len(image) + len(metadata)


def evict_entry(directory: Path, stem: str) -> None:
    """Remove an entry the writer gives up on, metadata first: a half-removed entry is incomplete."""
    metadata_path(directory, stem).unlink(missing_ok=True)
    image_path(directory, stem).unlink(missing_ok=True)


def leftovers(directory: Path) -> Iterator[Path]:
    """What a crash mid-write leaves: temporary files, and images whose metadata never came."""
    for path in directory.iterdir():
        orphan = path.suffix == IMAGE_SUFFIX and not path.with_suffix(METADATA_SUFFIX).exists()
        if is_temporary(path.name) or orphan:
            yield path


def entry_sizes(directory: Path) -> dict[str, int]:
    """Bytes on disk per stem (image and metadata, complete or not), temporaries left out."""
    sizes: dict[str, int] = {}
    for entry in os.scandir(directory):
        name = entry.name
        if name.startswith(".") or not name.endswith((IMAGE_SUFFIX, METADATA_SUFFIX)):
            continue
        try:
            stat = entry.stat()
        except OSError:
            continue  # removed by the uploader in the meantime
        stem = name.rsplit(".", 1)[0]
        sizes[stem] = sizes.get(stem, 0) + stat.st_size
    return sizes


@dataclass(frozen=True)
class SpoolEntry:
    """One complete spool entry, as a reader sees it."""

    metadata_path: Path
    image_path: Path | None  # None: the image is gone (only the metadata is left to upload)
    captured_ts: float
    metadata: bytes


def read_entry(path: Path) -> SpoolEntry:
    """Read one entry from its metadata file.

    Raises:
        SpoolEntryError: the metadata is unreadable, not a JSON object, or names an image outside
            the spool.
    """
    try:
        raw = path.read_bytes()
        stat = path.stat()
    except OSError as err:
        raise SpoolEntryError(f"{path}: cannot read: {err}") from err
    try:
        document = json.loads(raw)
    except ValueError as err:
        raise SpoolEntryError(f"{path}: metadata is not JSON: {err}") from err
    if not isinstance(document, dict):
        raise SpoolEntryError(f"{path}: metadata must be a JSON object")
    ts = document.get(CAPTURED_KEY)
    captured = float(ts) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else stat.st_mtime
    named = document.get(IMAGE_KEY)
    image: Path | None
    if isinstance(named, str) and named:
        if Path(named).name != named:
            raise SpoolEntryError(f"{path}: {IMAGE_KEY!r} must be a file name in the spool, got {named!r}")
        image = path.with_name(named)
    else:
        siblings = [p for p in path.parent.glob(f"{path.stem}.*") if p.suffix != METADATA_SUFFIX]
        image = sorted(siblings)[0] if siblings else None
    if image is not None and not image.exists():
        image = None
    return SpoolEntry(path, image, captured, raw)


def complete_entries(directory: Path, limit: int = 100) -> list[SpoolEntry]:
    """Up to ``limit`` complete entries, oldest first; unreadable ones are logged and skipped."""
    if not directory.is_dir():
        return []
    candidates = []
    for path in directory.glob(f"*{METADATA_SUFFIX}"):
        try:
            candidates.append((path.stat().st_mtime, path))
        except OSError:
            continue  # removed by the writer's own bound in the meantime
    entries: list[SpoolEntry] = []
    for _mtime, path in sorted(candidates)[:limit]:
        try:
            entries.append(read_entry(path))
        except SpoolEntryError as err:
            log.warning(kv(event="spool_entry_unreadable", error=err))
    return entries


def remove_uploaded_entry(entry: SpoolEntry) -> None:
    """Delete an uploaded entry, image first: a leftover is always the metadata, which re-uploads
    under the same key after a crash in between."""
    for path in (entry.image_path, entry.metadata_path):
        if path is not None:
            path.unlink(missing_ok=True)
