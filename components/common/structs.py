"""Validated, immutable data models: the base class and the one way to build one from raw data.

Configuration and messages are ``msgspec.Struct`` classes. msgspec rather than pydantic because
every component is its own process on a gateway with as little as 512 MB: importing msgspec costs
about 1.2 MiB per process, pydantic and its first model about 15 MiB (measured with
``benchmarks/footprint.py`` and ``psutil`` USS; four components pay it four times).

Example::

    class Sensor(ConfigStruct):
        id: Annotated[str, Meta(pattern=ID_PATTERN)]
        interval_seconds: Annotated[float, Meta(ge=0.0001)] = 2.0   # the key is intervalSeconds

    sensor = convert({"id": "line1", "intervalSeconds": 5}, Sensor)
    convert({"id": "line1", "intervalSeconds": -1}, Sensor)
    # StructError: intervalSeconds: Expected `float` >= 0.0001 (got -1)

A check across fields goes in ``__post_init__`` and raises ``ValueError``; msgspec reports it
with the path of the object it is in. ``Meta`` constraints are checked by :func:`convert`, which is
how every value from outside (recipe, deployment, shadow, message) comes in; a model built in code
with keyword arguments runs ``__post_init__`` but not the ``Meta`` checks, as with any dataclass.
Subclasses repeat ``frozen=True`` for mypy, which does not inherit it through the base's options.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

# msgspec ends an error message with " - at `$.sensors[0].intervalSeconds`".
_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
# A map entry is "[...]" (msgspec does not say which key): it is written "*", one of the entries.
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")


class StructError(ValueError):
    """Raw data does not fit a model; the message names the key path, what was expected and the value."""


class ConfigStruct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """Base of configuration models: keys in camelCase (``interval_seconds`` is ``intervalSeconds``),
    unknown keys refused (a typo must not be silently ignored), immutable and hashable."""


def _path_parts(path: str) -> list[str | int]:
    return [key if key else ("*" if index == "..." else int(index)) for key, index in _PATH_PART.findall(path)]


def _value_at(raw: Any, parts: list[str | int]) -> Any:
    value = raw
    for part in parts:
        in_map = isinstance(value, dict) and part in value
        in_list = isinstance(value, (list, tuple)) and isinstance(part, int) and part < len(value)
        if not (in_map or in_list):
            return None
        value = value[part]
    return value


def locate_error(err: msgspec.ValidationError, raw: Any) -> tuple[str, str, Any]:
    """``(key path, what was expected, value found)`` of a msgspec error raised on ``raw``.

    The path is dotted (``sensors.0.intervalSeconds``), ``<root>`` for the object itself; the
    value is ``None`` where the path does not lead to one (a missing key).
    """
    text = str(err)
    match = _AT.search(text)
    if match is None:
        return "<root>", text, raw
    parts = _path_parts(match.group("path"))
    return ".".join(str(part) for part in parts) or "<root>", text[: match.start()], _value_at(raw, parts)


def describe_error(err: msgspec.ValidationError, raw: Any) -> str:
    """``key.path: what was expected (got value)`` for a msgspec error raised on ``raw``."""
    where, what, got = locate_error(err, raw)
    if isinstance(got, (dict, list)) or got is None:
        return f"{where}: {what}"
    return f"{where}: {what} (got {got!r})"


def convert(raw: Any, model: type[T], *, strict: bool = False) -> T:
    """Validate ``raw`` (parsed JSON/YAML) into ``model``.

    ``strict=False`` accepts numbers and booleans written as strings (``"5"``), as the Greengrass
    console and YAML sometimes write them; it never turns a number into a string.

    Raises:
        StructError: naming the key path, what was expected and the value found.
    """
    try:
        return msgspec.convert(raw, model, strict=strict)
    except msgspec.ValidationError as err:
        raise StructError(describe_error(err, raw)) from err


def to_json_dict(struct: Any) -> Any:
    """``struct`` as JSON-ready builtins with its encoded (camelCase) keys; tuples become lists."""
    return msgspec.json.decode(msgspec.json.encode(struct))
