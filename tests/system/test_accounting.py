"""The whole-system test's bookkeeping can fail: losses, duplicates and out-of-order alerts are seen."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from .accounting import RUN_GAP, account_readings, alert_order_violations, by_stream, runs
from .rig import LossWindow

BASE = 1_700_000_000_000_000


def reading(seq: int, source: str = "s1") -> dict[str, Any]:
    return {"source": source, "seq": seq, "ts": (seq - BASE) * 0.1}


def alert(seq: int, state: str, alert_id: str = "r:s1") -> dict[str, Any]:
    return {"source": "s1", "seq": seq, "ts": float(seq), "alertId": alert_id, "state": state}


@given(st.lists(st.integers(min_value=0, max_value=10 * RUN_GAP), max_size=60))
def test_runs_cover_every_number_once_and_split_only_at_wide_gaps(seqs: list[int]) -> None:
    found = runs(seqs)
    for seq in seqs:
        assert sum(first <= seq <= last for first, last in found) == 1
    assert all(first in seqs and last in seqs for first, last in found)
    for (_, last), (first, _) in itertools.pairwise(found):
        assert first - last > RUN_GAP


def test_a_reading_missing_in_the_middle_of_a_run_is_unexcused() -> None:
    uploaded = {("s1", s): reading(s) for s in range(BASE, BASE + 10) if s != BASE + 4}
    account = account_readings(uploaded, [], [])
    assert account.published == 10 and account.uploaded == 9
    assert [(source, seq) for source, seq, _ in account.unexcused] == [("s1", BASE + 4)]


def test_a_loss_window_excuses_only_what_the_store_did_not_hold() -> None:
    uploaded = {("s1", s): reading(s) for s in (BASE, BASE + 5)}
    window = LossWindow("kill -9 sync", start=0.05, end=0.35, committed=frozenset({("s1", BASE + 2)}))
    account = account_readings(uploaded, [], [window])
    assert account.excused["kill -9 sync"] == 2  # seq 1 and 3 (ts 0.1 and 0.3)
    assert [seq - BASE for _, seq, _ in account.unexcused] == [2, 4]


def test_the_witness_extends_a_run_to_readings_never_uploaded() -> None:
    uploaded = {("s1", BASE): reading(BASE)}
    account = account_readings(uploaded, [reading(BASE + 1), reading(BASE + 2)], [])
    assert account.missing == 2 and len(account.unexcused) == 2


def test_a_record_in_two_objects_and_a_key_naming_other_content_are_found() -> None:
    key_a = f"telemetry/t/readings/date=2026-01-01/{BASE:016d}-{BASE + 1:016d}_s1.ebb.zst"
    key_b = f"telemetry/t/readings/date=2026-01-01/{BASE + 1:016d}-{BASE + 1:016d}_s1.ebb.zst"
    key_c = f"telemetry/t/readings/date=2026-01-01/{BASE + 7:016d}-{BASE + 9:016d}_s1.ebb.zst"
    index = by_stream(
        {key_a: [reading(BASE), reading(BASE + 1)], key_b: [reading(BASE + 1)], key_c: [reading(BASE + 8)]}
    )["readings"]
    assert index.duplicates == {("s1", BASE + 1): [key_a, key_b]}
    assert index.bad_keys == [key_c]


def test_alert_order_violations() -> None:
    published = [alert(1, "raised"), alert(2, "cleared"), alert(3, "raised")]
    assert alert_order_violations(published, published) == []
    # An at-least-once redelivery of seq 1 after seq 2 arrived is not a new alert.
    assert (
        alert_order_violations([alert(1, "raised"), alert(2, "cleared"), alert(1, "raised")], published) == []
    )
    problems = alert_order_violations([alert(2, "cleared"), alert(1, "raised")], published)
    assert any("seq 1 arrived after seq 2" in p for p in problems)
    assert any("cleared seq 2 arrived before raised seq 1" in p for p in problems)


def test_an_alert_first_delivered_while_nobody_watched_is_not_out_of_order() -> None:
    # GIVEN alerts 1, 2 (ts 1, 2) delivered while the core was down (span 1.5..5: unseen), 3 seen
    # at time 6, then sync's re-sends after a restart: 1 and 2 first seen at times 7 and 7.1
    published = [alert(1, "raised"), alert(2, "cleared"), alert(3, "raised")]
    arrived = [alert(3, "raised"), alert(1, "raised"), alert(2, "cleared")]
    received_at = [6.0, 7.0, 7.1]
    # THEN without the span they are out of order; with it, their first arrival may be unseen
    assert len(alert_order_violations(arrived, published, received_at)) == 2
    assert alert_order_violations(arrived, published, received_at, [(1.5, 5.0)]) == []
    # an alert published after the span, or one whose first arrival was seen before it, gets no
    # such excuse
    late = [alert(7, "raised"), alert(6, "raised")]
    assert alert_order_violations(late, late, [8.0, 9.0], [(1.5, 5.0)]) == ["s1: seq 6 arrived after seq 7"]
    assert alert_order_violations(arrived, published, received_at, [(7.5, 9.0)]) != []


def test_a_loss_window_never_excuses_an_alert_the_store_held() -> None:
    window = LossWindow("kill -9 core", start=10.0, end=20.0, committed_alerts=frozenset({("s1", 7)}))
    assert window.excuses_alert("s1", 8, 15.0)
    assert not window.excuses_alert("s1", 7, 15.0)
    assert not window.excuses_alert("s1", 8, 25.0)
