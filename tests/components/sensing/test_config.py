"""The sensing configuration: defaults, camelCase keys, and errors that name the key."""

from __future__ import annotations

import pytest

from components.common.live_config import ConfigError, validate_config
from components.sensing.config import SensingConfig, ThresholdRule


def test_defaults_validate_and_round_trip_through_their_json_form() -> None:
    config = SensingConfig()
    dumped = config.model_dump(mode="json", by_alias=True)
    assert "intervalSeconds" in dumped["sensors"][0]
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


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"sensors": [{"id": "a", "driver": "bme280"}]}, "sensors.0.driver"),
        ({"sensors": [{"id": "a", "driver": "dht22", "pin": "gpio4"}]}, "sensors.0.pin"),
        (
            {"sensors": [{"id": "a", "driver": "dht22", "intervalSeconds": 0.5}]},
            "intervalSeconds must be >= 2.0",
        ),
        (
            {"sensors": [{"id": "a", "driver": "simulated"}, {"id": "a", "driver": "system"}]},
            "repeated: ['a']",
        ),
        ({"sensors": [{"id": "a", "driver": "simulated", "intervalSeconds": "fast"}]}, "intervalSeconds"),
        (
            {
                "rules": [
                    {"type": "threshold", "id": "r", "sensor": "nope", "metric": "temperature", "above": 1}
                ]
            },
            "unknown sensor 'nope'",
        ),
        (
            {
                "rules": [
                    {"type": "threshold", "id": "r", "sensor": "line1-env", "metric": "pressure", "above": 1}
                ]
            },
            "no metric 'pressure'",
        ),
        (
            {"rules": [{"type": "threshold", "id": "r", "sensor": "line1-env", "metric": "temperature"}]},
            "needs 'above', 'below'",
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
            "must be less than",
        ),
        ({"rules": [{"type": "median", "id": "r", "sensor": "line1-env"}]}, "rules.0"),
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
            "hysteresis (1.0) must be less than maxPerSecond",
        ),
        ({"actuator": {"severities": ["loud"]}}, "actuator.severities.0"),
        (
            {"sensors": [{"id": "a", "driver": "simulated", "simulation": {"readErrorRate": 2}}]},
            "sensors.0.simulation.readErrorRate",
        ),
        ({"healthIntervalSecond": 5}, "healthIntervalSecond"),
    ],
)
def test_invalid_configuration_is_refused_naming_the_key(raw: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_config(SensingConfig, raw)
    assert expected in str(err.value)
