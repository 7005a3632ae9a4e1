"""The IoT SQL subset: parsing errors that point at the problem, and evaluation properties."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localcore.cloud.exceptions import RuleSyntaxError
from localcore.cloud.rules_sql import parse_sql
from tests.localcore.cloud.description import DESCRIPTION

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=5))
json_objects = st.dictionaries(st.text("abcdef", min_size=1, max_size=3), json_scalars, max_size=5)


def test_a_described_rule_selects_payload_topic_level_and_timestamp() -> None:
    rule = DESCRIPTION.topic_rules[0]
    query = parse_sql(rule.name, rule.sql)
    selected = query.evaluate("edgebundle/dev-1/alerts", {"alertKey": "k1", "level": 3}, now_ms=1234)
    assert selected == {"alertKey": "k1", "level": 3, "thing": "dev-1", "receivedAt": 1234}
    assert query.matches_topic("edgebundle/dev-9/alerts")
    assert not query.matches_topic("edgebundle/dev-9/commands")


@given(json_objects)
def test_select_star_returns_the_payload(payload: dict[str, Any]) -> None:
    assert parse_sql("r", "SELECT * FROM 't/#'").evaluate("t/x", payload, 0) == payload


@given(json_objects, st.text("abcdef", min_size=1, max_size=3), st.integers(-5, 5))
def test_where_greater_than_agrees_with_python(payload: dict[str, Any], name: str, bound: int) -> None:
    query = parse_sql("r", f"SELECT {name} AS v FROM 't' WHERE {name} > {bound}")
    value = payload.get(name)
    expected = (
        {"v": value} if isinstance(value, int) and not isinstance(value, bool) and value > bound else None
    )
    assert query.evaluate("t", payload, 0) == expected


@given(st.booleans(), st.booleans(), st.booleans())
def test_and_or_not_follow_boolean_logic(a: bool, b: bool, c: bool) -> None:
    payload = {"a": a, "b": b, "c": c}
    query = parse_sql("r", "SELECT a FROM 't' WHERE a = true AND (b = true OR NOT c = true)")
    holds = a and (b or not c)
    assert (query.evaluate("t", payload, 0) is not None) == holds


@given(json_objects)
def test_missing_fields_are_left_out_and_fail_where(payload: dict[str, Any]) -> None:
    query = parse_sql("r", "SELECT zz.q AS nope, * FROM 't' WHERE zz <> 1")
    assert query.evaluate("t", payload, 0) is None
    loose = parse_sql("r", "SELECT zz.q AS nope, * FROM 't'")
    assert loose.evaluate("t", payload, 0) == payload


def test_nested_fields_strings_and_inequality() -> None:
    query = parse_sql("r", "SELECT s.t AS temp, name FROM 'a/+' WHERE name <> 'it''s' AND s.t >= 20.5")
    assert query.evaluate("a/b", {"s": {"t": 21}, "name": "x"}, 0) == {"temp": 21, "name": "x"}
    assert query.evaluate("a/b", {"s": {"t": 20}, "name": "x"}, 0) is None
    assert query.evaluate("a/b", {"s": {"t": 30}, "name": "it's"}, 0) is None


@pytest.mark.parametrize(
    ("sql", "position", "fragment"),
    [
        ("SELECT FROM 't'", 7, "expected a field"),
        ("SELECT * 't'", 9, "expected FROM"),
        ("SELECT * FROM t", 14, "quoted topic filter"),
        ("SELECT * FROM 'a/#/b'", 14, "'#' must be"),
        ("SELECT * FROM 't' WHERE a >", 27, "expected a field"),
        ("SELECT upper(a) AS b FROM 't'", 7, "unsupported function"),
        ("SELECT topic(0) AS b FROM 't'", 13, "n >= 1"),
        ("SELECT a ; FROM 't'", 9, "unexpected character"),
        ("SELECT 1 FROM 't'", 7, "needs an alias"),
        ("SELECT * FROM 't' LIMIT 1", 18, "end of statement"),
    ],
)
def test_parse_errors_name_the_rule_and_position(sql: str, position: int, fragment: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_sql("my_rule", sql)
    assert caught.value.rule == "my_rule"
    assert caught.value.position == position
    assert "my_rule" in str(caught.value) and fragment in str(caught.value)


@given(st.text(max_size=40))
def test_the_parser_only_ever_raises_rule_syntax_errors(sql: str) -> None:
    try:
        parse_sql("fuzz", sql)
    except RuleSyntaxError as err:
        assert 0 <= err.position <= len(sql)


def test_topic_function_and_non_object_payload() -> None:
    query = parse_sql("r", "SELECT topic() AS t, topic(9) AS missing, * FROM '#'")
    assert query.evaluate("x/y", json.loads("[1, 2]"), 0) == {"t": "x/y"}
