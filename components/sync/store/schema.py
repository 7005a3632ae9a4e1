"""The store's SQLite schema, its versions, and bringing a file up to date when it opens.

The schema is versioned with ``PRAGMA user_version``: a file written by an older version is
migrated when it opens (see ``MIGRATIONS``), inside the same transaction that checks the schema.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from components.common.logs import kv

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    priority INTEGER NOT NULL,
    source TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts REAL NOT NULL,
    received REAL NOT NULL,
    expires REAL,
    size INTEGER NOT NULL,
    payload BLOB NOT NULL,
    UNIQUE (source, stream, seq)
);
CREATE INDEX IF NOT EXISTS records_by_age ON records (stream, id);
CREATE INDEX IF NOT EXISTS records_by_expiry ON records (expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    source TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    max_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    count INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS delivered (
    stream TEXT NOT NULL,
    source TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (stream, source)
);
CREATE TABLE IF NOT EXISTS counters (
    stream TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (stream, name)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# (version, script): each brings a file of the previous version up to ``version``. Every step is
# idempotent (IF NOT EXISTS), so a step repeated after a crash or by a racing opener is harmless.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
CREATE TABLE IF NOT EXISTS unconfirmed (
    id INTEGER PRIMARY KEY,  -- the id the record had in ``records``: re-sends keep their order
    stream TEXT NOT NULL,
    source TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts REAL NOT NULL,
    received REAL NOT NULL,
    sent REAL NOT NULL,
    due INTEGER NOT NULL DEFAULT 0,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS unconfirmed_by_stream ON unconfirmed (stream, due, id);
""",
    ),
    (
        2,
        """
CREATE TABLE IF NOT EXISTS gaps (
    stream TEXT NOT NULL,
    source TEXT NOT NULL,
    first_seq INTEGER NOT NULL,  -- the lowest missing sequence number
    last_seq INTEGER NOT NULL,   -- the highest, inclusive
    opened REAL NOT NULL,
    PRIMARY KEY (stream, source, first_seq)
);
""",
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def prepare(db: sqlite3.Connection, path: Path) -> None:
    """Set WAL and full sync, check the file's integrity, create or migrate the schema.

    Raises:
        sqlite3.Error: the file is not a healthy database, or another process holds its lock.
    """
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"journal_mode is {mode}, expected wal")
    db.execute("PRAGMA synchronous=FULL")
    check = db.execute("PRAGMA quick_check").fetchone()[0]
    if check != "ok":
        raise sqlite3.DatabaseError(f"integrity check failed: {check}")
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        # Written by a newer version: its migrations only ever add, so what we use is there.
        log.warning(kv(event="store_schema_newer", path=path, version=version, known=SCHEMA_VERSION))
    steps = [script for target, script in MIGRATIONS if target > version]
    if steps:
        steps.append(f"PRAGMA user_version = {SCHEMA_VERSION};")
    # Taking the write lock now tells a locked file apart before any record is accepted; the
    # migration commits with the schema or not at all.
    db.executescript("BEGIN IMMEDIATE;" + SCHEMA + "".join(steps) + "COMMIT;")
    if steps:
        log.info(
            kv(
                event="store_schema_updated",
                path=path,
                from_version=version,
                to_version=SCHEMA_VERSION,
            )
        )
