"""A deployment applies once: a restart with the same deployment file keeps values changed since.

The nucleus merges a deployment's configurationUpdate when the deployment arrives, not at each
start. These tests restart a real core (same root) with the same or a changed deployment file.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcore.control import control_request
from localcore.runner.deployment import ComponentDeployment, parse_deployment
from localcore.runner.deployment_record import RECORD_NAME, AppliedDeploymentRecord
from localcore.runner.limits import ResourceLimits
from localcore.testing import running_core

from .conftest import lifecycle

CONFIGURED = "test.life.Configured"
OTHER = "test.life.Other"
DEFAULTS = {"interval": 5, "mqtt": {"port": 8883, "host": "localhost"}, "mode": "normal"}

OTHER_RECIPE = """\
RecipeFormatVersion: "2020-01-25"
ComponentName: test.life.Other
ComponentVersion: "1.0.0"
ComponentConfiguration:
  DefaultConfiguration:
    level: 1
    label: plain
Manifests:
  - Lifecycle:
      Run: "exec sleep 300"
"""


# --- helpers -------------------------------------------------------------------------------------------
def _recipes(tmp_path: Path) -> Path:
    """A recipe folder with ``test.life.Configured`` and ``test.life.Other``."""
    folder = tmp_path / "recipes"
    folder.mkdir(exist_ok=True)
    (folder / "configured.yaml").write_text(lifecycle("configured")[0].read_text())
    (folder / "other.yaml").write_text(OTHER_RECIPE)
    return folder


def _deployment_file(tmp_path: Path, components: dict[str, Any]) -> Path:
    """The deployment file ``localcore run --deployment FILE`` would read (rewritten in place)."""
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump({"components": components}))
    return path


def _merge(values: dict[str, Any], reset: list[str] | None = None) -> dict[str, Any]:
    update: dict[str, Any] = {"merge": values}
    if reset is not None:
        update["reset"] = reset
    return {"configurationUpdate": update}


def _config_set(core: Any, component: str, key_path: list[str], value: Any) -> None:
    """What ``localcore config set`` does: a request on the control channel."""
    control_request(core.root, "config.set", {"component": component, "keyPath": key_path, "value": value})


def _last_start_log(root: Path) -> str:
    """The core's own log from its last start on."""
    text = (root / "logs" / "greengrass.log").read_text()
    return text[text.rindex("event=core_starting") :]


def _outcome(component: str, outcome: str, reason: str | None = None) -> str:
    line = f"event=deployment_configuration component={component} outcome={outcome}"
    return line + (f" reason={reason}" if reason else "")


def _run(tmp_path: Path, deployment: Path | None, recipes: Path | None = None) -> Any:
    return running_core(tmp_path, recipes or _recipes(tmp_path), deployment=deployment, control=True)


# --- restarts of a real core -------------------------------------------------------------------------------
def test_values_changed_at_run_time_survive_a_restart_with_the_same_deployment(tmp_path: Path) -> None:
    deployment = _deployment_file(tmp_path, {CONFIGURED: _merge({"interval": 1, "mode": "fast"})})
    # GIVEN a core that applied the deployment, then an operator and the component changed merged keys
    with _run(tmp_path, deployment) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        assert core.config.snapshot(CONFIGURED) == {**DEFAULTS, "interval": 1, "mode": "fast"}
        _config_set(core, CONFIGURED, ["interval"], 7)
        core.client_for(CONFIGURED).update_configuration(
            key_path=[], value_to_merge={"mode": "eco"}, timestamp=datetime.now(timezone.utc)
        )
    assert _outcome(CONFIGURED, "applied", "first_deployment") in _last_start_log(core.root)
    # WHEN the core restarts with the very same deployment file
    with _run(tmp_path, deployment) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        # THEN both changes are still there, and the log says the deployment was skipped
        assert core.config.snapshot(CONFIGURED) == {**DEFAULTS, "interval": 7, "mode": "eco"}
    log = _last_start_log(core.root)
    assert _outcome(CONFIGURED, "unchanged_skipped") in log
    assert "outcome=applied" not in log


