"""The IoT SQL subset our topic rules use: parse once, evaluate per message.

Supported (AWS IoT SQL reference, "SELECT", "FROM", "WHERE" clauses):

* ``SELECT *`` (the whole JSON payload), field paths ``a.b.c``, literals, ``topic()``,
  ``topic(n)``, ``timestamp()``, each optionally ``AS alias``; ``*`` may be mixed with others.
* ``FROM 'topic/filter/+/#'`` (single-quoted MQTT filter).
* ``WHERE`` with ``= <> != < <= > >=``, ``AND``, ``OR``, ``NOT`` and parentheses.

A field missing from the payload is *undefined*: it is left out of the result, and a comparison
with it is undefined, which a WHERE clause treats as false (as IoT SQL does).

Example:
    >>> q = parse_sql("r", "SELECT *, topic(2) AS thing FROM 'a/+/b' WHERE level > 2")
    >>> q.evaluate("a/dev-1/b", {"level": 3}, now_ms=5)
    {'level': 3, 'thing': 'dev-1'}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcore.cloud.exceptions import RuleSyntaxError
from localcore.mqtt_topics import TopicFilterError, iot_core_matches, topic_level, validate_topic_filter


class _Undefined:
    """IoT SQL's Undefined: neither null nor a value."""

    def __repr__(self) -> str:
        return "Undefined"


UNDEFINED: Any = _Undefined()

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<string>'(?:[^']|'')*')
  | (?P<op><>|!=|<=|>=|=|<|>)
  | (?P<punct>[(),*.])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"SELECT", "FROM", "WHERE", "AS", "AND", "OR", "NOT", "TRUE", "FALSE", "NULL"}


@dataclass(frozen=True)
class _Token:
    kind: str  # number string op punct ident keyword end
    text: str
    position: int


