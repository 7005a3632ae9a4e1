"""Validated, immutable data models: the base class and the one way to build one from raw data.

Configuration and messages are ``msgspec.Struct`` classes. msgspec rather than pydantic because
every component is its own process on a gateway with as little as 512 MB: importing msgspec costs
about 1.2 MiB per process, pydantic and its first model about 15 MiB (measured with
``benchmarks/footprint.py`` and ``psutil`` USS; four components pay it four times).

Example::

    class Sensor(ConfigStruct, frozen=True):
        id: Id
        interval_seconds: Annotated[float, Meta(ge=0.0001)] = 2.0   # the key is intervalSeconds

    sensor = convert({"id": "line1", "intervalSeconds": 5}, Sensor)
    convert({"id": "line1", "intervalSeconds": -1}, Sensor)
    # StructError: intervalSeconds: Expected `float` >= 0.0001 (got -1)

A check across fields goes in ``__post_init__`` and raises ``ValueError``; msgspec reports it
with the path of the object it is in. ``Meta`` constraints are checked by :func:`convert`, which is
how every value from outside (recipe, deployment, shadow, message) comes in; a model built in code
with keyword arguments runs ``__post_init__`` but not the ``Meta`` checks, as with any dataclass.
Subclasses repeat ``frozen=True``: type checkers (``dataclass_transform``) do not inherit it through
the base's options, and would take a subclass for a non-frozen dataclass and refuse it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

import msgspec
import msgspec.inspect as mi

from components.common.exceptions import StructError

T = TypeVar("T")

# msgspec ends an error message with " - at `$.sensors[0].intervalSeconds`".
_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
# A map entry is "[...]" (msgspec does not say which key): it is written "*", one of the entries.
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
# A top-level check that names the key itself ("streams.readingz: unknown stream").
_KEYED = re.compile(r"^[A-Za-z_][\w.*-]*: ")


# Field types the components share. \Z, not $: msgspec matches a pattern with re.search, where $
# also matches before a trailing newline ("line1\n" would pass as an id).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z"
# A board pin name as the ``board`` module spells it: ``D4``, ``LED``, ``GP15``.
PIN_PATTERN = r"^[A-Z][A-Z0-9_]{0,15}\Z"
SHA256_PATTERN = r"^[0-9a-f]{64}\Z"
Id = Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]
Pin = Annotated[str, msgspec.Meta(pattern=PIN_PATTERN)]
Sha256 = Annotated[str, msgspec.Meta(pattern=SHA256_PATTERN)]


class ConfigStruct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """Base of configuration models: keys in camelCase (``interval_seconds`` is ``intervalSeconds``),
    unknown keys refused (a typo must not be silently ignored), immutable and hashable."""


def _path_parts(path: str) -> list[str | int]:
    return [
        key if key else ("*" if index == "..." else int(index)) for key, index in _PATH_PART.findall(path)
    ]


def _value_at(raw: Any, parts: list[str | int]) -> Any:
    value = raw
    for part in parts:
        in_map = isinstance(value, dict) and part in value
        in_list = isinstance(value, (list, tuple)) and isinstance(part, int) and part < len(value)
        if not (in_map or in_list):
            return None
        value = value[part]
    return value


def _locate(err: msgspec.ValidationError, raw: Any) -> tuple[list[str | int], str, Any]:
    text = str(err)
    match = _AT.search(text)
    if match is None:
        return [], text, raw
    parts = _path_parts(match.group("path"))
    return parts, text[: match.start()], _value_at(raw, parts)


def _dotted(parts: list[str | int]) -> str:
    return ".".join(str(part) for part in parts) or "<root>"


def locate_error(err: msgspec.ValidationError, raw: Any) -> tuple[str, str, Any]:
    """``(key path, what was expected, value found)`` of a msgspec error raised on ``raw``.

    The path is dotted (``sensors.0.intervalSeconds``), ``<root>`` for the object itself; the
    value is ``None`` where the path does not lead to one (a missing key).
    """
    parts, what, got = _locate(err, raw)
    return _dotted(parts), what, got


def _step(info: mi.Type, part: str | int) -> list[mi.Type]:
    """The types one path part below ``info`` can hold (several through a union)."""
    if isinstance(info, mi.Metadata):
        return _step(info.type, part)
    if isinstance(info, mi.UnionType):
        return [inner for member in info.types for inner in _step(member, part)]
    if isinstance(info, mi.StructType) and isinstance(part, str):
        if part == info.tag_field and info.tag is not None:
            return [mi.LiteralType(values=(info.tag,))]
        return [field.type for field in info.fields if field.encode_name == part]
    if isinstance(info, (mi.ListType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
        return [info.item_type]
    if isinstance(info, mi.TupleType) and isinstance(part, int) and part < len(info.item_types):
        return [info.item_types[part]]
    if isinstance(info, mi.DictType):
        return [info.value_type]
    return []


def allowed_values(model: Any, parts: list[str | int]) -> list[Any]:
    """The values the key at ``parts`` may take in ``model``, when it is a choice (a ``Literal``, or
    the tag of a tagged union: ``camera.type``); empty otherwise."""
    candidates: list[mi.Type] = [mi.type_info(model)]
    for part in parts:
        candidates = [inner for info in candidates for inner in _step(info, part)]
    values: list[Any] = []
    for info in candidates:
        while isinstance(info, mi.Metadata):
            info = info.type
        if isinstance(info, mi.LiteralType):
            values.extend(value for value in info.values if value not in values)
    return values


def describe_error(err: msgspec.ValidationError, raw: Any, model: Any = None) -> str:
    """``key.path: what was expected (got value)`` for a msgspec error raised on ``raw``; with
    ``model``, a refused choice also lists the values allowed."""
    parts, what, got = _locate(err, raw)
    where = _dotted(parts)
    # msgspec names a refused choice itself ("Invalid value 'webcam'"): no need to repeat it.
    says_value = what.endswith(f" {got!r}")
    if model is not None and what.startswith(("Invalid value", "Invalid enum value")):
        choices = allowed_values(model, parts)
        if choices:
            what = f"{what}; expected one of {choices}"
    if where == "<root>" and _KEYED.match(what):
        return what
    if isinstance(got, (dict, list)) or got is None or says_value:
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
        raise StructError(describe_error(err, raw, model)) from err


def to_json_dict(struct: Any) -> Any:
    """``struct`` as JSON-ready builtins with its encoded (camelCase) keys; tuples become lists."""
    return msgspec.json.decode(msgspec.json.encode(struct))
