"""What "every reading accounted for" means, as code: pure functions over what the cloud holds,
what the witness saw published, and the loss windows the faults opened.

Definitions (docs/delivery-guarantee.md, "How this is tested"):

* Sensing numbers readings per sensor consecutively within one run, starting at the run's start
  time in microseconds. A **run** of a source is a maximal set of sequence numbers no further than
  ``RUN_GAP`` apart. A reading is **published** if its seq lies between the lowest and highest seq
  of its run seen anywhere (S3 or the witness): a number sensing never handed to the core (it was
  killed first) is not a reading, and a number nobody saw at either end of a run cannot be told
  from one that was never taken.
* A published reading is **uploaded** when it is in exactly one S3 object.
* A published reading missing from S3 is **excused** when its timestamp falls in a loss window: the
  span of a ``kill -9`` of sync or of the core (from ``IN_FLIGHT_MARGIN_S`` before the kill, which
  covers the group-commit window and the trip through the core, until the new sync process
  subscribed), unless sync's store held it right after that kill (read from the store file once
  the process was dead): a committed reading must arrive. Nothing else excuses it.
* Every other missing reading must have been **dropped by a policy and counted**: their number must
  not exceed the sync store's drop counters for the stream, and those counters must not exceed the
  number of missing readings (a counter that claims more drops than there are is wrong too).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# Two runs of one sensor start at least a second apart: a million microseconds. Within a run, a
# gap this wide would mean 100,000 consecutive readings lost.
RUN_GAP = 100_000
# Drop counters of docs/delivery-guarantee.md ("duplicates" is not a loss).
DROP_COUNTERS = ("malformed", "deadbandDropped", "rejectedFull", "overwritten", "lowDiskDropped", "expired")


class Window(Protocol):
    """A loss window (see ``rig.LossWindow``)."""

    cause: str

    def covers(self, ts: float) -> bool: ...

    def excuses(self, source: str, seq: int, ts: float) -> bool: ...


@dataclass
class StreamObjects:
    """One stream's S3 content: records by ``(source, seq)`` and the objects holding each."""

    records: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    holders: dict[tuple[str, int], list[str]] = field(default_factory=lambda: defaultdict(list))
    bad_keys: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> dict[tuple[str, int], list[str]]:
        """Records found in more than one object (or twice in one)."""
        return {key: keys for key, keys in self.holders.items() if len(keys) > 1}


def by_stream(objects: Mapping[str, Sequence[dict[str, Any]]]) -> dict[str, StreamObjects]:
    """Index decoded batches (key -> messages) by stream; checks each key names its content.

    A key is ``telemetry/<thing>/<stream>/date=.../<firstseq>-<lastseq>_<source>.<ext>``: an object
    whose messages are not exactly that source and range is listed in ``bad_keys``.
    """
    streams: dict[str, StreamObjects] = defaultdict(StreamObjects)
    for key, messages in objects.items():
        parts = key.split("/")
        stream = parts[2]
        name = parts[-1].split(".", 1)[0]
        span, _, source = name.partition("_")
        first, _, last = span.partition("-")
        index = streams[stream]
        seqs = [int(m["seq"]) for m in messages]
        if (
            not messages
            or {m["source"] for m in messages} != {source}
            or min(seqs) != int(first)
            or max(seqs) != int(last)
        ):
            index.bad_keys.append(key)
        for message in messages:
            record = (str(message["source"]), int(message["seq"]))
            index.records[record] = message
            index.holders[record].append(key)
    return dict(streams)


