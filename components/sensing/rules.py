"""Local rules: pure decisions over readings, and a small engine that remembers which alerts are up.

The decision functions (:func:`threshold_active`, :func:`rate_active`, :func:`stale_active`)
take the rule, whether its alert is active now and the new observation, and return whether it
is active next; they hold no state, so hysteresis is easy to reason about and to property-test.
:class:`RuleEngine` applies them per sensor and turns state changes into :class:`AlertEvent`\\ s
(one ``raised``, later one ``cleared``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from components.common.messages import Severity
from components.sensing.config import RateOfChangeRule, Rule, StaleRule, ThresholdRule
from components.sensing.trend import WindowTrend

AlertState = Literal["raised", "cleared"]


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """An alert being raised or cleared.

    Attributes:
        alert_id: stable id of this alert (``rule id:sensor id``), same for raise and clear.
        rule_id: the rule (or ``sensor-fault``) behind it.
        sensor: the sensor it concerns.
        severity: the rule's severity.
        state: ``raised`` or ``cleared``.
        message: a human sentence saying why.
        ts: when it happened (the reading's timestamp, or the tick's).
        reading: the reading message that triggered the change, if a reading did.
    """

    alert_id: str
    rule_id: str
    sensor: str
    severity: Severity
    state: AlertState
    message: str
    ts: float
    reading: dict[str, Any] | None = None


# -- pure decisions --------------------------------------------------------------------------------
def threshold_active(rule: ThresholdRule, active: bool, value: float) -> bool:
    """Whether a threshold alert is active after seeing ``value``.

    Raised when ``value`` is beyond a limit (strictly above ``above`` or below ``below``);
    once raised it stays until ``value`` is back inside by ``hysteresis``.
    """
    if rule.above is not None and value > rule.above:
        return True
    if rule.below is not None and value < rule.below:
        return True
    if not active:
        return False
    # Inside the limits: clear only once clear of the hysteresis band on the side(s) configured.
    if rule.above is not None and value >= rule.above - rule.hysteresis:
        return True
    return rule.below is not None and value <= rule.below + rule.hysteresis


def rate_active(rule: RateOfChangeRule, active: bool, rate_per_second: float) -> bool:
    """Whether a rate-of-change alert is active given the window's slope ``rate_per_second``."""
    rate = abs(rate_per_second)
    if rate > rule.max_per_second:
        return True
    return active and rate >= rule.max_per_second - rule.hysteresis


def stale_active(rule: StaleRule, last_good_ts: float, now: float) -> bool:
    """Whether a stale-data alert is active at ``now`` given the last good reading's time."""
    return now - last_good_ts > rule.max_age_seconds


def _describe_threshold(rule: ThresholdRule, value: float, raised: bool) -> str:
    if not raised:
        return f"{rule.metric} back to {value:g} on {rule.sensor} (rule {rule.id})"
    if rule.below is not None and value < rule.below:
        return f"{rule.metric} {value:g} below {rule.below:g} on {rule.sensor} (rule {rule.id})"
    return f"{rule.metric} {value:g} above {rule.above:g} on {rule.sensor} (rule {rule.id})"


