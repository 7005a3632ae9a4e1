"""The store's SQLite connection: opened ready to use, with transactions that nest.

Example::

    db = connect(Path("store/sync.db"))   # WAL, synchronous=FULL, schema current
    with Transaction(db):
        db.execute("INSERT INTO meta (key, value) VALUES ('a', 'b')")
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

from components.sync.exceptions import StoreFullError, StoreUnusableError
from components.sync.store.schema import prepare

# How long to wait for another connection's lock before calling the file locked.
BUSY_TIMEOUT_SECONDS = 2.0
# Less free space than this under the store when opening it fails: the disk is full, not the file
# damaged (SQLite may say "disk I/O error" rather than "database or disk is full" when the WAL or
# shared-memory file cannot grow).
FULL_DISK_BYTES = 1 << 20
_SQLITE_FULL = 13  # sqlite3.SQLITE_FULL from Python 3.11 on


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating it and its folder if missing) and prepare the database file at ``path``.

    Raises:
        StoreFullError: no space left on its file system (the file is fine: wait for space).
        StoreUnusableError: the file is not a healthy SQLite database or another process holds
            its lock.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise StoreFullError(f"{path.parent}: no space left to create the folder") from err
        raise
    try:
        db = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as err:
        if is_disk_full(err, path):
            raise StoreFullError(f"{path}: no space left to open the store ({err})") from err
        raise StoreUnusableError(f"{path}: cannot open: {err}") from err
    try:
        prepare(db, path)
    except sqlite3.Error as err:
        db.close()
        if is_disk_full(err, path):
            raise StoreFullError(f"{path}: no space left to open the store ({err})") from err
        raise StoreUnusableError(f"{path}: {describe(err)}") from err
    return db


def is_disk_full(err: BaseException, path: Path) -> bool:
    """Whether ``err`` (from SQLite or the OS) means the store's file system is full."""
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return True
    if not isinstance(err, sqlite3.OperationalError):
        return False
    if getattr(err, "sqlite_errorcode", None) == _SQLITE_FULL or "disk is full" in str(err):
        return True
    if "disk I/O error" not in str(err):
        return False
    try:
        return shutil.disk_usage(path.parent).free < FULL_DISK_BYTES
    except OSError:
        return False


def describe(err: sqlite3.Error) -> str:
    """What an error opening the file says about it: locked, or not a healthy database."""
    text = str(err)
    if "locked" in text or "busy" in text:
        return f"database is locked by another process ({text})"
    return f"not a healthy SQLite database ({text})"


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error; nests by joining the outer transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._outer = False

    def __enter__(self) -> None:
        self._outer = not self._db.in_transaction
        if self._outer:
            self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self._outer:
            return
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