def runs(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """``(first, last)`` of each run in ``seqs`` (see the module's definition)."""
    ordered = sorted(set(seqs))
    found: list[tuple[int, int]] = []
    for seq in ordered:
        if found and seq - found[-1][1] <= RUN_GAP:
            found[-1] = (found[-1][0], seq)
        else:
            found.append((seq, seq))
    return found


@dataclass
class ReadingsAccount:
    """Where every published reading went."""

    published: int = 0
    uploaded: int = 0
    excused: Counter[str] = field(default_factory=Counter)
    unexcused: list[tuple[str, int, float]] = field(default_factory=list)
    unknown_in_s3: list[tuple[str, int]] = field(default_factory=list)

    @property
    def missing(self) -> int:
        """Published readings not in S3."""
        return self.published - self.uploaded


def account_readings(
    uploaded: Mapping[tuple[str, int], dict[str, Any]],
    witnessed: Iterable[dict[str, Any]],
    windows: Sequence[Window],
) -> ReadingsAccount:
    """Sort every published reading into uploaded, excused by a loss window, or unexcused."""
    stamps: dict[str, dict[int, float]] = defaultdict(dict)
    for (source, seq), message in uploaded.items():
        stamps[source][seq] = float(message["ts"])
    for message in witnessed:
        stamps[str(message["source"])].setdefault(int(message["seq"]), float(message["ts"]))
    account = ReadingsAccount()
    for source, known in stamps.items():
        ordered = sorted(known)
        for first, last in runs(ordered):
            for seq in range(first, last + 1):
                account.published += 1
                if (source, seq) in uploaded:
                    account.uploaded += 1
                    continue
                ts = _estimate_ts(seq, ordered, known)
                cause = next((w.cause for w in windows if w.excuses(source, seq, ts)), None)
                if cause is None:
                    account.unexcused.append((source, seq, ts))
                else:
                    account.excused[cause] += 1
    return account


def _estimate_ts(seq: int, ordered: list[int], known: Mapping[int, float]) -> float:
    """A reading nobody saw: its time interpolated between its nearest seen neighbours of the run."""
    if seq in known:
        return known[seq]
    at = bisect.bisect_left(ordered, seq)
    below, above = ordered[at - 1], ordered[at]  # a missing seq is inside its run: both exist
    share = (seq - below) / (above - below)
    return known[below] + share * (known[above] - known[below])


def drops(counters: Mapping[str, int]) -> int:
    """The sum of a stream's drop counters."""
    return sum(int(counters.get(name, 0)) for name in DROP_COUNTERS)


def first_receipts(messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages in arrival order without repeats of an already received ``(source, seq)``
    (an at-least-once redelivery after a crash is allowed; it is not a new alert)."""
    seen: set[tuple[str, int]] = set()
    first: list[dict[str, Any]] = []
    for message in messages:
        key = (str(message["source"]), int(message["seq"]))
        if key not in seen:
            seen.add(key)
            first.append(message)
    return first


def alert_order_violations(
    arrived: Sequence[dict[str, Any]],
    published: Sequence[dict[str, Any]],
    received_at: Sequence[float] = (),
    unwatched: Sequence[tuple[float, float]] = (),
) -> list[str]:
    """Alerts out of order as the cloud received them (``arrived``, in arrival order).

    * per source, the first receipts' ``seq`` must increase;
    * a ``cleared`` must arrive after the ``raised`` it clears (the same alert id's last raise
      published before it, from ``published``), when that raise arrived at all.

    ``unwatched`` are spans in which nobody watched the cloud (``received_at`` gives each arrival's
    time): sync re-sends every alert it sent recently after a restart, so an alert first delivered
    in such a span is first *seen* when re-sent, after newer ones. An alert published (``ts``) by
    the end of an unwatched span and first seen after its start may have arrived in it first: its
    order cannot be seen, and it is not counted (it is not excused from arriving at all).
    """
    problems: list[str] = []
    first = first_receipts(arrived)
    first_seen: dict[tuple[str, int], float] = {}
    for message, at in zip(arrived, received_at, strict=False):
        first_seen.setdefault((str(message["source"]), int(message["seq"])), at)

    def unseen_first(key: tuple[str, int], ts: float) -> bool:
        at = first_seen.get(key)
        return at is not None and any(ts <= end and at > start for start, end in unwatched)

    published_ts = {(str(m["source"]), int(m["seq"])): float(m["ts"]) for m in published}
    position = {(str(m["source"]), int(m["seq"])): i for i, m in enumerate(first)}
    last_seq: dict[str, int] = {}
    for message in first:
        source, seq = str(message["source"]), int(message["seq"])
        if (
            source in last_seq
            and seq <= last_seq[source]
            and not unseen_first((source, seq), float(message["ts"]))
        ):
            problems.append(f"{source}: seq {seq} arrived after seq {last_seq[source]}")
        last_seq[source] = max(seq, last_seq.get(source, seq))
    raises: dict[str, list[int]] = defaultdict(list)
    for message in sorted(published, key=lambda m: int(m["seq"])):
        if message["state"] == "raised":
            raises[str(message["alertId"])].append(int(message["seq"]))
    for message in first:
        if message["state"] != "cleared":
            continue
        earlier = [s for s in raises[str(message["alertId"])] if s < int(message["seq"])]
        if not earlier:
            continue
        raised = (str(message["source"]), earlier[-1])
        cleared = (str(message["source"]), int(message["seq"]))
        if (
            raised in position
            and position[raised] > position[cleared]
            and not unseen_first(raised, published_ts.get(raised, float("inf")))
        ):
            problems.append(
                f"{message['alertId']}: cleared seq {cleared[1]} arrived before raised seq {raised[1]}"
            )
    return problems
