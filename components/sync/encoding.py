"""Batch encoding for S3: delta-encoded integer columns, then zstd (or gzip).

A batch holds the records of one stream from one source, oldest first. Readings are stored as
columns: ``ts`` and ``seq`` as second-order deltas (steady sampling becomes a run of zeros), each
value field as first-order deltas of integers at the finest decimal resolution its values need
(``21.4`` at 0.1 resolution is ``214``), and the text fields (kind, units, quality, extra keys)
as dictionary indexes. Integer columns are zig-zag coded, cut to the bytes their largest value
needs and byte-shuffled, so the compressor sees long runs. Every value is reproduced exactly: a
column whose values need more than nine decimals, or are not finite, is stored as raw float64
(the column codecs are :mod:`components.sync.columns`).
Other streams (and readings that do not fit the column layout) are stored as JSON lines.

Layout before compression::

    b"EBB1" | u32 header length | header (JSON) | for each column: u32 length | column bytes

The header names the stream, source, record count, layout and how each column is coded.
:func:`decode_batch` is the reader; it detects zstd or gzip from the blob's first bytes.

Example:
    >>> from components.common.messages import reading_message
    >>> records = [reading_message("t1", i, 100 + i / 10, "dht22", {"temperature": 21.5}, {"temperature": "C"})
    ...            for i in range(3)]
    >>> decode_batch(encode_batch("readings", records)) == records
    True
"""

from __future__ import annotations

import gzip
import io
import json
import math
import struct
from collections.abc import Sequence
from typing import Any

import zstandard

from components.common.messages import READING_V1
from components.sync.columns import (
    decode_dictionary,
    decode_floats,
    decode_ints,
    encode_dictionary,
    encode_floats,
    encode_ints,
)
from components.sync.exceptions import EncodingError

MAGIC = b"EBB1"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_LEVEL = 9
_READING_KEYS = ("schema", "source", "seq", "ts", "kind", "values", "units", "quality")
_READING_KEY_SET = frozenset(_READING_KEYS)
# Sequence numbers whose second-order deltas still fit in int64.
_SEQ_LIMIT = 2**61
_ABSENT, _NULL, _PRESENT = 0, 1, 2

Message = dict[str, Any]


def file_extension(compression: str) -> str:
    """The object-key suffix for a batch compressed with ``compression``."""
    return "ebb.zst" if compression == "zstd" else "ebb.gz"


# --- layouts -----------------------------------------------------------------------------------------
def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)