# -- the engine ------------------------------------------------------------------------------------
class RuleEngine:
    """Evaluates the configured rules over the readings of each sensor.

    Not thread-safe: the component calls it under one lock.

    Args:
        rules: the rules in effect.
        now: the time the engine starts (stale rules count from it until a first good reading).
        previous: the engine being replaced by a configuration change; rules that are unchanged
            keep their state (an active alert stays active instead of being raised again).
    """

    def __init__(self, rules: Iterable[Rule], now: float, previous: RuleEngine | None = None) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._active: dict[str, AlertEvent] = {}
        self._last_good: dict[str, float] = {}
        self._trends: dict[str, WindowTrend] = {}
        self._start = now
        if previous is not None:
            kept = {rule.id for rule in self.rules if rule in previous.rules}
            self._active = {aid: ev for aid, ev in previous._active.items() if ev.rule_id in kept}
            self._last_good = dict(previous._last_good)
            # An unchanged rule keeps its window (its id alone could name a changed rule).
            self._trends = {
                r.id: previous._trends[r.id] for r in self.rules if r.id in kept and r.id in previous._trends
            }
            self._start = previous._start

    def dropped_alerts(self, previous: RuleEngine, now: float) -> list[AlertEvent]:
        """Clear events for alerts of ``previous`` whose rule is gone or changed in this engine."""
        events = []
        for alert_id, event in previous._active.items():
            if alert_id not in self._active:
                events.append(
                    AlertEvent(
                        alert_id,
                        event.rule_id,
                        event.sensor,
                        event.severity,
                        "cleared",
                        f"rule {event.rule_id} was changed or removed by a configuration update",
                        now,
                    )
                )
        return events

    @property
    def active(self) -> Mapping[str, AlertEvent]:
        """The alerts raised and not yet cleared, by alert id (the raise events)."""
        return self._active

    def _transition(
        self,
        rule: Rule,
        sensor: str,
        now_active: bool,
        message: str,
        ts: float,
        reading: dict[str, Any] | None,
    ) -> AlertEvent | None:
        alert_id = f"{rule.id}:{sensor}"
        was_active = alert_id in self._active
        if now_active == was_active:
            return None
        event = AlertEvent(
            alert_id,
            rule.id,
            sensor,
            rule.severity,
            "raised" if now_active else "cleared",
            message,
            ts,
            reading,
        )
        if now_active:
            self._active[alert_id] = event
        else:
            del self._active[alert_id]
        return event

    def on_reading(
        self,
        sensor: str,
        ts: float,
        values: Mapping[str, float | None],
        reading: dict[str, Any] | None = None,
    ) -> list[AlertEvent]:
        """Apply a good reading of ``sensor``; returns the alerts it raised or cleared."""
        events: list[AlertEvent] = []
        for rule in self.rules:
            if rule.sensor != sensor:
                continue
            alert_id = f"{rule.id}:{sensor}"
            if isinstance(rule, StaleRule):
                event = self._transition(
                    rule, sensor, False, f"{sensor} is reporting again (rule {rule.id})", ts, reading
                )
            else:
                value = values.get(rule.metric)
                if value is None:
                    continue
                if isinstance(rule, ThresholdRule):
                    now_active = threshold_active(rule, alert_id in self._active, value)
                    message = _describe_threshold(rule, value, now_active)
                    event = self._transition(rule, sensor, now_active, message, ts, reading)
                else:
                    trend = self._trends.get(rule.id)
                    if trend is None:
                        trend = self._trends[rule.id] = WindowTrend(rule.window_seconds)
                    rate = trend.add(ts, value)
                    if rate is None:
                        continue
                    now_active = rate_active(rule, alert_id in self._active, rate)
                    verb = "changing" if now_active else "steady again"
                    message = f"{rule.metric} {verb} at {rate:+.3g}/s on {sensor} (rule {rule.id})"
                    event = self._transition(rule, sensor, now_active, message, ts, reading)
            if event is not None:
                events.append(event)
        self._last_good[sensor] = ts
        return events

    def on_tick(self, now: float) -> list[AlertEvent]:
        """Check the stale rules at ``now``; returns the alerts raised."""
        events: list[AlertEvent] = []
        for rule in self.rules:
            if not isinstance(rule, StaleRule):
                continue
            last = self._last_good.get(rule.sensor, self._start)
            if stale_active(rule, last, now):
                event = self._transition(
                    rule,
                    rule.sensor,
                    True,
                    f"no good reading from {rule.sensor} for {now - last:.0f} s (rule {rule.id})",
                    now,
                    None,
                )
                if event is not None:
                    events.append(event)
        return events
