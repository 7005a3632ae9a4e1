"""``localcore deploy``/``deployments``/``config set`` through the control socket, and what a restart
after a kill -9 in mid-deployment leaves (reference greengrass-deployments.md section 3.4: the
nucleus leaves the record IN_PROGRESS for good; localcore settles it, see
``localcore.runner.deployment_service``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcore.cli import main
from localcore.runner.deployment_records import DeploymentRecords
from localcore.testing import running_core
from tests.localcore.deployments.conftest import NAME, write_recipe


def test_deploy_and_deployments_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipes = tmp_path / "recipes"
    write_recipe(recipes)
    with running_core(tmp_path, recipes, control=True) as core:
        core.wait_for_log(NAME, "participant ready")
        root = str(core.core.root)
        good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
        good.write_text(
            yaml.safe_dump({"components": {NAME: {"configurationUpdate": {"merge": {"interval": 4}}}}})
        )
        bad.write_text(
            yaml.safe_dump({"components": {NAME: {"configurationUpdate": {"merge": {"interval": -4}}}}})
        )
        assert main(["deploy", str(good), "--root", root]) == 0
        first = capsys.readouterr().out.splitlines()[0]
        assert first.endswith(": SUCCEEDED")
        assert main(["deploy", str(bad), "--root", root]) == 1
        out = capsys.readouterr().out
        assert "Detailed Status: FAILED_NO_STATE_CHANGE" in out
        assert "Deployment Error Stack: DEPLOYMENT_FAILURE, COMPONENT_CONFIGURATION_NOT_VALID" in out
        assert "interval: expected a positive number of seconds, got -4" in out
        failed_id = out.splitlines()[0].split(":")[0]
        assert main(["deployments", "status", failed_id, "--root", root, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["status"] == "FAILED"
        assert main(["deployments", "list", "--root", root]) == 0
        listing = capsys.readouterr().out.splitlines()
        assert len(listing) == 2 and "SUCCEEDED" in listing[0] and "FAILED" in listing[1]
        assert core.config.get(NAME, ["interval"]) == 4


def test_deploy_refuses_a_misspelt_key_and_an_unknown_component(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipes = tmp_path / "recipes"
    write_recipe(recipes)
    with running_core(tmp_path, recipes, control=True) as core:
        root = str(core.core.root)
        misspelt, unknown = tmp_path / "misspelt.yaml", tmp_path / "unknown.yaml"
        misspelt.write_text(yaml.safe_dump({"components": {NAME: {"configurationUpdat": {"merge": {}}}}}))
        unknown.write_text(yaml.safe_dump({"components": {"test.deploy.Participnt": {}}}))
        assert main(["deploy", str(misspelt), "--root", root]) == 1
        assert (
            "unknown key 'configurationUpdat' (did you mean 'configurationUpdate'?)"
            in capsys.readouterr().err
        )
        assert main(["deploy", str(unknown), "--root", root]) == 1
        assert (
            f"unknown component 'test.deploy.Participnt': no recipe defines it (the core runs: {NAME})"
            in (capsys.readouterr().err)
        )
        assert core.core.deployments.records.all() == []


def test_config_set_a_value_the_component_rejects_is_refused_and_not_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipes = tmp_path / "recipes"
    write_recipe(recipes)
    with running_core(tmp_path, recipes, control=True) as core:
        core.wait_for_log(NAME, "participant ready")
        root = str(core.core.root)
        assert main(["config", "set", NAME, "interval", "0", "--root", root]) == 1
        assert "interval: expected a positive number of seconds, got 0" in capsys.readouterr().err
        assert core.config.get(NAME, ["interval"]) == 1.0
        assert main(["config", "set", NAME, "interval", "2", "--root", root]) == 0
        assert core.config.get(NAME, ["interval"]) == 2


def _interrupted(root: Path, stage: str | None, policy: str, status: str = "IN_PROGRESS") -> str:
    records = DeploymentRecords(root)
    deployment_id = f"00000000-0000-0000-0000-00000000000{len(records.all())}"
    record: dict[str, Any] = {
        "deploymentId": deployment_id,
        "status": status,
        "createdOn": "01-01-2026 00:00:00 UTC",
        "failureHandlingPolicy": policy,
        "stage": stage,
        "snapshot": {"recipes": {NAME: None}, "configurations": {NAME: {"interval": 1.0, "deferFlag": ""}}},
    }
    records.add(record)
    return deployment_id


def test_a_restart_after_a_kill_in_mid_deployment_rolls_back_and_says_so(tmp_path: Path) -> None:
    """The state a kill -9 leaves: the store has the merged value, the record says IN_PROGRESS."""
    recipes = tmp_path / "recipes"
    write_recipe(recipes)
    with running_core(tmp_path, recipes) as core:
        core.wait_for_log(NAME, "participant ready")
        core.config.merge(NAME, {"interval": 8})  # what the interrupted merge had stored
    root = tmp_path / "core"
    rolled = _interrupted(root, "APPLYING", "ROLLBACK")
    kept = _interrupted(root, "APPLYING", "DO_NOTHING")
    untouched = _interrupted(root, "RESOLVING", "ROLLBACK")
    queued = _interrupted(root, None, "ROLLBACK", status="QUEUED")
    with running_core(tmp_path, recipes) as core:
        records = {r["deploymentId"]: r for r in core.core.deployments.records.all()}
        assert {r["status"] for r in records.values()} == {"FAILED"}
        detail = {i: records[i]["deploymentStatusDetails"]["detailedDeploymentStatus"] for i in records}
        assert detail[rolled] == "FAILED_ROLLBACK_COMPLETE"
        assert detail[kept] == "FAILED_ROLLBACK_NOT_REQUESTED"
        assert detail[untouched] == detail[queued] == "FAILED_NO_STATE_CHANGE"
        assert (
            "the device is back where it was"
            in records[rolled]["deploymentStatusDetails"]["deploymentFailureCause"]
        )
        # The ROLLBACK one restored the snapshot (recovery runs in record order, the last write wins).
        assert core.config.get(NAME, ["interval"]) == 1.0
