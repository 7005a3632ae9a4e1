"""A device build runs under localcore as on a device: Install builds the venv from the artifact's
wheels with no index, Run starts the component from the artifact with only that venv's packages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bundlebuild import build as bb


def test_the_built_sensing_component_installs_and_runs(
    amd64_build: dict[str, bb.BuiltComponent], local_core: Callable[..., Any]
) -> None:
    built = amd64_build["com.edgebundle.Sensing"]
    project_root = built.recipe.parent.parent.parent  # <root>/greengrass-build/recipes/<file>
    core = local_core(built.recipe, project_root=project_root, thing_name="dev-1")
    core.wait_for_state("com.edgebundle.Sensing", "RUNNING", timeout=300)
    core.wait_for_log("com.edgebundle.Sensing", "event=sensing_configured", timeout=120)
    log = core.log("com.edgebundle.Sensing")
    assert "--no-index" in log, "the Install step installed from the artifact's wheels"
    venv_python = core.root / "work" / "com.edgebundle.Sensing" / "venv" / "bin" / "python"
    assert venv_python.exists()
