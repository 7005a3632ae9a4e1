"""The typed form of a recipe, reduced to what this machine runs (see :mod:`localcore.runner.recipe`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Step:
    """One lifecycle step: a shell script with optional Timeout (s), Skipif and step-level Setenv."""

    script: str
    timeout: float | None = None
    skipif: tuple[str, str] | None = None  # ("onpath", exe) or ("exists", path)
    setenv: Mapping[str, str] = field(default_factory=dict)
    requires_privilege: bool = False


@dataclass(frozen=True)
class Lifecycle:
    """The lifecycle the runner executes for this machine."""

    setenv: Mapping[str, str] = field(default_factory=dict)
    bootstrap: Step | None = None
    install: Step | None = None
    startup: Step | None = None
    run: Step | None = None
    shutdown: Step | None = None
    recover: Step | None = None


@dataclass(frozen=True)
class Artifact:
    """An artifact of the selected manifest."""

    uri: str
    unarchive: str = "NONE"  # NONE or ZIP

    @property
    def file_name(self) -> str:
        """The artifact's file name (the last path segment of its URI)."""
        return self.uri.rstrip("/").rsplit("/", 1)[-1].split(":", 1)[-1]


@dataclass(frozen=True)
class Dependency:
    """One entry of ``ComponentDependencies``."""

    name: str
    version_requirement: str = "*"
    dependency_type: str = "HARD"


@dataclass(frozen=True)
class Recipe:
    """A validated recipe, reduced to what this machine runs."""

    source: Path
    name: str
    version: str
    lifecycle: Lifecycle
    description: str = ""
    publisher: str = ""
    component_type: str = "aws.greengrass.generic"
    default_configuration: Mapping[str, Any] = field(default_factory=dict)
    dependencies: Mapping[str, Dependency] = field(default_factory=dict)
    artifacts: tuple[Artifact, ...] = ()
    platform: Mapping[str, str] = field(default_factory=dict)
