"""ConfigStore: GetConfiguration/UpdateConfiguration/subscribe semantics, defaults, merge/reset, persistence."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcore.config import (
    ConfigInvalidUpdateError,
    ConfigKeyNotFoundError,
    ConfigStaleUpdateError,
    ConfigStore,
    read_configuration,
)

COMPONENT = "com.example.Dashboard"

# The Greengrass developer guide's "update component configurations" example component.
DASHBOARD_DEFAULTS: dict[str, Any] = {
    "name": None,
    "mode": "REQUEST",
    "network": {"useHttps": True, "port": {"http": 80, "https": 443}},
    "tags": [],
}


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, list[str]]] = []

    def __call__(self, component: str, key_path: list[str]) -> None:
        self.seen.append((component, key_path))

    def paths(self) -> list[list[str]]:
        return [path for _, path in self.seen]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> ConfigStore:
    config = ConfigStore(clock=clock)
    config.set_defaults(COMPONENT, {"Interval": 5, "mqtt": {"Port": 8883, "host": "broker"}, "tags": ["a"]})
    return config


# --- get -----------------------------------------------------------------------------------------------
def test_keys_are_case_insensitive_and_answers_keep_the_original_case(store: ConfigStore) -> None:
    assert store.get(COMPONENT, ["interval"]) == 5
    assert store.get(COMPONENT, ["MQTT", "PORT"]) == 8883
    assert store.get(COMPONENT, ["Mqtt"]) == {"Port": 8883, "host": "broker"}
    assert store.get(COMPONENT, []) == {
        "Interval": 5,
        "mqtt": {"Port": 8883, "host": "broker"},
        "tags": ["a"],
    }


def test_get_answer_wraps_a_leaf_in_its_name_and_returns_maps_as_they_are(store: ConfigStore) -> None:
    assert store.get_answer(COMPONENT, ["mqtt", "port"]) == {"Port": 8883}
    assert store.get_answer(COMPONENT, ["tags"]) == {"tags": ["a"]}
    assert store.get_answer(COMPONENT, ["mqtt"]) == {"Port": 8883, "host": "broker"}
    assert store.get_answer(COMPONENT, []) == store.snapshot(COMPONENT)


def test_map_answers_hide_underscore_keys_as_the_nucleus_does(store: ConfigStore) -> None:
    store.merge(COMPONENT, {"_internal": 1, "mqtt": {"_secret": "x"}})
    assert "_internal" not in store.get_answer(COMPONENT, [])
    assert store.get_answer(COMPONENT, ["mqtt"]) == {"Port": 8883, "host": "broker"}
    assert store.get_answer(COMPONENT, ["_internal"]) == {"_internal": 1}
    assert store.get(COMPONENT, ["mqtt", "_secret"]) == "x"


@pytest.mark.parametrize(
    ("component", "path"),
    [(COMPONENT, ["missing"]), (COMPONENT, ["mqtt", "port", "deeper"]), ("com.example.Unknown", [])],
)
def test_a_missing_key_is_a_key_error_naming_the_path(
    store: ConfigStore, component: str, path: list[str]
) -> None:
    with pytest.raises(KeyError) as err:
        store.get(component, path)
    assert isinstance(err.value, ConfigKeyNotFoundError)
    assert str(err.value).startswith("Key not found")
    assert err.value.component == component and err.value.key_path == path


def test_returned_values_are_copies(store: ConfigStore) -> None:
    store.get(COMPONENT, ["tags"]).append("mutated")
    store.get(COMPONENT, ["mqtt"])["host"] = "mutated"
    assert store.get(COMPONENT, ["tags"]) == ["a"]
    assert store.get(COMPONENT, ["mqtt", "host"]) == "broker"


# --- update (UpdateConfiguration) ------------------------------------------------------------------------------
def test_update_merges_at_the_key_path(store: ConfigStore, clock: Clock) -> None:
    clock.now = 2000
    store.update(COMPONENT, ["MQTT"], {"PORT": 1883, "tls": {"on": False}}, 1500.0)
    assert store.get(COMPONENT, ["mqtt"]) == {"Port": 1883, "host": "broker", "tls": {"on": False}}
    store.update(COMPONENT, [], {"interval": 10}, 1600.0)
    assert store.get(COMPONENT, []) == {
        "Interval": 10,
        "mqtt": {"Port": 1883, "host": "broker", "tls": {"on": False}},
        "tags": ["a"],
    }


def test_update_of_a_leaf_path_sets_the_leaf(store: ConfigStore) -> None:
    store.update(COMPONENT, ["interval"], 7, 1500.0)
    assert store.get(COMPONENT, ["interval"]) == 7
    store.update(COMPONENT, ["interval"], {"seconds": 7}, 1600.0)
    assert store.get_answer(COMPONENT, ["interval"]) == {"seconds": 7}


def test_update_creates_a_missing_path(store: ConfigStore, clock: Clock) -> None:
    clock.now = 5000
    store.update(COMPONENT, ["new", "section"], {"k": "v"}, 10.0)
    assert store.get(COMPONENT, ["new"]) == {"section": {"k": "v"}}
    # The nucleus stamps a created node with the current time, so the old request timestamp is not stale.
    with pytest.raises(ConfigStaleUpdateError):
        store.update(COMPONENT, ["new", "section"], {"k": "w"}, 4000.0)
    assert store.get(COMPONENT, ["new", "section", "k"]) == "v"


def test_an_older_timestamp_is_ignored_and_reported(store: ConfigStore) -> None:
    store.update(COMPONENT, ["mqtt"], {"port": 1}, 2000.0)
    with pytest.raises(ConfigStaleUpdateError) as err:
        store.update(COMPONENT, ["mqtt"], {"port": 2}, 1999.0)
    assert err.value.message == "Proposed timestamp is older than the config's latest modified timestamp"
    assert store.get(COMPONENT, ["mqtt", "port"]) == 1
    store.update(COMPONENT, ["mqtt"], {"port": 3}, 2000.0)  # the same timestamp is not older
    assert store.get(COMPONENT, ["mqtt", "port"]) == 3


def test_a_newer_leaf_is_kept_while_its_older_siblings_update(store: ConfigStore) -> None:
    store.update(COMPONENT, ["mqtt"], {"port": 1}, 3000.0)
    with pytest.raises(ConfigStaleUpdateError):
        store.update(COMPONENT, ["mqtt"], {"port": 2, "host": "other"}, 2000.0)
    assert store.get(COMPONENT, ["mqtt"]) == {"Port": 1, "host": "other"}


def test_a_stale_update_elsewhere_does_not_fail_an_unrelated_path(store: ConfigStore) -> None:
    store.update(COMPONENT, ["mqtt"], {"port": 1}, 3000.0)
    store.update(COMPONENT, ["interval"], 9, 2000.0)
    assert store.get(COMPONENT, ["interval"]) == 9


@pytest.mark.parametrize(
    ("path", "value", "timestamp", "fragment"),
    [
        ([], {"a": 1}, None, "Timestamp is required"),
        ([], None, 1.0, "ValueToMerge is required"),
        (["accessControl"], {"x": 1}, 1.0, "not allowed for following fields ['accessControl']"),
        (["ACCESSCONTROL", "x"], {"y": 1}, 1.0, "not allowed"),
        ([], {"AccessControl": {}}, 1.0, "not allowed"),
        (["mqtt"], 5, 1.0, "valueToMerge must be a map"),
        (
            ["nothing", "here"],
            5,
            1.0,
            "valueToMerge must be a map to create the missing key path nothing/here",
        ),
        ("mqtt", {"a": 1}, 1.0, "keyPath must be a list of strings"),
        ([], {"a": {1, 2}}, 1.0, "must be JSON"),
        ([], {"a": float("nan")}, 1.0, "must be JSON"),
        ([], {"a": [b"bytes"]}, 1.0, "a/0 must be JSON"),
    ],
)
def test_bad_updates_are_refused_with_a_reason(
    store: ConfigStore, path: Any, value: Any, timestamp: Any, fragment: str
) -> None:
    before = store.snapshot(COMPONENT)
    with pytest.raises(ConfigInvalidUpdateError) as err:
        store.update(COMPONENT, path, value, timestamp)
    assert fragment in str(err.value)
    assert store.snapshot(COMPONENT) == before


def test_type_changes_replace_the_node(store: ConfigStore) -> None:
    store.update(COMPONENT, [], {"mqtt": "off"}, 2000.0)
    assert store.get(COMPONENT, ["mqtt"]) == "off"
    store.update(COMPONENT, [], {"mqtt": {"port": 1}}, 2001.0)
    assert store.get(COMPONENT, ["mqtt"]) == {"port": 1}


# --- subscribe ----------------------------------------------------------------------------------------------------
def test_subscribers_hear_changes_at_and_below_their_path_only(store: ConfigStore) -> None:
    mqtt, whole, other = Events(), Events(), Events()
    store.subscribe(COMPONENT, ["MQTT"], mqtt)
    store.subscribe(COMPONENT, [], whole)
    store.set_defaults("com.example.Other", {"mqtt": {"port": 1}})
    store.subscribe("com.example.Other", ["mqtt"], other)

    store.update(COMPONENT, ["mqtt"], {"port": 1, "host": "broker"}, 2000.0)
    store.update(COMPONENT, [], {"interval": 6}, 2001.0)
    assert mqtt.seen == [(COMPONENT, ["mqtt", "Port"])], "an unchanged value sends nothing"
    assert whole.paths() == [["mqtt", "Port"], ["Interval"]]
    assert other.seen == []


def test_a_leaf_subscriber_hears_its_ancestor_being_replaced(store: ConfigStore) -> None:
    port = Events()
    store.subscribe(COMPONENT, ["mqtt", "port"], port)
    store.merge(COMPONENT, {"mqtt": "disabled"})
    assert ["mqtt", "Port"] in port.paths() or ["mqtt"] in port.paths()


def test_subscribing_to_a_missing_path_is_a_key_error(store: ConfigStore) -> None:
    with pytest.raises(ConfigKeyNotFoundError):
        store.subscribe(COMPONENT, ["nope"], Events())
    with pytest.raises(ConfigKeyNotFoundError):
        store.subscribe("com.example.Unknown", [], Events())


def test_unsubscribe_and_broken_callbacks(store: ConfigStore) -> None:
    def broken(component: str, key_path: list[str]) -> None:
        raise RuntimeError("subscriber bug")

    kept = Events()
    store.subscribe(COMPONENT, [], broken)
    unsubscribe = store.subscribe(COMPONENT, [], kept)
    store.update(COMPONENT, [], {"interval": 6}, 2000.0)
    unsubscribe()
    store.update(COMPONENT, [], {"interval": 7}, 2001.0)
    assert kept.paths() == [["Interval"]]


def test_a_callback_may_read_and_write_the_store(store: ConfigStore) -> None:
    seen: list[Any] = []

    def mirror(component: str, key_path: list[str]) -> None:
        value = store.get(component, key_path)
        seen.append(value)
        if key_path == ["Interval"]:
            store.update(component, [], {"mirror": value}, 3000.0)

    store.subscribe(COMPONENT, [], mirror)
    store.update(COMPONENT, [], {"interval": 6}, 2000.0)
    assert seen == [6, 6]
    assert store.get(COMPONENT, ["mirror"]) == 6


# --- defaults, merge, reset (deployments) ----------------------------------------------------------------------------
def test_defaults_fill_missing_keys_and_keep_existing_values(store: ConfigStore) -> None:
    store.update(COMPONENT, [], {"interval": 9}, 2000.0)
    store.set_defaults(COMPONENT, {"Interval": 5, "mqtt": {"Port": 8883, "qos": 1}, "added": True})
    assert store.get(COMPONENT, []) == {
        "Interval": 9,
        "mqtt": {"Port": 8883, "host": "broker", "qos": 1},
        "tags": ["a"],
        "added": True,
    }
    with pytest.raises(ConfigInvalidUpdateError, match="DefaultConfiguration of x must be a map"):
        store.set_defaults("x", ["not", "a", "map"])  # type: ignore[arg-type]


def test_the_developer_guide_merge_and_reset_examples(clock: Clock) -> None:
    config = ConfigStore(clock=clock)
    config.set_defaults(COMPONENT, DASHBOARD_DEFAULTS)
    tags12 = ["/boiler/1/temperature", "/boiler/1/pressure", "/boiler/2/temperature", "/boiler/2/pressure"]
    config.apply_deployment_update(
        COMPONENT,
        merge={"name": "Factory 2A", "network": {"useHttps": False, "port": {"http": 8080}}, "tags": tags12},
    )
    assert config.snapshot(COMPONENT) == {
        "name": "Factory 2A",
        "mode": "REQUEST",
        "network": {"useHttps": False, "port": {"http": 8080, "https": 443}},
        "tags": tags12,
    }
    tags34 = ["/boiler/3/temperature", "/boiler/3/pressure", "/boiler/4/temperature", "/boiler/4/pressure"]
    config.apply_deployment_update(COMPONENT, reset=["/network/useHttps", "/tags"], merge={"tags": tags34})
    assert config.snapshot(COMPONENT) == {
        "name": "Factory 2A",
        "mode": "REQUEST",
        "network": {"useHttps": True, "port": {"http": 8080, "https": 443}},
        "tags": tags34,
    }
    config.apply_deployment_update(COMPONENT, reset=[""])
    assert config.snapshot(COMPONENT) == DASHBOARD_DEFAULTS


def test_reset_happens_before_merge(store: ConfigStore) -> None:
    store.apply_deployment_update(COMPONENT, reset=["/mqtt"], merge={"mqtt": {"host": "new"}})
    assert store.get(COMPONENT, ["mqtt"]) == {"Port": 8883, "host": "new"}


def test_reset_of_a_key_without_default_removes_it(store: ConfigStore) -> None:
    store.merge(COMPONENT, {"extra": {"a": 1}, "mqtt": {"user": "u"}})
    events = Events()
    store.subscribe(COMPONENT, [], events)
    store.reset(COMPONENT, ["/extra", "/MQTT/USER", "/never/there"])
    assert store.snapshot(COMPONENT) == {
        "Interval": 5,
        "mqtt": {"Port": 8883, "host": "broker"},
        "tags": ["a"],
    }
    assert sorted(events.paths()) == [["extra", "a"], ["mqtt", "user"]]


def test_reset_restores_the_defaults_spelling(store: ConfigStore) -> None:
    store.reset(COMPONENT, ["/mqtt"])
    store.merge(COMPONENT, {"MQTT": {"PORT": 1}})
    store.reset(COMPONENT, ["/mqtt/port"])
    assert store.get_answer(COMPONENT, ["mqtt", "port"]) == {"Port": 8883}


def test_reset_pointer_escapes(clock: Clock) -> None:
    config = ConfigStore(clock=clock)
    config.set_defaults("c", {"a/b": 1, "m~n": 2})
    config.merge("c", {"a/b": 10, "m~n": 20})
    config.reset("c", ["/a~1b", "/m~0n"])
    assert config.snapshot("c") == {"a/b": 1, "m~n": 2}


@pytest.mark.parametrize(
    ("pointers", "fragment"),
    [
        (["/tags/0"], "points into the list at tags; only a whole list can be reset"),
        (["mqtt"], "must be \"\" or start with '/'"),
        (["/a~2"], "'~' not followed by 0 or 1"),
        ([5], "JSON pointer strings"),
        ("/mqtt", "must be a list of JSON pointers"),
    ],
)
def test_bad_reset_pointers_change_nothing(store: ConfigStore, pointers: Any, fragment: str) -> None:
    store.merge(COMPONENT, {"interval": 99})
    with pytest.raises(ConfigInvalidUpdateError) as err:
        store.reset(COMPONENT, ["/interval", *pointers] if isinstance(pointers, list) else pointers)
    assert fragment in str(err.value)
    assert store.get(COMPONENT, ["interval"]) == 99


def test_merge_creates_an_unknown_component_and_refuses_non_maps(store: ConfigStore) -> None:
    store.merge("com.example.New", {"a": None, "b": []})
    assert store.snapshot("com.example.New") == {"a": None, "b": []}
    assert store.components() == [COMPONENT, "com.example.New"]
    with pytest.raises(ConfigInvalidUpdateError, match="merge for x must be a map"):
        store.merge("x", "nope")  # type: ignore[arg-type]


def test_a_deployment_merge_wins_over_a_newer_ipc_timestamp(store: ConfigStore, clock: Clock) -> None:
    store.update(COMPONENT, [], {"interval": 1}, clock.now + 10_000)
    store.merge(COMPONENT, {"interval": 2})
    assert store.get(COMPONENT, ["interval"]) == 2


def test_remove_component_tells_subscribers(store: ConfigStore) -> None:
    events = Events()
    store.subscribe(COMPONENT, ["mqtt"], events)
    store.remove_component(COMPONENT)
    assert COMPONENT not in store.components()
    assert sorted(events.paths()) == [["mqtt", "Port"], ["mqtt", "host"]]
    with pytest.raises(ConfigKeyNotFoundError):
        store.snapshot(COMPONENT)


# --- persistence ----------------------------------------------------------------------------------------------------
def test_configuration_survives_a_restart_with_timestamps_and_defaults(tmp_path: Path, clock: Clock) -> None:
    first = ConfigStore(clock=clock, root=tmp_path)
    first.set_defaults(COMPONENT, DASHBOARD_DEFAULTS)
    first.update(COMPONENT, ["network"], {"useHttps": False}, 5000.0)
    first.merge(COMPONENT, {"Name": "line 1"})

    second = ConfigStore(clock=clock, root=tmp_path)
    assert second.snapshot(COMPONENT) == first.snapshot(COMPONENT)
    assert second.get_answer(COMPONENT, ["NAME"]) == {"name": "line 1"}
    with pytest.raises(ConfigStaleUpdateError):
        second.update(COMPONENT, ["network"], {"useHttps": True}, 4000.0)
    second.reset(COMPONENT, [""])
    assert second.snapshot(COMPONENT) == DASHBOARD_DEFAULTS
    assert read_configuration(tmp_path) == {COMPONENT: DASHBOARD_DEFAULTS}
    assert not list((tmp_path / "config").glob("*.tmp"))


def test_a_stopped_core_without_a_file_reads_empty(tmp_path: Path) -> None:
    assert read_configuration(tmp_path) == {}


def test_an_unreadable_file_is_set_aside_and_the_store_starts_empty(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.json").write_text('{"format": 1, "components": {"c": {"tree": 5}}}')
    config = ConfigStore(root=tmp_path)
    assert config.components() == []
    assert (tmp_path / "config" / "config.json.unreadable").is_file()
    config.set_defaults("c", {"a": 1})
    assert json.loads((tmp_path / "config" / "config.json").read_text())["components"]["c"]["defaults"] == {
        "a": 1
    }


# --- threads --------------------------------------------------------------------------------------------------------
def test_concurrent_updates_all_land(store: ConfigStore) -> None:
    workers, rounds = 6, 30
    store.merge(COMPONENT, {"workers": {f"w{n}": {"value": -1} for n in range(workers)}})
    events = Events()
    store.subscribe(COMPONENT, ["workers"], events)

    def work(worker: int) -> None:
        for index in range(rounds):
            store.update(COMPONENT, ["workers", f"w{worker}"], {"value": index}, 2000.0 + index)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert store.get(COMPONENT, ["workers"]) == {f"w{n}": {"value": rounds - 1} for n in range(workers)}
    assert len(events.seen) == workers * rounds
    for n in range(workers):
        assert [path for path in events.paths() if path[1] == f"w{n}"] == [
            ["workers", f"w{n}", "value"]
        ] * rounds


# --- properties -----------------------------------------------------------------------------------------------------
keys = st.sampled_from(["a", "A", "b", "B", "c"])
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=2), st.lists(st.integers(0, 2), max_size=2)
)
trees = st.recursive(leaves, lambda children: st.dictionaries(keys, children, max_size=3), max_leaves=10)
maps = st.dictionaries(keys, trees, max_size=3)


def reference_merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Plain-dict model of a deployment MERGE with case-insensitive keys (first spelling kept)."""
    result = dict(target)
    for key, value in patch.items():
        existing = next((k for k in result if k.lower() == key.lower()), None)
        name = existing if existing is not None else key
        if isinstance(value, dict):
            base = result[name] if existing is not None and isinstance(result[name], dict) else {}
            result[name] = reference_merge(base, value)
        else:
            result[name] = value
    return result


@settings(max_examples=120, deadline=None)
@given(maps, maps, maps)
def test_merge_matches_the_reference_model(
    defaults: dict[str, Any], first: dict[str, Any], second: dict[str, Any]
) -> None:
    config = ConfigStore(clock=Clock())
    config.set_defaults("c", defaults)
    config.merge("c", first)
    config.merge("c", second)
    expected = reference_merge(reference_merge(reference_merge({}, defaults), first), second)
    assert config.snapshot("c") == expected


@settings(max_examples=120, deadline=None)
@given(maps, maps)
def test_reset_everything_returns_to_defaults_and_reports_each_changed_leaf(
    defaults: dict[str, Any], patch: dict[str, Any]
) -> None:
    config = ConfigStore(clock=Clock())
    config.set_defaults("c", defaults)
    config.merge("c", patch)
    merged = config.snapshot("c")
    events = Events()
    config.subscribe("c", [], events)
    config.reset("c", [""])
    assert config.snapshot("c") == reference_merge({}, defaults)
    if merged == config.snapshot("c"):
        assert events.seen == []
    else:
        assert events.seen, "a change must be announced"
