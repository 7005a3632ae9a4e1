"""The column codecs of a batch: integers, floats and strings, each to bytes that compress well.

Integers become ``order``-th deltas (a steady clock or counter becomes a run of zeros), zig-zag
coded, cut to the bytes their largest value needs and byte-shuffled; floats become integers at the
finest decimal resolution their values need (raw float64 when none reproduces them exactly);
strings become indexes into a table kept in the column's header entry. The batch layout that
arranges these columns is :mod:`components.sync.encoding`.
"""

from __future__ import annotations

import itertools
import math
import operator
import sys
from array import array
from collections.abc import Sequence
from typing import Any

from components.sync.exceptions import EncodingError

MAX_DECIMALS = 9
# Integers above this cannot all be represented by float64, so scaled columns stay below it.
_EXACT_INT_LIMIT = 2**53

# Plain Python on purpose: numpy cost the sync process ~12 MiB resident for a few vector operations
# on batches of hundreds of records. The bytes are the ones the numpy encoder wrote (objects already
# in S3 and re-encodes after a crash must match): int64 deltas, zig-zag to uint64, little-endian,
# byte planes. Column values stay inside int64 (seq below 2**61, scaled floats below 2**53), so
# Python's unbounded ints give the same numbers numpy's wrapping int64 did.
if array("Q").itemsize != 8 or array("d").itemsize != 8:  # pragma: no cover - no such CPython platform
    raise ImportError("components.sync.columns needs 8-byte array('Q') and array('d') items")
_BIG_ENDIAN = sys.byteorder == "big"
_ONES = itertools.repeat(1)
_SIXTY3 = itertools.repeat(63)


# The per-value arithmetic below is map() over operator functions: the loops run in C, about twice
# as fast as the equivalent comprehensions on a 20,000-record batch.
def _zigzag(values: list[int]) -> list[int]:
    """Signed int64 values as unsigned: 0, -1, 1, -2 ... become 0, 1, 2, 3 ..."""
    if not values or min(values) >= 0:  # dictionary indexes, rising counters: just v << 1
        return list(map(operator.lshift, values, _ONES))
    # (v << 1) ^ (v >> 63)
    return list(map(operator.xor, map(operator.lshift, values, _ONES), map(operator.rshift, values, _SIXTY3)))


def _unzigzag(values: list[int]) -> list[int]:
    # (v >> 1) ^ -(v & 1)
    return list(
        map(
            operator.xor,
            map(operator.rshift, values, _ONES),
            map(operator.neg, map(operator.and_, values, _ONES)),
        )
    )


def _shuffle_bytes(raw: bytes, width: int) -> bytes:
    """Little-endian 8-byte items, low ``width`` bytes of each only, grouped by byte position.

    Byte planes (all low bytes, then all second bytes ...) give the compressor long runs; a
    stepped slice copies one plane at C speed.
    """
    return b"".join(raw[j::8] for j in range(width))


def _shuffle(values: list[int], width: int) -> bytes:
    """The byte planes of unsigned 64-bit ``values`` (OverflowError outside 0..2**64-1)."""
    items = array("Q", values)
    if _BIG_ENDIAN:  # pragma: no cover - the layout is little-endian on every host
        items.byteswap()
    return _shuffle_bytes(items.tobytes(), width)


def _unshuffle(blob: bytes, width: int, count: int) -> bytes:
    """Undo :func:`_shuffle_bytes`: ``count`` little-endian 8-byte items, high bytes zero."""
    if len(blob) != width * count:
        raise EncodingError(f"column holds {len(blob)} bytes, expected {width * count}")
    full = bytearray(8 * count)
    for j in range(width):
        full[j::8] = blob[j * count : (j + 1) * count]
    return bytes(full)


def _unshuffle_ints(blob: bytes, width: int, count: int) -> list[int]:
    items = array("Q")
    items.frombytes(_unshuffle(blob, width, count))
    if _BIG_ENDIAN:  # pragma: no cover
        items.byteswap()
    return items.tolist()


