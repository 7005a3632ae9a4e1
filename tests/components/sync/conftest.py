"""Fixtures for the sync component's unit and functional tests: a store in a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.common.messages import alert_message, reading_message
from components.sync.store.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    db = SqliteStore(tmp_path / "store" / "sync.db")
    yield db
    db.close()


def reading(
    seq: int, source: str = "line1", ts: float | None = None, **values: float | None
) -> dict[str, Any]:
    """A reading message at 10 Hz from ``1764331200`` (2025-11-28T12:00:00Z)."""
    values = values or {"temperature": 21.0 + (seq % 7) / 10, "humidity": 40.5}
    units = {name: "C" if name == "temperature" else "%" for name in values}
    return reading_message(
        source, seq, ts if ts is not None else 1764331200.0 + seq / 10, "dht22", values, units
    )


def alert(seq: int, source: str = "rules") -> dict[str, Any]:
    """A raised alert."""
    return alert_message(source, seq, 1764331200.0 + seq, f"a{seq}", "hot", "critical", "raised", "too hot")