def _tokenize(rule: str, sql: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(sql):
        match = _TOKEN.match(sql, position)
        if match is None:
            raise RuleSyntaxError(rule, position, f"unexpected character {sql[position]!r}", sql)
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "ident" and text.upper() in _KEYWORDS:
            tokens.append(_Token("keyword", text.upper(), position))
        elif kind != "ws":
            tokens.append(_Token(kind, text, position))
        position = match.end()
    tokens.append(_Token("end", "", len(sql)))
    return tokens


# An expression is compiled to a function of (topic, payload, now_ms).
Expr = Callable[[str, Any, int], Any]


@dataclass(frozen=True)
class SelectItem:
    """One entry of the SELECT list: ``*`` (``expr is None``) or an expression with its output key."""

    key: str | None
    expr: Expr | None


@dataclass(frozen=True)
class RuleQuery:
    """A parsed rule: what to select, from which topic filter, under which condition."""

    rule: str
    sql: str
    topic_filter: str
    select: tuple[SelectItem, ...]
    where: Expr | None

    def matches_topic(self, topic: str) -> bool:
        """Whether a message on ``topic`` is fed to this rule."""
        return iot_core_matches(self.topic_filter, topic)

    def evaluate(self, topic: str, payload: Any, now_ms: int) -> dict[str, Any] | None:
        """The selected object for one message, or ``None`` when WHERE does not hold."""
        if self.where is not None and self.where(topic, payload, now_ms) is not True:
            return None
        result: dict[str, Any] = {}
        for item in self.select:
            if item.expr is None:
                if isinstance(payload, dict):
                    result.update(payload)
                continue
            value = item.expr(topic, payload, now_ms)
            if value is not UNDEFINED and item.key is not None:
                result[item.key] = value
        return result


class _Parser:
    def __init__(self, rule: str, sql: str) -> None:
        self.rule = rule
        self.sql = sql
        self.tokens = _tokenize(rule, sql)
        self.index = 0

    # --- token helpers
    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def error(self, message: str, token: _Token | None = None) -> RuleSyntaxError:
        where = token or self.current
        found = where.text or "end of statement"
        return RuleSyntaxError(self.rule, where.position, f"{message}, found {found!r}", self.sql)

    def accept(self, kind: str, text: str | None = None) -> _Token | None:
        token = self.current
        if token.kind == kind and (text is None or token.text == text):
            self.index += 1
            return token
        return None

    def expect(self, kind: str, text: str | None, what: str) -> _Token:
        token = self.accept(kind, text)
        if token is None:
            raise self.error(f"expected {what}")
        return token

    # --- grammar
    def parse(self) -> RuleQuery:
        self.expect("keyword", "SELECT", "SELECT")
        items = [self.select_item()]
        while self.accept("punct", ","):
            items.append(self.select_item())
        self.expect("keyword", "FROM", "FROM after the SELECT list")
        source = self.expect("string", None, "a quoted topic filter after FROM")
        topic_filter = source.text[1:-1].replace("''", "'")
        try:
            validate_topic_filter(topic_filter)
        except TopicFilterError as err:
            raise RuleSyntaxError(self.rule, source.position, str(err), self.sql) from err
        where: Expr | None = None
        if self.accept("keyword", "WHERE"):
            where = self.condition()
        if self.current.kind != "end":
            raise self.error("expected end of statement")
        return RuleQuery(self.rule, self.sql, topic_filter, tuple(items), where)

    def select_item(self) -> SelectItem:
        if self.accept("punct", "*"):
            return SelectItem(None, None)
        start = self.current
        expr, default_key = self.operand()
        key = default_key
        if self.accept("keyword", "AS"):
            key = _ident_text(self.expect("ident", None, "an alias after AS"))
        if key is None:
            raise self.error("this expression needs an alias (AS name)", start)
        return SelectItem(key, expr)

    def condition(self) -> Expr:
        left = self.conjunction()
        while self.accept("keyword", "OR"):
            right = self.conjunction()
            left = _or(left, right)
        return left

    def conjunction(self) -> Expr:
        left = self.negation()
        while self.accept("keyword", "AND"):
            right = self.negation()
            left = _and(left, right)
        return left

    def negation(self) -> Expr:
        if self.accept("keyword", "NOT"):
            return _not(self.negation())
        return self.comparison()

    def comparison(self) -> Expr:
        if self.accept("punct", "("):
            inner = self.condition()
            self.expect("punct", ")", "')'")
            return inner
        left, _ = self.operand()
        operator = self.accept("op")
        if operator is None:
            return left
        right, _ = self.operand()
        return _compare(operator.text, left, right)

    def operand(self) -> tuple[Expr, str | None]:
        token = self.current
        if self.accept("number"):
            number = float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
            return _const(number), None
        if self.accept("string"):
            return _const(token.text[1:-1].replace("''", "'")), None
        if self.accept("keyword", "TRUE"):
            return _const(True), None
        if self.accept("keyword", "FALSE"):
            return _const(False), None
        if self.accept("keyword", "NULL"):
            return _const(None), None
        if self.accept("ident"):
            if self.accept("punct", "("):
                return self.function(token)
            path = [_ident_text(token)]
            while self.accept("punct", "."):
                path.append(_ident_text(self.expect("ident", None, "a field name after '.'")))
            return _field(tuple(path)), path[-1]
        raise self.error("expected a field, literal or function")

    def function(self, name_token: _Token) -> tuple[Expr, str | None]:
        name = name_token.text.lower()
        if name == "timestamp":
            self.expect("punct", ")", "')' (timestamp takes no arguments)")
            return (lambda _t, _p, now_ms: now_ms), "timestamp"
        if name == "topic":
            if self.accept("punct", ")"):
                return (lambda topic, _p, _n: topic), "topic"
            number = self.expect("number", None, "a level number in topic(n)")
            if not number.text.isdigit() or int(number.text) < 1:
                raise self.error("topic(n) needs a whole number n >= 1", number)
            self.expect("punct", ")", "')'")
            level = int(number.text)

            def _topic_level(topic: str, _payload: Any, _now: int) -> Any:
                value = topic_level(topic, level)
                return UNDEFINED if value is None else value

            return _topic_level, "topic"
        raise self.error("unsupported function (supported: topic(), topic(n), timestamp())", name_token)


def _ident_text(token: _Token) -> str:
    return token.text[1:-1] if token.text.startswith("`") else token.text


def _const(value: Any) -> Expr:
    return lambda _t, _p, _n: value


def _field(path: tuple[str, ...]) -> Expr:
    def _get(_topic: str, payload: Any, _now: int) -> Any:
        node = payload
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return UNDEFINED
            node = node[key]
        return node

    return _get


def _compare(operator: str, left: Expr, right: Expr) -> Expr:
    def _cmp(topic: str, payload: Any, now: int) -> Any:
        a, b = left(topic, payload, now), right(topic, payload, now)
        if a is UNDEFINED or b is UNDEFINED:
            return UNDEFINED
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
        if operator in ("=", "<>", "!="):
            equal = a == b if numeric or type(a) is type(b) else False
            return equal if operator == "=" else not equal
        if not (numeric or (isinstance(a, str) and isinstance(b, str))):
            return UNDEFINED
        if operator == "<":
            return a < b
        if operator == "<=":
            return a <= b
        if operator == ">":
            return a > b
        return a >= b

    return _cmp


def _and(left: Expr, right: Expr) -> Expr:
    def _conj(topic: str, payload: Any, now: int) -> Any:
        a, b = left(topic, payload, now), right(topic, payload, now)
        if a is False or b is False:
            return False
        if a is True and b is True:
            return True
        return UNDEFINED

    return _conj


def _or(left: Expr, right: Expr) -> Expr:
    def _disj(topic: str, payload: Any, now: int) -> Any:
        a, b = left(topic, payload, now), right(topic, payload, now)
        if a is True or b is True:
            return True
        if a is False and b is False:
            return False
        return UNDEFINED

    return _disj


def _not(inner: Expr) -> Expr:
    def _negate(topic: str, payload: Any, now: int) -> Any:
        value = inner(topic, payload, now)
        return (not value) if isinstance(value, bool) else UNDEFINED

    return _negate


def parse_sql(rule: str, sql: str) -> RuleQuery:
    """Parse a rule's SQL; :class:`RuleSyntaxError` names the rule and the position on failure."""
    return _Parser(rule, sql).parse()
