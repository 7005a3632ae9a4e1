"""ShadowStore: the ShadowService contract, topics, listeners, persistence, limits and threads."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from localcore.shadows.errors import (
    ShadowConflictError,
    ShadowError,
    ShadowInvalidRequestError,
    ShadowNotFoundError,
    ShadowRateLimitedError,
    ShadowTooLargeError,
)
from localcore.shadows.ratelimit import RateLimits
from localcore.shadows.store import ShadowStore

THING = "dev-1"
PREFIX = f"$aws/things/{THING}/shadow"


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Topics:
    """Records what the store publishes, decoded."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.messages.append((topic, json.loads(payload)))

    def topics(self) -> list[str]:
        return [topic for topic, _ in self.messages]

    def last(self, topic: str) -> dict[str, Any]:
        return [payload for t, payload in self.messages if t == topic][-1]


class Listener:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any] | None, str]] = []

    def __call__(self, thing: str, shadow: str, document: dict[str, Any] | None, source: str) -> None:
        self.calls.append((thing, shadow, document, source))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def topics() -> Topics:
    return Topics()


@pytest.fixture
def store(tmp_path: Path, topics: Topics, clock: Clock) -> ShadowStore:
    return ShadowStore(tmp_path, publish=topics, clock=clock, rate_limits=None)


