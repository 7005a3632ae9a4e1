"""The S3 key scheme of batches and images: deterministic, so a retried upload overwrites its object.

Batch keys::

    <batchKeyPrefix>/<thing>/<stream>/date=YYYY-MM-DD/<firstseq>-<lastseq>_<source>.ebb.zst

``firstseq`` and ``lastseq`` are zero-padded to 16 digits, so within one source the keys of a
stream sort in sequence order; ``date`` is the UTC day of the batch's first record (a batch never
spans two days) and is the partition the Glue table reads. The source is percent-encoded so any
source id is a safe key part.

Example:
    >>> batch_key("telemetry", "dev-1", "readings", "line1/dht", 1, 600, 1764288000.0, "zstd")
    'telemetry/dev-1/readings/date=2025-11-28/0000000000000001-0000000000000600_line1%2Fdht.ebb.zst'
    >>> parse_batch_key(_)
    BatchKey(thing='dev-1', stream='readings', day='2025-11-28', first_seq=1, last_seq=600, source='line1/dht')
"""

from __future__ import annotations

import re
import time
from typing import NamedTuple
from urllib.parse import quote, unquote

from components.sync.encoding import file_extension

# Sensing numbers messages from the start time in microseconds (16 digits until the year 2286).
SEQ_DIGITS = 16

_KEY = re.compile(
    r"^(?P<prefix>.+)/(?P<thing>[^/]+)/(?P<stream>[^/]+)/date=(?P<day>\d{4}-\d{2}-\d{2})/"
    r"(?P<first>\d+)-(?P<last>\d+)_(?P<source>[^/]+)\.ebb\.(?:zst|gz)$"
)


class BatchKey(NamedTuple):
    """The parts of a batch key."""

    thing: str
    stream: str
    day: str
    first_seq: int
    last_seq: int
    source: str


def utc_day(ts: float) -> str:
    """``YYYY-MM-DD`` of a Unix time, in UTC."""
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def _part(text: str) -> str:
    return quote(text, safe="-._~@=+")


def batch_key(
    prefix: str,
    thing: str,
    stream: str,
    source: str,
    first_seq: int,
    last_seq: int,
    first_ts: float,
    compression: str,
) -> str:
    """The object key of one batch (see the module docstring)."""
    return (
        f"{prefix}/{_part(thing)}/{_part(stream)}/date={utc_day(first_ts)}/"
        f"{first_seq:0{SEQ_DIGITS}d}-{last_seq:0{SEQ_DIGITS}d}_{_part(source)}.{file_extension(compression)}"
    )


def parse_batch_key(key: str) -> BatchKey | None:
    """Split a batch key into its parts, or None if ``key`` is not one."""
    match = _KEY.match(key)
    if match is None:
        return None
    return BatchKey(
        unquote(match["thing"]),
        unquote(match["stream"]),
        match["day"],
        int(match["first"]),
        int(match["last"]),
        unquote(match["source"]),
    )


def image_key(prefix: str, thing: str, captured_ts: float, file_name: str) -> str:
    """The object key of a spooled inspection image or its metadata file."""
    return f"{prefix}/{_part(thing)}/date={utc_day(captured_ts)}/{_part(file_name)}"