def _plain_number(value: Any) -> bool:
    """An int or float that float64 holds exactly (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return not isinstance(value, int) or float(value) == value


def _columnar(records: Sequence[Message]) -> bool:
    """Whether every record is a reading of one source that the column layout reproduces exactly."""
    source = records[0].get("source")
    if type(source) is not str:
        return False
    for record in records:
        if record.get("schema") != READING_V1 or record.get("source") != source:
            return False
        seq = record.get("seq")
        if type(seq) is not int or not -_SEQ_LIMIT < seq < _SEQ_LIMIT:
            return False
        values, units = record.get("values"), record.get("units")
        if type(values) is not dict or type(units) is not dict:
            return False
        if type(record.get("kind")) is not str or type(record.get("quality")) is not str:
            return False
        ts = record.get("ts")
        if type(ts) is not float and not _plain_number(ts):
            return False
        for number in values.values():
            if number is not None and type(number) is not float and not _plain_number(number):
                return False
    return True


def _json_dictionary(items: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], bytes]:
    """A dictionary column of JSON objects, each distinct object serialised once."""
    texts: list[str] = []
    seen: dict[Any, str] = {}
    for item in items:
        if not item:
            texts.append("{}")
            continue
        try:
            key = tuple(item.items())
            text = seen.get(key)
            if text is None:
                text = seen[key] = _canonical(item)
        except TypeError:  # unhashable values (nested objects): serialise each
            text = _canonical(item)
        texts.append(text)
    return encode_dictionary(texts)


def _encode_columns(records: Sequence[Message]) -> tuple[dict[str, Any], list[bytes]]:
    specs: list[dict[str, Any]] = []
    columns: list[bytes] = []

    def add(name: str, coded: tuple[dict[str, Any], bytes]) -> None:
        specs.append({"name": name, **coded[0]})
        columns.append(coded[1])

    add("ts", encode_floats([float(r["ts"]) for r in records], order=2))
    add("seq", encode_ints([r["seq"] for r in records], order=2))
    add("kind", encode_dictionary([r["kind"] for r in records]))
    add("quality", encode_dictionary([r["quality"] for r in records]))
    add("units", _json_dictionary([r["units"] for r in records]))
    standard = len(_READING_KEYS)
    extras = [
        {} if len(r) == standard else {k: v for k, v in r.items() if k not in _READING_KEY_SET}
        for r in records
    ]
    add("extra", _json_dictionary(extras))
    fields = sorted({name for r in records for name in r["values"]})
    for name in fields:
        presence = bytearray()
        present: list[float] = []
        for record in records:
            values = record["values"]
            if name not in values:
                presence.append(_ABSENT)
            elif values[name] is None:
                presence.append(_NULL)
            else:
                presence.append(_PRESENT)
                present.append(float(values[name]))
        add(f"has:{name}", ({"presence": True}, bytes(presence)))
        add(f"value:{name}", encode_floats(present, order=1))
    header = {"layout": "columns", "source": records[0]["source"], "fields": fields, "columns": specs}
    return header, columns


def _decode_columns(header: dict[str, Any], columns: list[bytes], count: int) -> list[Message]:
    specs = header["columns"]
    if len(specs) != len(columns):
        raise EncodingError(f"header lists {len(specs)} columns, blob holds {len(columns)}")
    by_name = {spec["name"]: (spec, blob) for spec, blob in zip(specs, columns, strict=True)}

    def column(name: str) -> tuple[dict[str, Any], bytes]:
        try:
            return by_name[name]
        except KeyError:
            raise EncodingError(f"column {name!r} is missing") from None

    ts = decode_floats(*column("ts"), count)
    seq = decode_ints(*column("seq"), count)
    kind = decode_dictionary(*column("kind"), count)
    quality = decode_dictionary(*column("quality"), count)
    units = decode_dictionary(*column("units"), count)
    extra = decode_dictionary(*column("extra"), count)
    values: list[dict[str, float | None]] = [{} for _ in range(count)]
    for name in header["fields"]:
        presence = column(f"has:{name}")[1]
        if len(presence) != count:
            raise EncodingError(f"presence column of {name!r} has {len(presence)} entries, expected {count}")
        present_count = presence.count(_PRESENT)
        numbers = iter(decode_floats(*column(f"value:{name}"), present_count))
        for index, code in enumerate(presence):
            if code == _PRESENT:
                values[index][name] = next(numbers)
            elif code == _NULL:
                values[index][name] = None
    units_cache: dict[str, Any] = {}
    records: list[Message] = []
    for i in range(count):
        record: Message = {
            "schema": READING_V1,
            "source": header["source"],
            "seq": seq[i],
            "ts": ts[i],
            "kind": kind[i],
            "values": values[i],
            "units": dict(units_cache.setdefault(units[i], json.loads(units[i]))),
            "quality": quality[i],
        }
        if extra[i] != "{}":
            record.update(json.loads(extra[i]))
        records.append(record)
    return records


# --- the container ------------------------------------------------------------------------------------
def encode_batch(
    stream: str,
    records: Sequence[Message],
    compression: str = "zstd",
    resolution: dict[str, float] | None = None,
) -> bytes:
    """Encode one batch (records of one stream, oldest first) and compress it.

    Args:
        stream: the stream's name, kept in the header.
        records: the messages as received (JSON-compatible dicts).
        compression: ``zstd`` (default) or ``gzip``.
        resolution: per-field grid (e.g. ``{"temperature": 0.1}``) reading values are rounded to
            first; fields not named are stored exactly.

    The output depends only on the arguments, so re-encoding the same records after a crash
    yields the same bytes (gzip's timestamp is fixed at 0).

    Raises:
        EncodingError: an empty batch or an unknown compression.
    """
    if not records:
        raise EncodingError("a batch needs at least one record")
    if compression not in ("zstd", "gzip"):
        raise EncodingError(f"unknown compression {compression!r}; expected 'zstd' or 'gzip'")
    if resolution:
        records = [quantize(record, resolution) for record in records]
    header: dict[str, Any]
    if _columnar(records):
        header, columns = _encode_columns(records)
    else:
        lines = "\n".join(_canonical(record) for record in records).encode()
        header, columns = {"layout": "jsonl"}, [lines]
    header.update({"v": 1, "stream": stream, "count": len(records)})
    raw = io.BytesIO()
    raw.write(MAGIC)
    head = _canonical(header).encode()
    raw.write(struct.pack("<I", len(head)))
    raw.write(head)
    for blob in columns:
        raw.write(struct.pack("<I", len(blob)))
        raw.write(blob)
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw.getvalue())
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


def quantize(record: Message, resolution: dict[str, float]) -> Message:
    """The record with each named reading value rounded to its resolution (a copy)."""
    values = record.get("values")
    if not isinstance(values, dict):
        return record
    rounded = dict(values)
    for name, step in resolution.items():
        value = rounded.get(name)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        try:
            steps = value / step
        except OverflowError:  # an int past float64: kept as it is, like NaN and infinities
            continue
        # Near float64's top (1e308 / 0.25) the step count or the grid point overflows to inf;
        # round() would raise and fail the whole batch, so such a value is kept unrounded.
        if not math.isfinite(steps):
            continue
        grid = round(steps) * step
        if math.isfinite(grid):
            # The second round drops the float noise of n * step (0.30000000000000004 -> 0.3).
            rounded[name] = round(grid, 12)
    return {**record, "values": rounded}


def decompress(blob: bytes) -> bytes:
    """Undo zstd or gzip, detected from the first bytes."""
    try:
        if blob.startswith(ZSTD_MAGIC):
            return zstandard.ZstdDecompressor().decompress(blob, max_output_size=1 << 31)
        if blob.startswith(GZIP_MAGIC):
            return gzip.decompress(blob)
    except (zstandard.ZstdError, OSError, EOFError) as err:
        raise EncodingError(f"batch does not decompress: {err}") from err
    raise EncodingError("not a batch: expected zstd or gzip data")


def read_header(raw: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """Split an uncompressed batch into its header and columns."""
    if not raw.startswith(MAGIC):
        raise EncodingError(f"not a batch: expected magic {MAGIC!r}, got {raw[:4]!r}")
    try:
        (head_len,) = struct.unpack_from("<I", raw, 4)
        offset = 8 + head_len
        header = json.loads(raw[8:offset])
        columns: list[bytes] = []
        while offset < len(raw):
            (length,) = struct.unpack_from("<I", raw, offset)
            offset += 4
            if offset + length > len(raw):
                raise EncodingError("batch is truncated")
            columns.append(raw[offset : offset + length])
            offset += length
    except (struct.error, ValueError) as err:
        raise EncodingError(f"batch framing is broken: {err}") from err
    if not isinstance(header, dict) or header.get("v") != 1:
        raise EncodingError("unsupported batch header version; expected v=1")
    return header, columns


def decode_batch(blob: bytes) -> list[Message]:
    """Decode a batch object (as stored in S3) back into its messages, oldest first.

    The reader for every object the sync component writes under ``batchKeyPrefix``::

        s3 = boto3.client("s3")
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        for message in decode_batch(body):
            ...

    Raises:
        EncodingError: the blob is not a batch, or it is damaged.
    """
    header, columns = read_header(decompress(blob))
    count = int(header.get("count", 0))
    if header.get("layout") == "jsonl":
        if len(columns) != 1:
            raise EncodingError("a JSON-lines batch holds exactly one column")
        lines = columns[0].decode().split("\n") if count else []
        if len(lines) != count:
            raise EncodingError(f"batch says {count} records, holds {len(lines)}")
        return [json.loads(line) for line in lines]
    if header.get("layout") == "columns":
        return _decode_columns(header, columns, count)
    raise EncodingError(f"unknown batch layout {header.get('layout')!r}")
