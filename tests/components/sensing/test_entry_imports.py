"""Footprint (issue #10): the running sensing component never loads numpy.

numpy costs about 12 MiB resident and only the simulator's ``series()`` (model training) needs it.
Each check runs in a fresh interpreter, since this test process has numpy loaded already.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[3]

# GIVEN the sensing entry point and the deployment's sensors (a 10 Hz simulated DHT22 and the
# gateway's system sensor) WHEN the component runs until it published readings THEN no numpy.
_PROBE = """
import sys, threading
import components.sensing.__main__
from components.common import topics
from components.common.live_config import validate_config
from components.sensing.component import SensingComponent
from components.sensing.config import SensingConfig

published = threading.Event()
readings = []

class Collect:
    def publish(self, topic, message):
        if topic == topics.READINGS and message.get("source") == "line1-env":
            readings.append(message)
            if len(readings) >= 3:
                published.set()

config = validate_config(SensingConfig, {"sensors": [
    {"id": "line1-env", "driver": "simulated", "intervalSeconds": 0.05},
    {"id": "gateway", "driver": "system", "intervalSeconds": 10.0},
]})
component = SensingComponent(Collect())
component.apply(config)
component.start()
try:
    if not published.wait(30):
        sys.exit("no readings published within 30 s")
finally:
    component.stop()
print(",".join(sorted(name for name in ("numpy", "boto3", "botocore") if name in sys.modules)) or "-")
"""


def test_the_running_component_with_a_simulated_sensor_does_not_import_numpy() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "-", f"heavy modules loaded: {result.stdout!r}"


def test_training_series_still_loads_numpy_on_demand() -> None:
    probe = (
        "from components.sensing.drivers.simulated import Dht22Simulator, SimulationSettings\n"
        "series = Dht22Simulator(SimulationSettings(seed=1), period_s=1.0, start_ts=0.0).series(0, 5)\n"
        "print(type(series.temperature).__module__, series.temperature.shape)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["numpy", "(5,)"]
