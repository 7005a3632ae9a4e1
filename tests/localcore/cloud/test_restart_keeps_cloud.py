"""``localcore run`` stopped and started again keeps its cloud: the issue #17 case, end to end.

Configuration set through the cloud shadow (``localcore cloud shadow update``) reached the
device's shadow; the next run's embedded cloud started empty and shadow sync, having synced that
shadow before, took the missing cloud shadow for a cloud-side delete (as ShadowManager's
``FullShadowSyncRequest.execute`` does: not the first sync -> ``handleLocalDelete``) and removed
the device's copy. With the cloud kept under ``<root>/cloud/state/`` both copies survive; with
``--fresh-cloud`` the cloud is empty and the device's copy is a first sync, pushed up.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from localcore.control import control_request
from tests.localcore.cloud.description import DESCRIPTION_FILE

THING = "dev-1"
DESIRED = {"config": {"rateHz": 4, "label": "line-1 ü"}}


def _run(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    (tmp_path / "recipes").mkdir(exist_ok=True)
    command = [
        sys.executable, "-m", "localcore", "run",
        "--recipes", str(tmp_path / "recipes"),
        "--root", str(tmp_path / "root"),
        "--thing-name", THING,
        "--cloud-description", str(DESCRIPTION_FILE),
        "--json", *extra,
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _until(predicate: Any, core: subprocess.Popen[str], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert core.poll() is None, (
            f"the core exited while waiting for {what}: {core.communicate()[1][-2000:]}"
        )
        try:
            found = predicate()
        except Exception:  # the control channel is not up yet
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(core: subprocess.Popen[str]) -> None:
    core.send_signal(signal.SIGINT)
    _, stderr = core.communicate(timeout=60)
    assert core.returncode == 0, stderr[-2000:]


def _core_log(root: Path) -> str:
    path = root / "logs" / "greengrass.log"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _cloud_desired(root: Path) -> Any:
    document = control_request(root, "cloud.shadow.get", {"thing": THING, "name": "config"})
    return ((document or {}).get("state") or {}).get("desired")


def _local_desired(root: Path) -> Any:
    # The device's shadow as the core stores it (ShadowFiles.path_for), read from outside the core.
    path = root / "shadows" / "shadows" / THING / "named" / "config.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("state", {}).get("desired")


def test_a_cloud_set_shadow_survives_a_core_restart_on_both_sides(tmp_path: Path) -> None:
    root = tmp_path / "root"
    core = _run(tmp_path)
    try:
        _until(lambda: control_request(root, "cloud.status", {}), core, "the cloud")
        control_request(
            root,
            "cloud.shadow.update",
            {"thing": THING, "name": "config", "document": json.dumps({"state": {"desired": DESIRED}})},
        )
        _until(lambda: _local_desired(root) == DESIRED, core, "the shadow synced to the device")
    finally:
        _stop(core)

    seen = len(_core_log(root))
    again = _run(tmp_path)
    try:
        _until(lambda: control_request(root, "cloud.status", {}), again, "the cloud")
        assert _cloud_desired(root) == DESIRED
        _until(lambda: control_request(root, "cloud.status", {})["shadowsPending"] == [], again, "a sync")
        assert _local_desired(root) == DESIRED
    finally:
        _stop(again)
    assert "shadow_deleted_locally" not in _core_log(root)[seen:]
    seen = len(_core_log(root))

    fresh = _run(tmp_path, "--fresh-cloud")
    try:
        _until(lambda: _cloud_desired(root) == DESIRED, fresh, "the device's copy pushed to the fresh cloud")
        assert _local_desired(root) == DESIRED
    finally:
        _stop(fresh)
    log = _core_log(root)[seen:]
    assert "shadow_deleted_locally" not in log and "event=shadow_first_sync" in log