def test_a_changed_entry_applies_and_an_unchanged_one_keeps_custom_values(tmp_path: Path) -> None:
    other_part = _merge({"level": 2})
    first = _deployment_file(tmp_path, {CONFIGURED: _merge({"interval": 1}), OTHER: other_part})
    with _run(tmp_path, first) as core:
        core.wait_for_state(OTHER, "RUNNING")
        _config_set(core, CONFIGURED, ["interval"], 7)
        _config_set(core, CONFIGURED, ["mqtt", "port"], 9000)
        _config_set(core, OTHER, ["level"], 5)
        _config_set(core, OTHER, ["label"], "custom")
    # WHEN the deployment file changes only test.life.Configured's merge
    second = _deployment_file(tmp_path, {CONFIGURED: _merge({"interval": 3}), OTHER: other_part})
    with _run(tmp_path, second) as core:
        core.wait_for_state(OTHER, "RUNNING")
        # THEN its new value applies; a key the merge does not name keeps its custom value
        assert core.config.snapshot(CONFIGURED) == {
            **DEFAULTS,
            "interval": 3,
            "mqtt": {"port": 9000, "host": "localhost"},
        }
        # AND the component whose part did not change keeps every custom value
        assert core.config.snapshot(OTHER) == {"level": 5, "label": "custom"}
    log = _last_start_log(core.root)
    assert _outcome(CONFIGURED, "applied", "changed") in log
    assert _outcome(OTHER, "unchanged_skipped") in log


def test_reset_paths_apply_once_then_again_when_the_entry_changes(tmp_path: Path) -> None:
    first = _deployment_file(tmp_path, {CONFIGURED: _merge({"interval": 2}, reset=["/mode"])})
    with _run(tmp_path, first) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        _config_set(core, CONFIGURED, ["mode"], "turbo")
        _config_set(core, CONFIGURED, ["mqtt", "port"], 9000)
    # WHEN the core restarts with the same file: the reset is not applied again
    with _run(tmp_path, first) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        assert core.config.snapshot(CONFIGURED)["mode"] == "turbo"
    # WHEN the entry changes (one more reset path): reset, then merge, as for any new deployment
    second = _deployment_file(tmp_path, {CONFIGURED: _merge({"interval": 2}, reset=["/mode", "/mqtt"])})
    with _run(tmp_path, second) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        assert core.config.snapshot(CONFIGURED) == {**DEFAULTS, "interval": 2}


@pytest.mark.parametrize(
    ("damage", "log_event"),
    [
        ("delete", "event=deployment_record_missing"),
        ("not json", "event=deployment_record_unreadable"),
        ('{"format": 1, "components": {"test.life.Configured": 5}}', "event=deployment_record_unreadable"),
        ('{"format": 99, "components": {}}', "event=deployment_record_unreadable"),
    ],
)
def test_a_missing_or_corrupt_record_is_a_first_start(tmp_path: Path, damage: str, log_event: str) -> None:
    deployment = _deployment_file(tmp_path, {CONFIGURED: _merge({"interval": 1})})
    with _run(tmp_path, deployment) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        _config_set(core, CONFIGURED, ["interval"], 7)
    record = core.root / "config" / RECORD_NAME
    assert record.is_file()
    if damage == "delete":
        record.unlink()
    else:
        record.write_text(damage)
    # WHEN the core starts with the record gone or unreadable
    with _run(tmp_path, deployment) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        # THEN it runs, applies the deployment as on a first start, and says why
        assert core.config.snapshot(CONFIGURED)["interval"] == 1
    log = _last_start_log(core.root)
    assert log_event in log
    assert _outcome(CONFIGURED, "applied", "first_deployment") in log
    # AND the record is whole again; an unreadable one was kept aside for a look
    saved = json.loads(record.read_text())
    assert saved["components"][CONFIGURED].startswith("sha256:")
    assert (record.with_name(f"{RECORD_NAME}.unreadable").is_file()) == (damage != "delete")


def test_a_lost_configuration_file_gets_the_deployment_again(tmp_path: Path) -> None:
    deployment = _deployment_file(tmp_path, {CONFIGURED: _merge({"interval": 1})})
    with _run(tmp_path, deployment) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
    # WHEN the configuration is gone but the record says the deployment was applied
    (core.root / "config" / "config.json").unlink()
    with _run(tmp_path, deployment) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        # THEN the deployment applies again: the record alone must not leave bare defaults
        assert core.config.snapshot(CONFIGURED)["interval"] == 1
    assert _outcome(CONFIGURED, "applied", "no_stored_configuration") in _last_start_log(core.root)


def test_a_start_without_a_deployment_is_a_restart_but_one_without_the_component_is_new(
    tmp_path: Path,
) -> None:
    deployment = _deployment_file(tmp_path, {CONFIGURED: _merge({"interval": 1})})
    with _run(tmp_path, deployment) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        _config_set(core, CONFIGURED, ["interval"], 7)
    # WHEN the core runs once without any deployment file, then again with the same one
    with _run(tmp_path, None) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
    with _run(tmp_path, deployment) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        # THEN nothing was applied again
        assert core.config.snapshot(CONFIGURED)["interval"] == 7
    # WHEN a deployment that does not name the component runs, then the first one again
    other_only = tmp_path / "other-only.yaml"
    other_only.write_text(yaml.safe_dump({"components": {OTHER: _merge({"level": 2})}}))
    with _run(tmp_path, other_only) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        assert core.config.snapshot(CONFIGURED)["interval"] == 7
    with _run(tmp_path, deployment) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        # THEN the first one is a new deployment for it again (as on the nucleus): it merges
        assert core.config.snapshot(CONFIGURED)["interval"] == 1


