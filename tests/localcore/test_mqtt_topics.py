"""MQTT topic filter matching: examples from the MQTT spec and properties against a regex model;
the nucleus' local pub/sub quirk beside IoT Core's rules."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localcore.mqtt_topics import (
    TopicFilterError,
    iot_core_matches,
    local_pubsub_matches,
    topic_level,
    validate_topic_filter,
    validate_topic_name,
)

level = st.text(alphabet="abcXYZ019-_:$", min_size=0, max_size=4).filter(lambda s: "$" not in s[1:])
topics = (
    st.lists(level, min_size=1, max_size=6).map("/".join).filter(lambda t: bool(t) and not t.startswith("$"))
)


def _reference(topic_filter: str, topic: str) -> bool:
    """A regex model of MQTT matching, written independently of the implementation."""
    if topic.startswith("$") and topic_filter[:1] in "+#":
        return False
    parts = topic_filter.split("/")
    pattern = ""
    for index, part in enumerate(parts):
        sep = "/" if index else ""
        if part == "#":
            # '#' also matches the parent level: 'a/#' matches 'a'.
            pattern += "(?:/.*)?" if index else ".*"
        elif part == "+":
            pattern += sep + "[^/]*"
        else:
            pattern += sep + re.escape(part)
    return re.fullmatch(pattern, topic) is not None


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("edgebundle/+/alerts", "edgebundle/dev-1/alerts", True),
        ("edgebundle/+/alerts", "edgebundle/dev-1/x/alerts", False),
        ("sport/tennis/#", "sport/tennis", True),
        ("sport/tennis/#", "sport/tennis/player1/ranking", True),
        ("sport/+", "sport/", True),
        ("sport/+", "sport", False),
        ("+/+", "/finance", True),
        ("#", "$aws/things/dev-1/shadow/update", False),
        ("+/things/#", "$aws/things/x", False),
        ("$aws/things/+/shadow/#", "$aws/things/dev-1/shadow/update", True),
        ("a/b", "a/b/c", False),
    ],
)
def test_spec_examples(topic_filter: str, topic: str, expected: bool) -> None:
    assert iot_core_matches(topic_filter, topic) is expected


@given(topics, st.data())
def test_filter_derived_from_topic_always_matches(topic: str, data: st.DataObject) -> None:
    levels = topic.split("/")
    derived = [data.draw(st.sampled_from([lv, "+"])) for lv in levels]
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(derived)))
        derived = [*derived[:cut], "#"]
    topic_filter = "/".join(derived)
    validate_topic_filter(topic_filter)
    assert iot_core_matches(topic_filter, topic)


@given(topics, st.lists(st.sampled_from(["a", "b", "+", "x1"]), min_size=1, max_size=5), st.booleans())
def test_matches_agree_with_regex_model(topic: str, filter_levels: list[str], hash_tail: bool) -> None:
    topic_filter = "/".join([*filter_levels, "#"] if hash_tail else filter_levels)
    validate_topic_filter(topic_filter)
    assert iot_core_matches(topic_filter, topic) == _reference(topic_filter, topic)


@given(topics)
def test_changing_one_literal_level_breaks_the_match(topic: str) -> None:
    levels = topic.split("/")
    changed = "/".join([*levels[:-1], levels[-1] + "Q"])
    assert not iot_core_matches(changed, topic)


@pytest.mark.parametrize("bad", ["", "a/#/b", "a#", "a/b+", "+a/b", "#/"])
def test_bad_filters_are_refused_with_the_reason(bad: str) -> None:
    with pytest.raises(TopicFilterError, match=r"topic filter|empty"):
        validate_topic_filter(bad)


@pytest.mark.parametrize("bad", ["", "a/+/b", "a/#", "x" * 300])
def test_bad_topic_names_are_refused(bad: str) -> None:
    with pytest.raises(TopicFilterError):
        validate_topic_name(bad)


def test_topic_level_is_one_based() -> None:
    assert topic_level("edgebundle/dev-1/alerts", 2) == "dev-1"
    assert topic_level("edgebundle/dev-1/alerts", 4) is None


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/#", "a", False),  # the nucleus' SubscriptionTrie follows '#' only on deeper levels
        ("a/#", "a/b/c", True),
        ("#", "a", True),
        ("#", "$aws/things/x/shadow/update", True),  # '$' is not special on local pub/sub
        ("a/+/c", "a/b/c", True),
        ("a/+", "a/b/c", False),
        ("a/b", "a/b", True),
    ],
)
def test_local_pubsub_matches_as_the_nucleus_trie(topic_filter: str, topic: str, expected: bool) -> None:
    """NUC ``SubscriptionTrie`` (aws-greengrass-nucleus, builtin/services/pubsub): ``a/#`` is not
    matched by ``a``; IoT Core (MQTT 3.1.1 4.7.1.2) does match it."""
    assert local_pubsub_matches(topic_filter, topic) is expected


@given(topic=topics, filter_levels=st.lists(st.sampled_from(["+", "a", "b", "X"]), min_size=1, max_size=5))
def test_local_and_iot_core_matching_agree_without_a_trailing_hash(
    topic: str, filter_levels: list[str]
) -> None:
    topic_filter = "/".join(filter_levels)
    assert local_pubsub_matches(topic_filter, topic) == iot_core_matches(topic_filter, topic)
