"""A damaged or locked store file: told apart from a passing error, moved aside, replaced.

The component never crash-loops on a bad file: :func:`open_store` sets it aside (with its WAL and
shared-memory files, for a post-mortem) and starts a new store, and a file damaged while running
is moved aside before the process exits with an error.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

from components.common.logs import kv
from components.sync.exceptions import StoreFullError, StoreUnusableError
from components.sync.store.sqlite import SqliteStore

log = logging.getLogger(__name__)


def is_unusable(error: BaseException) -> bool:
    """Whether an error means the database file itself is damaged (not a transient I/O or lock problem)."""
    if isinstance(error, StoreUnusableError):
        return True
    return isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.OperationalError)


def move_aside(path: Path, reason: str) -> Path:
    """Rename a database file (and its WAL and shared-memory files) out of the way; returns the new name."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.unusable-{stamp}-{os.getpid()}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            source.rename(Path(f"{target}{suffix}"))
    log.error(kv(event="store_moved_aside", path=path, moved_to=target, reason=reason))
    return target


def open_store(path: str | os.PathLike[str]) -> tuple[SqliteStore, str | None]:
    """Open the store at ``path``; a corrupt or locked file is moved aside and a new store started.

    Returns:
        The store, and a description of what was wrong with the old file (None if nothing was).

    Raises:
        StoreFullError: no space left to open it; the file is left where it is.
    """
    try:
        return SqliteStore(path), None
    except StoreUnusableError as err:
        moved = move_aside(Path(path), str(err))
        return SqliteStore(path), f"{err}; moved to {moved.name}"


#: How often a store that could not be opened for want of space is tried again.
SPACE_RETRY_SECONDS = 5.0


def open_store_when_space(
    path: str | os.PathLike[str], stop: threading.Event, retry_seconds: float = SPACE_RETRY_SECONDS
) -> tuple[SqliteStore, str | None] | None:
    """:func:`open_store`, waiting while its file system is full instead of failing (a component
    that exits on a full disk is restarted into the same failure until the nucleus calls it
    BROKEN, and never comes back by itself once space is freed).

    Returns:
        What :func:`open_store` returns, or None if ``stop`` was set while waiting.
    """
    waiting_since: float | None = None
    while True:
        try:
            opened = open_store(path)
        except StoreFullError as err:
            if waiting_since is None:
                waiting_since = time.monotonic()
                log.error(kv(event="store_waiting_for_space", path=path, error=err))
            if stop.wait(retry_seconds):
                return None
            continue
        if waiting_since is not None:
            log.info(
                kv(event="store_space_back", path=path, waited_s=round(time.monotonic() - waiting_since, 1))
            )
        return opened
