"""Shadow document rules: validation, merge, metadata, delta, size and payloads (pure functions)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcore.shadows import document as doc
from localcore.shadows import payloads
from localcore.shadows import request as req
from localcore.shadows.errors import ShadowConflictError, ShadowInvalidRequestError, ShadowTooLargeError
from localcore.shadows.jsonvalues import json_equal


def request(body: Any) -> req.UpdateRequest:
    return req.parse_update_request(json.dumps(body).encode())


def nested(depth: int) -> dict[str, Any]:
    """An object with ``depth`` nested non-empty objects, the outermost included."""
    node: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        node = {"k": node}
    return node


# --- names ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("thing", "message"),
    [
        ("", "ThingName is missing"),
        (None, "ThingName is missing"),
        ("x" * 129, "ThingName has a maximum length of 128"),
        ("bad name", "ThingName must match pattern [a-zA-Z0-9:_-]+"),
        ("a/b", "ThingName must match pattern [a-zA-Z0-9:_-]+"),
    ],
)
def test_invalid_thing_names_are_named_in_the_error(thing: str | None, message: str) -> None:
    with pytest.raises(ShadowInvalidRequestError) as err:
        req.validate_thing_name(thing)
    assert err.value.code == 400
    assert err.value.message == message


def test_valid_names_pass() -> None:
    req.validate_thing_name("x" * 128)
    req.validate_thing_name("dev-1:line_2")
    req.validate_shadow_name("")
    req.validate_shadow_name("s" * 64)


@pytest.mark.parametrize(
    ("shadow", "message"),
    [
        ("s" * 65, "ShadowName has a maximum length of 64"),
        ("a.b", "ShadowName must match pattern [a-zA-Z0-9:_-]+"),
    ],
)
def test_invalid_shadow_names(shadow: str, message: str) -> None:
    with pytest.raises(ShadowInvalidRequestError, match=message.replace("[", r"\[").replace("+", r"\+")):
        req.validate_shadow_name(shadow)


# --- request validation -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"", "Missing update payload"),
        (b"{not json", "Invalid JSON"),
        (b'{"state": {"desired": {"a": NaN}}}', "NaN is not valid JSON"),
        (b"[1, 2]", "non-empty JSON object"),
        (b"{}", "non-empty JSON object"),
        (b"\xff\xfe", "Invalid JSON"),
        (b'{"version": 1}', "state: is missing but it is required"),
        (b'{"state": 5}', "state: integer found, object expected"),
        (b'{"state": {"wanted": {}}}', "state.wanted: is not defined"),
        (b'{"state": {"desired": [1]}}', "state.desired: array found, object expected"),
        (b'{"state": {}, "clientToken": 7}', "clientToken: integer found, string expected"),
        (b'{"state": {}, "clientToken": "' + b"t" * 65 + b'"}', "clientToken: may only be 64"),
        (b'{"state": {}, "version": -1}', "version: must have a minimum value of 0"),
        (b'{"state": {}, "version": "3"}', "version: string found, number expected"),
        (b'{"state": {}, "version": true}', "version: boolean found, number expected"),
    ],
)
def test_bad_update_payloads_are_rejected_with_a_reason(payload: bytes, fragment: str) -> None:
    with pytest.raises(ShadowInvalidRequestError) as err:
        req.parse_update_request(payload)
    assert err.value.code == 400
    assert fragment in err.value.message


def test_client_delta_is_dropped_and_token_and_version_kept() -> None:
    parsed = request({"state": {"desired": {"a": 1}, "delta": {"x": 1}}, "clientToken": "tok", "version": 3})
    assert parsed.state == {"desired": {"a": 1}}
    assert parsed.client_token == "tok"
    assert parsed.version == 3


def test_state_null_is_accepted() -> None:
    assert request({"state": None}).state is None


def test_depth_six_is_allowed_and_seven_is_not() -> None:
    request({"state": {"desired": nested(6), "reported": nested(6)}})
    with pytest.raises(ShadowInvalidRequestError, match="too many levels of nesting; maximum is 6"):
        request({"state": {"reported": nested(7)}})


def test_arrays_count_as_levels_and_empty_containers_do_not() -> None:
    request({"state": {"desired": {"a": {"b": {"c": {"d": {"e": {}}}}}}}})
    with pytest.raises(ShadowInvalidRequestError, match="nesting"):
        request({"state": {"desired": {"a": {"b": {"c": {"d": {"e": [[1]]}}}}}}})


# --- version --------------------------------------------------------------------------------------
def test_version_rules() -> None:
    existing = doc.ShadowDocument(state={"desired": {"a": 1}}, metadata={}, version=4)
    doc.check_version(None, None)
    doc.check_version(None, existing)
    doc.check_version(1, None)
    doc.check_version(4, existing)
    with pytest.raises(ShadowInvalidRequestError, match="Invalid version"):
        doc.check_version(2, None)
    with pytest.raises(ShadowConflictError) as err:
        doc.check_version(5, existing)
    assert (err.value.code, err.value.message) == (409, "Version conflict")


# --- merge ----------------------------------------------------------------------------------------
def test_merge_null_deletes_objects_merge_arrays_and_scalars_replace() -> None:
    source = {"a": 1, "b": {"c": 1, "d": 2}, "arr": [1, 2, 3], "gone": "x", "obj": {"x": 1}}
    patch = {"b": {"c": None, "e": 3}, "arr": [9], "gone": None, "obj": 5, "new": {"n": None, "m": 1}}
    assert doc.merge_object(source, patch) == {
        "a": 1,
        "b": {"d": 2, "e": 3},
        "arr": [9],
        "obj": 5,
        "new": {"m": 1},
    }
    assert source["b"] == {"c": 1, "d": 2}, "the source must not be modified"


def test_merge_drops_objects_holding_only_nulls_and_empty_objects_delete() -> None:
    assert doc.merge_object({}, {"a": {"b": None, "c": {"d": None}}}) == {}
    assert doc.merge_object({"a": {"b": 1}}, {"a": {}}) == {}
    assert doc.merge_object({"a": [1]}, {"a": [None, 2]}) == {"a": [None, 2]}


def test_merge_state_sections() -> None:
    state = {"desired": {"a": 1}, "reported": {"b": 2}}
    assert doc.merge_state(state, None) == {}
    assert doc.merge_state(state, {"desired": None}) == {"reported": {"b": 2}}
    assert doc.merge_state(state, {"reported": {"b": None}}) == {"desired": {"a": 1}}
    assert doc.merge_state(state, {}) == state
    assert doc.merge_state({}, {"desired": {"x": None}}) == {}


# --- metadata -------------------------------------------------------------------------------------
def test_metadata_patch_marks_every_leaf_nulls_and_array_elements_included() -> None:
    patch = doc.metadata_patch({"desired": {"a": None, "b": [1, {"c": 2}]}}, 7)
    assert patch == {"desired": {"a": {"timestamp": 7}, "b": [{"timestamp": 7}, {"c": {"timestamp": 7}}]}}


def test_stored_metadata_follows_the_state() -> None:
    first = doc.apply_update(None, request({"state": {"desired": {"a": 1, "b": {"c": 1}, "l": [1, 2]}}}), 10)
    assert first.current.metadata == {
        "desired": {"a": {"timestamp": 10}, "b": {"c": {"timestamp": 10}}, "l": [{"timestamp": 10}] * 2}
    }
    second = doc.apply_update(
        first.current, request({"state": {"desired": {"a": {"x": 1}, "b": {"c": None}, "l": [5]}}}), 20
    )
    assert second.current.state == {"desired": {"a": {"x": 1}, "b": {}, "l": [5]}}
    assert second.current.metadata == {
        "desired": {"a": {"x": {"timestamp": 20}}, "b": {}, "l": [{"timestamp": 20}]}
    }
    assert second.metadata_patch == {
        "desired": {"a": {"x": {"timestamp": 20}}, "b": {"c": {"timestamp": 20}}, "l": [{"timestamp": 20}]}
    }
    third = doc.apply_update(
        second.current, request({"state": {"desired": {"a": 3}, "reported": {"r": 1}}}), 30
    )
    assert third.current.metadata == {
        "desired": {"a": {"timestamp": 30}, "b": {}, "l": [{"timestamp": 20}]},
        "reported": {"r": {"timestamp": 30}},
    }
    cleared = doc.apply_update(third.current, request({"state": None}), 40)
    assert cleared.current.state == {} and cleared.current.metadata == {}
    assert cleared.current.version == 4


# --- delta ----------------------------------------------------------------------------------------
def test_delta_rules() -> None:
    assert doc.compute_delta({"reported": {"a": 1}}) is None
    assert doc.compute_delta({"desired": {"a": 1}}) == {"a": 1}
    state = {
        "desired": {
            "same": 1,
            "num": 1,
            "int_float": 2.0,
            "bool": True,
            "s": "x",
            "obj": {"a": 1, "b": 2},
            "l": [1],
        },
        "reported": {
            "same": 1,
            "num": 2,
            "int_float": 2,
            "bool": 1,
            "s": "x",
            "obj": {"a": 1},
            "l": [1.0],
            "only": 1,
        },
    }
    assert doc.compute_delta(state) == {"num": 1, "bool": True, "obj": {"b": 2}, "l": [1]}
    assert doc.compute_delta({"desired": {"a": {"b": 1}}, "reported": {"a": {"b": 1}}}) is None


def test_delta_metadata_takes_the_desired_timestamps() -> None:
    first = doc.apply_update(
        None, request({"state": {"desired": {"a": 1, "b": [1, 2]}, "reported": {"a": 1}}}), 5
    )
    message = payloads.delta_message(first.current, "tok", 9)
    assert message == {
        "version": 1,
        "timestamp": 9,
        "state": {"b": [1, 2]},
        "metadata": {"b": [{"timestamp": 5}, {"timestamp": 5}]},
        "clientToken": "tok",
    }
    synced = doc.apply_update(first.current, request({"state": {"reported": {"b": [1, 2]}}}), 6)
    assert payloads.delta_message(synced.current, None, 9) is None


# --- size -----------------------------------------------------------------------------------------
def test_size_limit_counts_merged_desired_plus_reported() -> None:
    # {"v":"..."} is 8 bytes of overhead around the string.
    at_limit = doc.apply_update(None, request({"state": {"desired": {"v": "x" * 92}}}), 1, max_size=100)
    assert doc.state_size(at_limit.current.state) == 100
    with pytest.raises(ShadowTooLargeError) as err:
        doc.apply_update(at_limit.current, request({"state": {"reported": {"r": 1}}}), 2, max_size=100)
    assert (err.value.code, err.value.message) == (413, "The payload exceeds the maximum size allowed")
    # A shrinking update of an oversized document is judged by the merged result.
    doc.apply_update(
        at_limit.current, request({"state": {"desired": {"v": None}, "reported": {"r": 1}}}), 3, max_size=100
    )


def test_size_counts_utf8_bytes() -> None:
    assert doc.state_size({"desired": {"v": "é"}}) == len('{"v":"é"}'.encode())


# --- payloads ---------------------------------------------------------------------------------------
def test_accepted_and_documents_payloads() -> None:
    req = request({"state": {"desired": {"a": 1}, "delta": {"z": 1}}, "clientToken": "c1"})
    outcome = doc.apply_update(None, req, 3)
    accepted = payloads.accepted_response(outcome, req, 4)
    assert accepted == {
        "state": {"desired": {"a": 1}},
        "metadata": {"desired": {"a": {"timestamp": 3}}},
        "clientToken": "c1",
        "version": 1,
        "timestamp": 4,
    }
    documents = payloads.documents_message(outcome, "c1", 4)
    assert "previous" not in documents
    assert documents["current"] == {
        "state": {"desired": {"a": 1}},
        "metadata": {"desired": {"a": {"timestamp": 3}}},
        "version": 1,
    }
    again = doc.apply_update(outcome.current, request({"state": {"reported": {"a": 1}}}), 5)
    assert payloads.documents_message(again, None, 6)["previous"]["version"] == 1
    response = payloads.get_response(outcome.current, 8)
    assert response["state"] == {"desired": {"a": 1}, "delta": {"a": 1}}
    assert response["timestamp"] == 8 and "clientToken" not in response


def test_stored_document_roundtrip_and_bad_files() -> None:
    stored = doc.ShadowDocument(
        state={"desired": {"a": 1}}, metadata={"desired": {"a": {"timestamp": 1}}}, version=2
    )
    assert doc.ShadowDocument.from_json(json.loads(json.dumps(stored.to_json()))) == stored
    bad_files: tuple[object, ...] = (
        [],
        {"state": {}, "version": 0},
        {"state": [], "version": 1},
        {"state": {"delta": {}}, "version": 1},
    )
    for bad in bad_files:
        with pytest.raises(ValueError):
            doc.ShadowDocument.from_json(bad)  # type: ignore[arg-type]


# --- properties -----------------------------------------------------------------------------------
keys = st.sampled_from(["a", "b", "c", "d"])
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(-5, 5, allow_nan=False), st.text(max_size=3)
)
patches = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(keys, children, max_size=4)),
    max_leaves=12,
)
patch_objects = st.dictionaries(keys, patches, max_size=4)


def _paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(node, dict) and node:
        out: list[tuple[tuple[str, ...], Any]] = []
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
        return out
    return [(prefix, node)]


def _lookup(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


_MISSING = object()


def _no_null_members(node: Any) -> bool:
    if isinstance(node, dict):
        return all(value is not None and _no_null_members(value) for value in node.values())
    return True


@settings(max_examples=150, deadline=None)
@given(patch_objects, patch_objects)
def test_merge_applies_every_leaf_and_never_stores_null(
    source_patch: dict[str, Any], patch: dict[str, Any]
) -> None:
    source = doc.merge_object({}, source_patch)
    merged = doc.merge_object(source, patch)
    assert _no_null_members(merged)
    for path, value in _paths(patch):
        if not path:
            continue  # an empty patch names no field
        found = _lookup(merged, path)
        if value is None or value == {}:
            assert found is _MISSING or found == {}
        else:
            assert json_equal(found, value)


@settings(max_examples=150, deadline=None)
@given(patch_objects, patch_objects)
def test_merge_is_idempotent(source_patch: dict[str, Any], patch: dict[str, Any]) -> None:
    once = doc.merge_object(doc.merge_object({}, source_patch), patch)
    assert doc.merge_object(once, patch) == once


@settings(max_examples=150, deadline=None)
@given(patch_objects, patch_objects)
def test_reporting_the_delta_clears_it(desired_patch: dict[str, Any], reported_patch: dict[str, Any]) -> None:
    desired = doc.merge_object({}, desired_patch)
    reported = doc.merge_object({}, reported_patch)
    delta = doc.compute_delta({"desired": desired, "reported": reported})
    if delta is None:
        return
    for path, _value in _paths(delta):
        assert path and _lookup(desired, path) is not _MISSING, "delta keys come from desired only"
    after = doc.merge_object(reported, delta)
    assert doc.compute_delta({"desired": desired, "reported": after}) is None


def _shapes_match(state: Any, metadata: Any) -> bool:
    if isinstance(state, dict):
        return (
            isinstance(metadata, dict)
            and state.keys() == metadata.keys()
            and all(_shapes_match(state[k], metadata[k]) for k in state)
        )
    if isinstance(state, list):
        return isinstance(metadata, list) and len(state) == len(metadata)
    return isinstance(metadata, dict) and set(metadata) == {"timestamp"}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["desired", "reported"]), patch_objects), min_size=1, max_size=4))
def test_metadata_always_mirrors_the_state(updates: list[tuple[str, dict[str, Any]]]) -> None:
    current: doc.ShadowDocument | None = None
    for index, (section, patch) in enumerate(updates):
        outcome = doc.apply_update(
            current, req.UpdateRequest({section: patch}, None, None), index, max_size=30720
        )
        current = outcome.current
        assert current.version == index + 1
        assert current.state.keys() == current.metadata.keys()
        for name in current.state:
            assert _shapes_match(current.state[name], current.metadata[name])