def encode_ints(values: Sequence[int], order: int) -> tuple[dict[str, Any], bytes]:
    """Integers as ``order``-th deltas, zig-zag coded, cut to the bytes needed, byte-shuffled;
    returns the column's header entry (``order``, ``width``) and its bytes."""
    deltas = list(values)
    for _ in range(order):
        # d[i] = v[i] - v[i-1], with v[-1] = 0 (numpy's diff with prepend=0)
        deltas = list(map(operator.sub, deltas, itertools.chain((0,), deltas)))
    coded = _zigzag(deltas)
    top = max(coded, default=0)
    width = max(1, (top.bit_length() + 7) // 8)
    return {"order": order, "width": width}, _shuffle(coded, width)


def decode_ints(meta: dict[str, Any], blob: bytes, count: int) -> list[int]:
    """Undo :func:`encode_ints` (raises :class:`EncodingError` for a column of the wrong size)."""
    values = _unzigzag(_unshuffle_ints(blob, int(meta["width"]), count))
    for _ in range(int(meta["order"])):
        values = list(itertools.accumulate(values))
    return values


def _scaled(values: list[float]) -> tuple[int, list[int]] | None:
    """The fewest decimals that reproduce every value exactly, with the values scaled to integers
    at that many decimals; None when raw float64 is needed (not finite, or more than
    ``MAX_DECIMALS`` decimals, or scaled past 2**53)."""
    if not values:
        return 0, []
    if not all(map(math.isfinite, values)):
        return None
    top = max(map(abs, values))
    for decimals in range(MAX_DECIMALS + 1):
        scale = 10.0**decimals
        # The largest |value * scale| is top * scale (rounding is monotonic); past 2**53 it is
        # not an exact integer, and more decimals only make it larger.
        if top * scale >= _EXACT_INT_LIMIT:
            return None
        # Division by a power of ten is correctly rounded, so the reader's n / 10**d is this
        # value. round() is round-half-even like numpy's rint; most grids fail on the first value.
        # A few values first: a grid too coarse usually fails on one of them, before a full pass.
        if any(round(value * scale) / scale != value for value in values[:16]):
            continue
        ints = list(map(round, map(operator.mul, values, itertools.repeat(scale))))
        if list(map(operator.truediv, ints, itertools.repeat(scale))) == values:
            return decimals, ints
    return None


def encode_floats(values: list[float], order: int) -> tuple[dict[str, Any], bytes]:
    """Floats as integers at the fewest decimals that reproduce them (see :func:`encode_ints`),
    or as raw float64 byte planes when no such scale exists."""
    scaled = _scaled(values)
    if scaled is None:
        raw = array("d", values)
        if _BIG_ENDIAN:  # pragma: no cover
            raw.byteswap()
        return {"raw": True}, _shuffle_bytes(raw.tobytes(), 8)
    decimals, ints = scaled
    meta, blob = encode_ints(ints, order)
    return {**meta, "decimals": decimals}, blob


def decode_floats(meta: dict[str, Any], blob: bytes, count: int) -> list[float]:
    """Undo :func:`encode_floats`: every value exactly as it was."""
    if meta.get("raw"):
        raw = array("d")
        raw.frombytes(_unshuffle(blob, 8, count))
        if _BIG_ENDIAN:  # pragma: no cover
            raw.byteswap()
        return raw.tolist()
    scale = 10.0 ** int(meta["decimals"])
    return list(map(operator.truediv, decode_ints(meta, blob, count), itertools.repeat(scale)))


def encode_dictionary(items: Sequence[str]) -> tuple[dict[str, Any], bytes]:
    """Distinct strings in the header, one index per record in the column."""
    distinct: dict[str, int] = {}
    indexes = [distinct.setdefault(item, len(distinct)) for item in items]
    meta, blob = encode_ints(indexes, 1)
    return {**meta, "values": list(distinct)}, blob


def decode_dictionary(meta: dict[str, Any], blob: bytes, count: int) -> list[str]:
    """Undo :func:`encode_dictionary`."""
    table = meta["values"]
    try:
        return [table[i] for i in decode_ints(meta, blob, count)]
    except IndexError as err:
        raise EncodingError("dictionary column refers past its table") from err