def update(store: ShadowStore, shadow: str, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(store.update(THING, shadow, json.dumps(body).encode(), **kwargs))
    return result


def get(store: ShadowStore, shadow: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(store.get(THING, shadow))
    return result


# --- get / update ----------------------------------------------------------------------------------------
def test_get_of_a_missing_shadow_is_404_and_published_as_rejected(store: ShadowStore, topics: Topics) -> None:
    with pytest.raises(ShadowNotFoundError) as err:
        store.get(THING, "cfg")
    assert (err.value.code, err.value.message) == (404, "No shadow found")
    assert topics.last(f"{PREFIX}/name/cfg/get/rejected") == {
        "code": 404,
        "message": "No shadow exists with name: cfg",
        "timestamp": 1_700_000_000,
    }
    with pytest.raises(ShadowNotFoundError):
        store.get(THING, "")
    assert topics.last(f"{PREFIX}/get/rejected")["message"] == "No shadow exists with name: Unnamed Shadow"


def test_first_update_creates_version_1_and_publishes_delta_documents_accepted(
    store: ShadowStore, topics: Topics
) -> None:
    accepted = update(store, "cfg", {"state": {"desired": {"rate": 5}}, "clientToken": "c1"})
    assert accepted == {
        "state": {"desired": {"rate": 5}},
        "metadata": {"desired": {"rate": {"timestamp": 1_700_000_000}}},
        "clientToken": "c1",
        "version": 1,
        "timestamp": 1_700_000_000,
    }
    base = f"{PREFIX}/name/cfg/update"
    assert topics.topics() == [f"{base}/delta", f"{base}/documents", f"{base}/accepted"]
    assert topics.last(f"{base}/accepted") == accepted
    assert topics.last(f"{base}/delta")["state"] == {"rate": 5}
    assert topics.last(f"{base}/documents")["current"]["version"] == 1


def test_get_returns_state_delta_metadata_version_and_publishes_accepted(
    store: ShadowStore, topics: Topics, clock: Clock
) -> None:
    update(store, "", {"state": {"desired": {"a": 1, "b": 2}}})
    clock.now += 5
    update(store, "", {"state": {"reported": {"a": 1, "b": 3}}})
    clock.now += 5
    document = get(store, "")
    assert document == {
        "state": {"desired": {"a": 1, "b": 2}, "reported": {"a": 1, "b": 3}, "delta": {"b": 2}},
        "metadata": {
            "desired": {"a": {"timestamp": 1_700_000_000}, "b": {"timestamp": 1_700_000_000}},
            "reported": {"a": {"timestamp": 1_700_000_005}, "b": {"timestamp": 1_700_000_005}},
        },
        "version": 2,
        "timestamp": 1_700_000_010,
    }
    assert topics.last(f"{PREFIX}/get/accepted") == document


def test_no_delta_is_published_when_reported_matches(store: ShadowStore, topics: Topics) -> None:
    update(store, "s", {"state": {"desired": {"a": 1}}})
    topics.messages.clear()
    update(store, "s", {"state": {"reported": {"a": 1.0}}})
    assert not any(topic.endswith("/delta") for topic in topics.topics())
    assert "delta" not in get(store, "s")["state"]


def test_null_deletes_a_field_and_state_null_clears_but_counts_a_version(store: ShadowStore) -> None:
    update(store, "s", {"state": {"desired": {"a": 1, "b": 2}, "reported": {"a": 1}}})
    update(store, "s", {"state": {"desired": {"b": None}}})
    assert get(store, "s")["state"]["desired"] == {"a": 1}
    update(store, "s", {"state": {"reported": None}})
    assert "reported" not in get(store, "s")["state"]
    cleared = update(store, "s", {"state": None})
    assert cleared["version"] == 4
    assert get(store, "s")["state"] == {} and get(store, "s")["metadata"] == {}


def test_version_conflict_is_409_and_rejected_with_the_client_token(
    store: ShadowStore, topics: Topics
) -> None:
    update(store, "s", {"state": {"reported": {"a": 1}}})
    update(store, "s", {"state": {"reported": {"a": 2}}, "version": 1})
    with pytest.raises(ShadowConflictError):
        update(store, "s", {"state": {"reported": {"a": 3}}, "version": 1, "clientToken": "tok"})
    assert topics.last(f"{PREFIX}/name/s/update/rejected") == {
        "code": 409,
        "message": "Version conflict",
        "timestamp": 1_700_000_000,
        "clientToken": "tok",
    }
    assert get(store, "s")["version"] == 2
    assert get(store, "s")["state"]["reported"] == {"a": 2}


def test_a_new_shadow_accepts_only_version_1(store: ShadowStore, topics: Topics) -> None:
    with pytest.raises(ShadowInvalidRequestError, match="Invalid version"):
        update(store, "s", {"state": {"reported": {"a": 1}}, "version": 2})
    assert topics.last(f"{PREFIX}/name/s/update/rejected")["code"] == 400
    assert update(store, "s", {"state": {"reported": {"a": 1}}, "version": 1})["version"] == 1


def test_size_limit_default_8k_and_configurable(tmp_path: Path, store: ShadowStore, topics: Topics) -> None:
    update(store, "s", {"state": {"desired": {"v": "x" * 8000}}})
    with pytest.raises(ShadowTooLargeError):
        update(store, "s", {"state": {"reported": {"v": "x" * 200}}})
    assert topics.last(f"{PREFIX}/name/s/update/rejected")["code"] == 413
    assert get(store, "s")["version"] == 1

    bigger = ShadowStore(tmp_path / "big", max_document_size=30720, rate_limits=None)
    bigger.update(THING, "s", json.dumps({"state": {"desired": {"v": "x" * 20000}}}).encode())
    for bad in (0, 30721, "8k"):
        with pytest.raises(ValueError, match="max_document_size"):
            ShadowStore(tmp_path / "bad", max_document_size=bad)  # type: ignore[arg-type]


def test_depth_and_schema_errors_are_400_and_published(store: ShadowStore, topics: Topics) -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(6):
        deep = {"k": deep}
    with pytest.raises(ShadowInvalidRequestError, match="maximum is 6"):
        update(store, "s", {"state": {"desired": deep}})
    with pytest.raises(ShadowInvalidRequestError, match="Missing update payload"):
        store.update(THING, "s", b"")
    assert [p["code"] for t, p in topics.messages if t.endswith("update/rejected")] == [400, 400]


def test_invalid_names_are_400_and_nothing_is_stored(store: ShadowStore, topics: Topics) -> None:
    with pytest.raises(ShadowInvalidRequestError, match="ThingName is missing"):
        store.update("", "s", b'{"state": {}}')
    with pytest.raises(ShadowInvalidRequestError, match="ShadowName must match"):
        store.get(THING, "a/b")
    with pytest.raises(ShadowInvalidRequestError, match="ThingName must match"):
        store.delete("bad.name", "")
    assert store.shadows() == []
    assert all("/a/b/" not in topic for topic in topics.topics())


# --- delete ---------------------------------------------------------------------------------------------
def test_delete_publishes_the_version_and_recreating_starts_at_version_1(
    store: ShadowStore, topics: Topics
) -> None:
    update(store, "s", {"state": {"reported": {"a": 1}}})
    update(store, "s", {"state": {"reported": {"a": 2}}})
    assert store.delete(THING, "s") == b""
    assert topics.last(f"{PREFIX}/name/s/delete/accepted") == {"version": 2, "timestamp": 1_700_000_000}
    with pytest.raises(ShadowNotFoundError):
        store.get(THING, "s")
    with pytest.raises(ShadowNotFoundError):
        store.delete(THING, "s")
    assert topics.last(f"{PREFIX}/name/s/delete/rejected")["code"] == 404
    # ShadowManager reads only non-deleted rows, so the next local update is a new document (ref. App. B).
    with pytest.raises(ShadowInvalidRequestError, match="Invalid version"):
        update(store, "s", {"state": {"reported": {"a": 3}}, "version": 3})
    recreated = update(store, "s", {"state": {"reported": {"a": 3}}, "version": 1})
    assert recreated["version"] == 1
    assert "previous" not in topics.last(f"{PREFIX}/name/s/update/documents")


# --- list -----------------------------------------------------------------------------------------------
def test_list_named_pages_through_sorted_names(store: ShadowStore) -> None:
    for name in ("e", "c", "a", "d", "b"):
        update(store, name, {"state": {"reported": {"x": 1}}})
    update(store, "", {"state": {"reported": {"x": 1}}})
    store.update("other", "zz", b'{"state": {"reported": {"x": 1}}}')

    first = store.list_named(THING, 2, None)
    assert first["results"] == ["a", "b"] and first["timestamp"] == 1_700_000_000
    second = store.list_named(THING, 2, first["nextToken"])
    assert second["results"] == ["c", "d"]
    third = store.list_named(THING, 2, second["nextToken"])
    assert third == {"results": ["e"], "timestamp": 1_700_000_000}
    assert store.list_named(THING, None, None)["results"] == ["a", "b", "c", "d", "e"]
    # A full last page still carries a token; the page after it is empty.
    full = store.list_named(THING, 5, None)
    assert store.list_named(THING, 5, full["nextToken"]) == {"results": [], "timestamp": 1_700_000_000}
    store.delete(THING, "c")
    assert store.list_named(THING, None, None)["results"] == ["a", "b", "d", "e"]
    assert store.list_named("nobody", None, None) == {"results": [], "timestamp": 1_700_000_000}


@pytest.mark.parametrize("size", [0, 101, -1])
def test_list_named_page_size_must_be_1_to_100(store: ShadowStore, size: int) -> None:
    with pytest.raises(ShadowInvalidRequestError, match="pageSize argument must be between 1 and 100"):
        store.list_named(THING, size, None)


def test_list_named_rejects_forged_or_foreign_tokens(store: ShadowStore) -> None:
    for name in ("a", "b"):
        update(store, name, {"state": {"reported": {"x": 1}}})
    store.update("other", "a", b'{"state": {"reported": {"x": 1}}}')
    foreign = store.list_named("other", 1, None)["nextToken"]
    for token in ("garbage!", "bm90IGpzb24=", foreign):
        with pytest.raises(ShadowInvalidRequestError, match="Invalid nextToken"):
            store.list_named(THING, 1, token)


# --- persistence ----------------------------------------------------------------------------------------
def test_shadows_survive_a_restart_and_versions_continue(tmp_path: Path, store: ShadowStore) -> None:
    update(store, "cfg", {"state": {"desired": {"rate": 5}}})
    update(store, "cfg", {"state": {"reported": {"rate": 4}}})
    update(store, "", {"state": {"reported": {"up": True}}})
    update(store, "gone", {"state": {"reported": {"x": 1}}})
    store.delete(THING, "gone")
    before = get(store, "cfg")

    reopened = ShadowStore(tmp_path, clock=Clock(), rate_limits=None)
    assert get(reopened, "cfg") == before
    assert get(reopened, "")["state"]["reported"] == {"up": True}
    with pytest.raises(ShadowNotFoundError):
        reopened.get(THING, "gone")
    assert update(reopened, "cfg", {"state": {"reported": {"rate": 5}}, "version": 2})["version"] == 3
    assert (tmp_path / "shadows" / THING / "classic.json").is_file()
    assert (tmp_path / "shadows" / THING / "named" / "cfg.json").is_file()
    assert not list((tmp_path / "shadows").rglob("*.tmp"))


def test_a_named_shadow_called_classic_does_not_clash_with_the_classic_one(
    tmp_path: Path, store: ShadowStore
) -> None:
    update(store, "", {"state": {"reported": {"kind": "classic"}}})
    update(store, "classic", {"state": {"reported": {"kind": "named"}}})
    reopened = ShadowStore(tmp_path, rate_limits=None)
    assert get(reopened, "")["state"]["reported"] == {"kind": "classic"}
    assert get(reopened, "classic")["state"]["reported"] == {"kind": "named"}


def test_an_unreadable_file_is_skipped_and_the_rest_load(tmp_path: Path, store: ShadowStore) -> None:
    update(store, "good", {"state": {"reported": {"x": 1}}})
    update(store, "bad", {"state": {"reported": {"x": 1}}})
    (tmp_path / "shadows" / THING / "named" / "bad.json").write_text("{truncated")
    (tmp_path / "shadows" / "bad thing").mkdir()
    (tmp_path / "shadows" / "bad thing" / "classic.json").write_text('{"state": {}, "version": 1}')
    reopened = ShadowStore(tmp_path, rate_limits=None)
    assert reopened.shadows() == [(THING, "good")]


def test_a_failed_write_is_a_500_and_changes_nothing(tmp_path: Path, topics: Topics) -> None:
    store = ShadowStore(tmp_path, publish=topics, rate_limits=None)
    store.update(THING, "s", b'{"state": {"reported": {"x": 1}}}')
    # A directory where the file should go makes the rename fail, even for root.
    target = tmp_path / "shadows" / THING / "named" / "s.json"
    target.unlink()
    target.mkdir()
    with pytest.raises(ShadowError) as err:
        store.update(THING, "s", b'{"state": {"reported": {"x": 2}}}')
    assert err.value.code == 500
    assert topics.last(f"{PREFIX}/name/s/update/rejected")["message"] == "Internal service failure"
    assert json.loads(store.get(THING, "s"))["state"]["reported"] == {"x": 1}
    assert not list(target.parent.glob("*.tmp"))


# --- listeners ------------------------------------------------------------------------------------------
def test_listeners_hear_updates_and_deletes_with_their_source(store: ShadowStore) -> None:
    heard = Listener()
    unsubscribe = store.add_listener(heard)
    update(store, "s", {"state": {"desired": {"a": 1}}})
    update(store, "s", {"state": {"reported": {"a": 1}}}, source="cloud")
    store.delete(THING, "s", source="cloud")
    assert [(c[1], c[2]["version"] if c[2] else None, c[3]) for c in heard.calls] == [
        ("s", 1, "local"),
        ("s", 2, "cloud"),
        ("s", None, "cloud"),
    ]
    assert heard.calls[1][2] is not None and heard.calls[1][2]["state"] == {
        "desired": {"a": 1},
        "reported": {"a": 1},
    }
    unsubscribe()
    update(store, "s", {"state": {"desired": {"a": 2}}})
    assert len(heard.calls) == 3


def test_rejected_requests_reach_no_listener(store: ShadowStore) -> None:
    heard = Listener()
    store.add_listener(heard)
    with pytest.raises(ShadowError):
        update(store, "s", {"state": {"reported": {"a": 1}}, "version": 9})
    assert heard.calls == []


def test_a_failing_listener_or_publisher_does_not_undo_or_block(tmp_path: Path) -> None:
    def broken_publish(topic: str, payload: bytes) -> None:
        raise RuntimeError("pubsub down")

    def broken_listener(thing: str, shadow: str, document: dict[str, Any] | None, source: str) -> None:
        raise RuntimeError("listener bug")

    store = ShadowStore(tmp_path, publish=broken_publish, rate_limits=None)
    heard = Listener()
    store.add_listener(broken_listener)
    store.add_listener(heard)
    store.update(THING, "s", b'{"state": {"reported": {"a": 1}}}')
    assert len(heard.calls) == 1
    assert json.loads(store.get(THING, "s"))["version"] == 1


def test_a_listener_may_call_back_into_the_store(store: ShadowStore, topics: Topics) -> None:
    # A cloud-sync style listener that answers a desired change with a reported one.
    def echo(thing: str, shadow: str, document: dict[str, Any] | None, source: str) -> None:
        if document and source == "local" and "desired" in document["state"]:
            store.update(
                thing,
                shadow,
                json.dumps({"state": {"reported": document["state"]["desired"]}}).encode(),
                source="cloud",
            )

    store.add_listener(echo)
    update(store, "s", {"state": {"desired": {"a": 1}}})
    assert get(store, "s")["version"] == 2
    assert "delta" not in get(store, "s")["state"]
    accepted = [p["version"] for t, p in topics.messages if t.endswith("update/accepted")]
    assert accepted == [1, 2]


def test_set_publisher_after_construction(tmp_path: Path, topics: Topics) -> None:
    store = ShadowStore(tmp_path, rate_limits=None)
    store.update(THING, "s", b'{"state": {"reported": {"a": 1}}}')
    store.set_publisher(topics)
    store.update(THING, "s", b'{"state": {"reported": {"a": 2}}}')
    assert topics.last(f"{PREFIX}/name/s/update/accepted")["version"] == 2


# --- topic requests ---------------------------------------------------------------------------------------
def test_requests_published_on_shadow_topics_are_answered_on_topics(
    store: ShadowStore, topics: Topics
) -> None:
    assert store.handle_topic_request(
        f"{PREFIX}/name/cfg/update", b'{"state": {"desired": {"x": 1}}, "clientToken": "t1"}'
    )
    assert topics.last(f"{PREFIX}/name/cfg/update/accepted")["clientToken"] == "t1"
    assert store.handle_topic_request(f"{PREFIX}/name/cfg/get", b'{"clientToken": "t2"}')
    answer = topics.last(f"{PREFIX}/name/cfg/get/accepted")
    assert answer["clientToken"] == "t2" and answer["state"]["delta"] == {"x": 1}
    assert store.handle_topic_request(f"{PREFIX}/update", b'{"state": {"reported": {"on": true}}}')
    assert topics.last(f"{PREFIX}/update/accepted")["version"] == 1
    assert store.handle_topic_request(f"{PREFIX}/name/cfg/delete", b"")
    assert topics.last(f"{PREFIX}/name/cfg/delete/accepted")["version"] == 1


def test_bad_topic_requests_are_rejected_on_topics_without_raising(
    store: ShadowStore, topics: Topics
) -> None:
    assert store.handle_topic_request(f"{PREFIX}/name/cfg/update", b"not json")
    assert topics.last(f"{PREFIX}/name/cfg/update/rejected")["code"] == 400
    assert store.handle_topic_request(f"{PREFIX}/name/cfg/get", b"\xff")
    assert topics.last(f"{PREFIX}/name/cfg/get/rejected")["code"] == 404
    assert store.handle_topic_request(f"{PREFIX}/name/cfg/delete", b'{"clientToken": "d"}')
    assert topics.last(f"{PREFIX}/name/cfg/delete/rejected") == {
        "code": 404,
        "message": "No shadow exists with name: cfg",
        "timestamp": 1_700_000_000,
        "clientToken": "d",
    }
    assert store.handle_topic_request("$aws/things/bad.name/shadow/update", b'{"state": {}}')
    assert topics.last("$aws/things/bad.name/shadow/update/rejected")["message"].startswith(
        "ThingName must match"
    )


@pytest.mark.parametrize(
    "topic",
    [
        f"{PREFIX}/update/accepted",
        f"{PREFIX}/name/cfg/update/delta",
        f"{PREFIX}/name/cfg/get/rejected",
        f"{PREFIX}/name//update",
        f"{PREFIX}/list",
        "$aws/things//shadow/get",
        "$aws/things/dev-1/jobs/get",
        "dt/sensing/line1",
        f"{PREFIX}",
    ],
)
def test_other_topics_are_not_requests(store: ShadowStore, topics: Topics, topic: str) -> None:
    assert store.handle_topic_request(topic, b'{"state": {"reported": {"a": 1}}}') is False
    assert topics.messages == []


# --- rate limits --------------------------------------------------------------------------------------------
def test_local_requests_are_rate_limited_per_thing(tmp_path: Path, clock: Clock, topics: Topics) -> None:
    store = ShadowStore(tmp_path, publish=topics, clock=clock, rate_limits=RateLimits(per_thing_per_second=3))
    for _ in range(3):
        store.update(THING, "s", b'{"state": {"reported": {"a": 1}}}')
    with pytest.raises(ShadowRateLimitedError) as err:
        store.get(THING, "s")
    assert (err.value.code, err.value.message) == (429, "Too Many Requests")
    assert topics.last(f"{PREFIX}/name/s/get/rejected")["code"] == 429
    # Another thing has its own budget; the cloud sync is never limited.
    store.update("dev-2", "s", b'{"state": {"reported": {"a": 1}}}')
    store.update(THING, "s", b'{"state": {"reported": {"a": 2}}}', source="cloud")
    clock.now += 1
    assert json.loads(store.get(THING, "s"))["version"] == 4


def test_the_total_rate_limit_spans_things(tmp_path: Path, clock: Clock) -> None:
    store = ShadowStore(
        tmp_path, clock=clock, rate_limits=RateLimits(per_thing_per_second=10, total_per_second=4)
    )
    for index in range(4):
        store.update(f"t{index}", "", b'{"state": {"reported": {"a": 1}}}')
    with pytest.raises(ShadowRateLimitedError):
        store.update("t9", "", b'{"state": {"reported": {"a": 1}}}')


def test_rate_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="per_thing_per_second"):
        RateLimits(per_thing_per_second=0)


# --- threads --------------------------------------------------------------------------------------------
def test_concurrent_updates_all_land_once_and_are_announced_in_version_order(
    store: ShadowStore, topics: Topics
) -> None:
    heard = Listener()
    store.add_listener(heard)
    workers, per_worker = 8, 25

    def work(worker: int) -> None:
        for index in range(per_worker):
            store.update(THING, "s", json.dumps({"state": {"reported": {f"w{worker}": index}}}).encode())

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    total = workers * per_worker
    assert get(store, "s")["version"] == total
    assert get(store, "s")["state"]["reported"] == {f"w{n}": per_worker - 1 for n in range(workers)}
    assert [c[2]["version"] for c in heard.calls if c[2]] == list(range(1, total + 1))
    accepted = [p["version"] for t, p in topics.messages if t.endswith("update/accepted")]
    assert accepted == list(range(1, total + 1))
