"""Soak (``make soak`` only): minutes of free-running inspection with reconfigurations, a tiny
spool and rejects all along: the spool stays inside its bounds and memory stays flat."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import psutil
import pytest

from components.common.live_config import validate_config
from components.inspection.component import InspectionComponent
from components.inspection.config import InspectionConfig

from .fakes import FakeDisk, Subscriptions


class CountingPublisher:
    def __init__(self) -> None:
        self.count = 0

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.count += 1


@pytest.mark.soak
@pytest.mark.timeout(400)
def test_soak_free_running_with_reconfiguration(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    publisher = CountingPublisher()
    component = InspectionComponent(publisher, Subscriptions(), disk_usage=FakeDisk(10**12))

    def config(round_number: int) -> InspectionConfig:
        return validate_config(
            InspectionConfig,
            {
                "camera": {"type": "synthetic", "seed": round_number, "defectRate": 0.3},
                "trigger": {"mode": "free_run", "rateHz": 300},
                "model": {"variant": "int8" if round_number % 2 == 0 else "float32"},
                "spool": {"dir": str(spool), "maxEntries": 50, "maxBytes": 400_000, "minFreeBytes": 0},
                "healthIntervalSeconds": 1.0,
            },
        )

    component.apply(config(0))
    component.start()
    process = psutil.Process()
    pause = threading.Event()
    rss_start = None
    for round_number in range(1, 13):
        pause.wait(20.0)  # a soak runs for its duration; nothing to wait on
        component.apply(config(round_number))
        # A snapshot while the writer thread keeps writing and evicting: a file may vanish.
        sizes = {}
        for entry in os.scandir(spool):
            try:
                sizes[entry.name] = entry.stat().st_size
            except FileNotFoundError:
                continue
        assert len([name for name in sizes if name.endswith(".json")]) <= 50
        assert sum(sizes.values()) <= 400_000
        if round_number == 2:
            rss_start = process.memory_info().rss
    component.stop()
    assert rss_start is not None
    assert process.memory_info().rss - rss_start < 40 * 1024 * 1024
    assert publisher.count > 10_000
    assert component.health()["badFrames"] == 0
