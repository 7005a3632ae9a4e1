"""JSON as ShadowManager (Jackson) sees it: strict parsing, compact output, typed equality."""

from __future__ import annotations

import json
from typing import Any


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN/Infinity; Jackson (ShadowManager) does not.
    raise ValueError(f"{name} is not valid JSON")


def parse_json(payload: bytes) -> Any:
    """Decode strict JSON (UTF-8, no NaN/Infinity); raises ValueError with the parser's reason."""
    text = payload.decode("utf-8")
    return json.loads(text, parse_constant=_reject_constant)


def dump_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, as Jackson writes it (used for payloads and the size limit)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_equal(a: Any, b: Any) -> bool:
    """Jackson's node equality: types must match exactly (``1`` != ``1.0`` != ``true``)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def is_null_or_empty(value: Any) -> bool:
    # JsonUtil.isNullOrMissing: null, or an object without fields, counts as absent.
    return value is None or (isinstance(value, dict) and not value)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "integer" if isinstance(value, int) else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
