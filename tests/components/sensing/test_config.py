"""The sensing configuration: defaults, camelCase keys, and errors that name the key."""

from __future__ import annotations

import pytest

from components.common.exceptions import ConfigError
from components.common.live_config import validate_config
from components.common.structs import to_json_dict
from components.sensing.config import RateOfChangeRule, SensingConfig, StaleRule, ThresholdRule


def test_defaults_validate_and_round_trip_through_their_json_form() -> None:
    config = SensingConfig()
    dumped = to_json_dict(config)
    assert "intervalSeconds" in dumped["sensors"][0]
    assert [rule["type"] for rule in dumped["rules"]] == [
        "threshold",
        "threshold",
        "threshold",
        "rate_of_change",
        "stale",
        "threshold",
    ]
    assert validate_config(SensingConfig, dumped) == config


def test_a_partial_configuration_keeps_the_other_defaults() -> None:
    config = validate_config(
        SensingConfig,
        {
            "sensors": [{"id": "a", "driver": "simulated", "intervalSeconds": 0.5}],
            "rules": [{"type": "threshold", "id": "r", "sensor": "a", "metric": "humidity", "below": 20}],
            "accessControl": {"ignored": "the nucleus' key"},
        },
    )
    assert config.sensors[0].interval_seconds == 0.5
    assert isinstance(config.rules[0], ThresholdRule) and config.rules[0].below == 20
    assert config.actuator.severities == ("critical",)


def test_each_rule_type_is_chosen_by_its_type_key() -> None:
    config = validate_config(
        SensingConfig,
        {
            "rules": [
                {"type": "threshold", "id": "t", "sensor": "line1-env", "metric": "humidity", "above": 90},
                {
                    "type": "rate_of_change",
                    "id": "r",
                    "sensor": "line1-env",
                    "metric": "temperature",
                    "maxPerSecond": 1.5,
                    "windowSeconds": 10,
                },
                {"type": "stale", "id": "s", "sensor": "gateway", "maxAgeSeconds": 120, "severity": "info"},
            ]
        },
    )
    threshold, rate, stale = config.rules
    assert isinstance(threshold, ThresholdRule) and threshold.above == 90.0
    assert isinstance(rate, RateOfChangeRule) and (rate.max_per_second, rate.window_seconds) == (1.5, 10.0)
    assert isinstance(stale, StaleRule) and (stale.max_age_seconds, stale.severity) == (120.0, "info")


def test_numbers_written_as_strings_are_accepted_but_booleans_are_not_numbers() -> None:
    config = validate_config(
        SensingConfig, {"sensors": [{"id": "a", "driver": "simulated", "intervalSeconds": "5"}], "rules": []}
    )
    assert config.sensors[0].interval_seconds == 5.0
    with pytest.raises(ConfigError, match=r"^sensors\.0\.intervalSeconds: Expected `float`, got `bool`"):
        validate_config(
            SensingConfig,
            {"sensors": [{"id": "a", "driver": "simulated", "intervalSeconds": True}], "rules": []},
        )


def test_keys_are_camel_case_only() -> None:
    # Recipes, deployments and the shadow write camelCase; a snake_case key is a typo, not an alias.
    with pytest.raises(ConfigError, match=r"^sensors\.0: Object contains unknown field `interval_seconds`"):
        validate_config(
            SensingConfig, {"sensors": [{"id": "a", "driver": "simulated", "interval_seconds": 5}]}
        )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"sensors": [{"id": "a", "driver": "bme280"}]}, "sensors.0.driver: Invalid enum value 'bme280'"),
        (
            {"sensors": [{"id": "a", "driver": "dht22", "pin": "gpio4"}]},
            "sensors.0.pin: Expected `str` matching regex",
        ),
        (
            {"sensors": [{"id": "a", "driver": "dht22", "intervalSeconds": 0.5}]},
            "sensors.0: intervalSeconds must be >= 2.0 for a dht22",
        ),
        (
            {"sensors": [{"id": "a", "driver": "simulated"}, {"id": "a", "driver": "system"}]},
            "<root>: sensor ids must be unique, repeated: ['a']",
        ),
        (
            {"sensors": [{"id": "a", "driver": "simulated", "intervalSeconds": "fast"}]},
            "sensors.0.intervalSeconds: Expected `float`, got `str` (got 'fast')",
        ),
        (
            {
                "rules": [
                    {"type": "threshold", "id": "r", "sensor": "nope", "metric": "temperature", "above": 1}
                ]
            },
            "<root>: rule 'r': unknown sensor 'nope'",
        ),
        (
            {
                "rules": [
                    {"type": "threshold", "id": "r", "sensor": "line1-env", "metric": "pressure", "above": 1}
                ]
            },
            "<root>: rule 'r': sensor 'line1-env' (simulated) has no metric 'pressure'",
        ),
        (
            {"rules": [{"type": "threshold", "id": "r", "sensor": "line1-env", "metric": "temperature"}]},
            "rules.0: a threshold rule needs 'above', 'below' or both",
        ),
        (
            {
                "rules": [
                    {
                        "type": "threshold",
                        "id": "r",
                        "sensor": "line1-env",
                        "metric": "humidity",
                        "above": 50,
                        "below": 45,
                        "hysteresis": 3,
                    }
                ]
            },
            "rules.0: 'below' + hysteresis (45.0 + 3.0) must be less than 'above' - hysteresis",
        ),
        (
            {"rules": [{"type": "median", "id": "r", "sensor": "line1-env"}]},
            "rules.0.type: Invalid value 'median'",
        ),
        (
            {"rules": [{"id": "r", "sensor": "line1-env", "metric": "humidity", "above": 90}]},
            "rules.0: Object missing required field `type`",
        ),
        (
            {
                "rules": [
                    {
                        "type": "rate_of_change",
                        "id": "r",
                        "sensor": "line1-env",
                        "metric": "humidity",
                        "maxPerSecond": 1,
                        "hysteresis": 1,
                    }
                ]
            },
            "rules.0: hysteresis (1.0) must be less than maxPerSecond (1.0)",
        ),
        ({"actuator": {"severities": ["loud"]}}, "actuator.severities.0: Invalid enum value 'loud'"),
        (
            {"sensors": [{"id": "a", "driver": "simulated", "simulation": {"readErrorRate": 2}}]},
            "sensors.0.simulation.readErrorRate: Expected `float` <= 1.0 (got 2)",
        ),
        ({"healthIntervalSecond": 5}, "<root>: Object contains unknown field `healthIntervalSecond`"),
    ],
)
def test_invalid_configuration_is_refused_naming_the_key(raw: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_config(SensingConfig, raw)
    assert expected in str(err.value)
