"""Helpers: recipes of the participant component, written per test with a chosen version."""

from __future__ import annotations

import sys
from pathlib import Path

PARTICIPANT = Path(__file__).resolve().parent / "participant.py"
NAME = "test.deploy.Participant"


def write_recipe(
    folder: Path, version: str = "1.0.0", *, crash: bool = False, interval: float = 1.0, cli: bool = False
) -> Path:
    """A participant recipe in ``folder``; ``crash``: this version exits at start."""
    folder.mkdir(parents=True, exist_ok=True)
    access = ""
    if cli:
        access = """
    accessControl:
      aws.greengrass.Cli:
        "test:cli:1":
          policyDescription: local deployments
          operations: ["aws.greengrass#CreateLocalDeployment", "aws.greengrass#ListLocalDeployments",
                       "aws.greengrass#GetLocalDeploymentStatus", "aws.greengrass#CancelLocalDeployment"]
          resources: ["*"]"""
    path = folder / f"{NAME}-{version}.yaml"
    path.write_text(
        f"""RecipeFormatVersion: "2020-01-25"
ComponentName: {NAME}
ComponentVersion: "{version}"
ComponentConfiguration:
  DefaultConfiguration:
    interval: {interval}
    deferFlag: ""{access}
Manifests:
  - Lifecycle:
      Run: "{sys.executable} {PARTICIPANT}{" --crash" if crash else ""}"
""",
        encoding="utf-8",
    )
    return path
