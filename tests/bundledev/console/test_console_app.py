"""The console's app and data without a browser: the token rule, bad input, what the stream carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest
from starlette.testclient import TestClient

from bundledev.console.app import create_app
from bundledev.console.core_access import ActionRefused, CoreAccess
from bundledev.console.data import INSPECTIONS_KEPT, ConsoleData
from bundledev.console.server import console_enabled
from components.common import topics
from components.common.messages import alert_message, inspection_message, reading_message

TOKEN = "s3cret-token"


class FakeCore(CoreAccess):
    """A CoreAccess answering from memory; actions recorded, one refused."""

    def __init__(self) -> None:
        self.actions: list[tuple[str, ...]] = []

    @property
    def root(self) -> Path:
        return Path("/nonexistent")

    def components(self) -> list[dict[str, Any]]:
        return [
            {"name": "com.example.A", "version": "1.0.0", "state": "RUNNING", "restarts": 0, "detail": ""}
        ]

    def link(self) -> dict[str, Any]:
        return {"connectivity": "online", "connected": True}

    def thresholds(self) -> list[dict[str, Any]]:
        return [{"type": "threshold", "id": "hot", "sensor": "s1", "metric": "temperature", "above": 35.0}]

    def lifecycle(self, action: str, component: str) -> dict[str, Any]:
        if component == "com.example.Missing":
            raise ActionRefused("unknown component 'com.example.Missing'")
        self.actions.append((action, component))
        return {"component": component, "message": "restarted"}

    def set_link(self, state: str) -> dict[str, Any]:
        self.actions.append(("link", state))
        return {"connectivity": state}

    def set_configuration(self, component: str, key_path: list[str], value: Any) -> dict[str, Any]:
        self.actions.append(("config", component, "/".join(key_path), repr(value)))
        return {"component": component, "keyPath": key_path, "value": value}


@pytest.fixture
def core() -> FakeCore:
    return FakeCore()


@pytest.fixture
def client(core: FakeCore) -> TestClient:
    data = ConsoleData()
    data.observe(
        topics.READINGS,
        reading_message("s1", 1, 100.0, "env", {"temperature": 21.5}, {"temperature": "C"}, "good"),
    )
    return TestClient(create_app(data, core, TOKEN))


@pytest.mark.parametrize("path", ["/", "/api/snapshot", "/api/events", "/static/console.js", "/api/shadows"])
def test_without_the_token_nothing_is_served(client: TestClient, path: str) -> None:
    for headers in ({}, {"X-Console-Token": "wrong"}):
        answer = client.get(path, headers=headers)
        assert answer.status_code == 401
        assert "temperature" not in answer.text and "com.example" not in answer.text


def test_with_the_token_the_snapshot_carries_readings_components_and_thresholds(client: TestClient) -> None:
    answer = client.get("/api/snapshot", params={"token": TOKEN})
    assert answer.status_code == 200
    body = answer.json()
    assert body["events"] == [
        {"kind": "reading", "sensor": "s1", "metric": "temperature", "ts": 100.0, "value": 21.5}
    ]
    assert body["components"][0]["name"] == "com.example.A"
    assert body["thresholds"][0]["above"] == 35.0
    assert (
        client.get("/static/vendor/uPlot.iife.min.js", headers={"X-Console-Token": TOKEN}).status_code == 200
    )


def test_actions_go_to_the_core_and_its_refusal_comes_back(client: TestClient, core: FakeCore) -> None:
    auth = {"X-Console-Token": TOKEN}
    assert client.post("/api/components/com.example.A/restart", headers=auth).status_code == 200
    refused = client.post("/api/components/com.example.Missing/stop", headers=auth)
    assert refused.status_code == 409 and "com.example.Missing" in refused.json()["error"]
    assert client.post("/api/link", headers=auth, json={"state": "offline"}).status_code == 200
    bad = client.post("/api/link", headers=auth, json={"state": "down"})
    assert bad.status_code == 400 and "online, offline, flaky" in bad.json()["error"]
    ok = client.post("/api/config/com.example.A", headers=auth, json={"keyPath": "rules/limit", "value": 3})
    assert ok.status_code == 200
    assert client.post("/api/config/com.example.A", headers=auth, json={"value": 3}).status_code == 400
    assert core.actions == [
        ("restart", "com.example.A"),
        ("link", "offline"),
        ("config", "com.example.A", "rules/limit", "3"),
    ]


def test_data_keeps_alerts_decisions_and_a_bounded_history() -> None:
    data = ConsoleData(history=10)
    raised = alert_message("s1", 1, 5.0, alert_id="a1", rule_id="hot", severity="warning", state="raised",
                           message="too hot", reading={"source": "s1"})  # fmt: skip
    data.observe(topics.ALERTS, raised)
    assert [a["ruleId"] for a in data.summary()["activeAlerts"]] == ["hot"]
    data.observe(topics.ALERTS, {**raised, "state": "cleared"})
    assert data.summary()["activeAlerts"] == []
    for index in range(INSPECTIONS_KEPT + 3):
        decision: Literal["accept", "reject"] = "reject" if index % 2 else "accept"
        data.observe(
            topics.INSPECTION_DECISIONS,
            inspection_message("insp", index, float(index), part_id=f"p{index}", probability=0.5,
                               decision=decision, model="m", model_version="1", latency_ms=1.0),
        )  # fmt: skip
    parts = data.summary()["inspections"]
    assert len(parts) == INSPECTIONS_KEPT and parts[-1]["partId"] == f"p{INSPECTIONS_KEPT + 2}"
    for index in range(200):
        data.observe(
            topics.READINGS, reading_message("s1", index, float(index), "env", {"t": 1.0}, {"t": "C"}, "good")
        )
    seq, events = data.changes_since(0)
    assert len(events) == 80  # history * 8: older points are dropped
    assert data.changes_since(seq) == (seq, [])
    data.observe(topics.READINGS, {"schema": "nonsense"})  # unreadable: skipped, no error
    assert data.seq == seq


def test_the_console_switch_refuses_a_misspelt_value() -> None:
    assert console_enabled({}) is True
    assert console_enabled({"BUNDLE_CONSOLE": "off"}) is False
    with pytest.raises(ValueError, match="expected on or off"):
        console_enabled({"BUNDLE_CONSOLE": "of"})


def test_the_bundle_view_reads_the_switch_before_the_core_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    from bundledev.plugin import EdgeBundlePlugin

    monkeypatch.setenv("BUNDLE_CONSOLE", "maybe")
    with pytest.raises(ValueError, match="BUNDLE_CONSOLE='maybe'"):
        EdgeBundlePlugin().views()["bundle"]()
    monkeypatch.setenv("BUNDLE_CONSOLE", "off")
    assert EdgeBundlePlugin().views()["bundle"]().console_server is None  # type: ignore[attr-defined]
