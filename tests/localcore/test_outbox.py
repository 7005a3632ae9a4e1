"""The ordered outbox the config and shadow stores deliver their notices through."""

from __future__ import annotations

import threading

import pytest

from localcore.outbox import OrderedOutbox


class Owner:
    """A store in miniature: commits under its lock, then drains."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outbox: OrderedOutbox[str] = OrderedOutbox(self.lock)
        self.log: list[str] = []
        self.on_deliver: dict[str, object] = {}

    def commit(self, notice: str) -> None:
        with self.lock:
            self.outbox.append(notice)
        self.outbox.drain(lambda notice: (notice, self.lock.locked()), self.deliver)

    def deliver(self, prepared: tuple[str, bool]) -> None:
        notice, locked_while_prepared = prepared
        assert locked_while_prepared  # prepare runs under the owner's lock
        assert not self.lock.locked()  # deliver does not
        self.log.append(notice)
        action = self.on_deliver.get(notice)
        if callable(action):
            action()


def test_a_notice_delivered_by_a_callback_waits_its_turn_and_the_callback_does_not_deadlock() -> None:
    owner = Owner()

    def commit_again() -> None:
        owner.commit("b")  # re-enters while "a" is being delivered: queued, not delivered here
        owner.log.append("inner commit returned")

    owner.on_deliver["a"] = commit_again
    owner.commit("a")
    assert owner.log == ["a", "inner commit returned", "b"]
    assert len(owner.outbox) == 0


def test_concurrent_committers_see_their_notices_in_commit_order() -> None:
    owner = Owner()
    committed: list[str] = []

    def committer(name: str) -> None:
        for i in range(200):
            with owner.lock:
                notice = f"{name}{i}"
                committed.append(notice)  # commit order, as the lock saw it
                owner.outbox.append(notice)
            owner.outbox.drain(lambda n: (n, owner.lock.locked()), owner.deliver)

    threads = [threading.Thread(target=committer, args=(name,)) for name in "xyz"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert owner.log == committed and len(owner.log) == 600


def test_a_failing_delivery_propagates_and_the_next_drain_delivers_the_rest() -> None:
    owner = Owner()

    def fail() -> None:
        with owner.lock:
            owner.outbox.append("after")  # queued while "boom" is delivered
        raise RuntimeError("listener broke")

    owner.on_deliver["boom"] = fail
    with pytest.raises(RuntimeError, match="listener broke"):
        owner.commit("boom")
    assert owner.log == ["boom"] and len(owner.outbox) == 1
    owner.commit("next")
    assert owner.log == ["boom", "after", "next"]