def test_a_merged_value_equal_to_the_old_default_stays_when_the_recipe_default_changes(
    tmp_path: Path,
) -> None:
    recipes = _recipes(tmp_path)
    # GIVEN a deployment that sets interval to 5, which is also the recipe's default
    deployment = _deployment_file(tmp_path, {CONFIGURED: _merge({"interval": 5})})
    with _run(tmp_path, deployment, recipes) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
    # WHEN the recipe's defaults change and the core restarts with the same deployment
    recipe = recipes / "configured.yaml"
    recipe.write_text(
        recipe.read_text().replace("interval: 5", "interval: 10").replace("mode: normal", "mode: eco")
    )
    with _run(tmp_path, deployment, recipes) as core:
        core.wait_for_state(CONFIGURED, "RUNNING")
        configuration = core.config.snapshot(CONFIGURED)
    # THEN the deployment's value stays (it was set, not defaulted); an untouched key follows the recipe
    assert (configuration["interval"], configuration["mode"]) == (5, "eco")


# --- the digest and the record file ---------------------------------------------------------------------
def _entry(document: dict[str, Any]) -> ComponentDeployment:
    return parse_deployment({"components": {"a": document}}, "d.yaml")["a"]


def test_the_digest_ignores_spelling_and_sees_every_change() -> None:
    base = _entry({"configurationUpdate": {"merge": {"x": 1, "y": {"z": [1, 2]}}, "reset": ["/w"]}})
    # the same entry: the API's merge as a JSON string, other key order, other key case
    same = _entry(
        {"ConfigurationUpdate": {"Reset": ["/w"], "MERGE": json.dumps({"y": {"z": [1, 2]}, "x": 1})}}
    )
    assert same.digest() == base.digest()
    changed: list[dict[str, Any]] = [
        {"configurationUpdate": {"merge": {"x": 2, "y": {"z": [1, 2]}}, "reset": ["/w"]}},
        {"configurationUpdate": {"merge": {"x": 1.0, "y": {"z": [1, 2]}}, "reset": ["/w"]}},
        {"configurationUpdate": {"merge": {"x": 1, "y": {"z": [2, 1]}}, "reset": ["/w"]}},
        {"configurationUpdate": {"merge": {"x": 1, "y": {"z": [1, 2]}}, "reset": ["/w", "/v"]}},
        {"configurationUpdate": {"merge": {"x": 1, "y": {"z": [1, 2]}}}},
        {
            "componentVersion": "1.0.1",
            "configurationUpdate": {"merge": {"x": 1, "y": {"z": [1, 2]}}, "reset": ["/w"]},
        },
        {
            "configurationUpdate": {"merge": {"x": 1, "y": {"z": [1, 2]}}, "reset": ["/w"]},
            "runWith": {"systemResourceLimits": {"memory": 1024}},
        },
    ]
    digests = {_entry(document).digest() for document in changed}
    assert base.digest() not in digests and len(digests) == len(changed)
    # keys YAML may give in mixed types do not break the digest (the store refuses them later)
    odd = ComponentDeployment(merge={1: "a", "b": 2})  # type: ignore[dict-item]
    assert odd.digest() == ComponentDeployment(merge={1: "a", "b": 2}).digest()  # type: ignore[dict-item]


def test_the_record_round_trips_and_forgets(tmp_path: Path) -> None:
    a, b = ComponentDeployment(merge={"x": 1}), ComponentDeployment(limits=ResourceLimits(cpus=0.5))
    record = AppliedDeploymentRecord(tmp_path)
    record.save()
    assert not record.path.exists()  # nothing to write yet
    record.remember("a", a)
    record.remember("b", b)
    record.save()
    again = AppliedDeploymentRecord(tmp_path)
    assert again.is_applied("a", a) and again.is_applied("b", b) and not again.is_applied("a", b)
    again.forget("a")
    again.save()
    last = AppliedDeploymentRecord(tmp_path)
    assert (last.knows("a"), last.knows("b")) == (False, True)


def test_a_record_that_cannot_be_saved_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "config").write_text("a file where the config folder should be")
    record = AppliedDeploymentRecord(tmp_path)
    record.remember("a", ComponentDeployment(merge={"x": 1}))
    with caplog.at_level(logging.WARNING, logger="localcore.runner.deployment"):
        record.save()
    assert "event=deployment_record_not_saved" in caplog.text
