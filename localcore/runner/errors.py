"""Errors raised by the runner: each names what is wrong, where, and what was expected."""

from __future__ import annotations

from pathlib import Path


class RunnerError(Exception):
    """Base class of everything the runner raises on purpose."""


class RecipeError(RunnerError):
    """A recipe file that cannot be used: names the file, the key path and what was expected.

    Example message: ``recipes/x.yaml: Manifests[0].Lifecycle.Run.Timeout: expected a number of
    seconds, got 'soon'``.
    """

    def __init__(self, source: Path | str, key_path: str, problem: str) -> None:
        self.source = str(source)
        self.key_path = key_path
        self.problem = problem
        where = f"{self.source}: {key_path}" if key_path else self.source
        super().__init__(f"{where}: {problem}")


class DependencyError(RunnerError):
    """A dependency that cannot be satisfied: missing, wrong version, a cycle, or a refused recipe."""

    def __init__(self, component: str, problem: str) -> None:
        self.component = component
        self.problem = problem
        super().__init__(f"{component}: {problem}")


class ArtifactError(RunnerError):
    """An artifact that cannot be found, copied or unarchived."""


class DeploymentError(RunnerError):
    """A deployment file that cannot be used: names the file, the key path and what was expected."""

    def __init__(self, source: Path | str, key_path: str, problem: str) -> None:
        self.source = str(source)
        self.key_path = key_path
        where = f"{self.source}: {key_path}" if key_path else self.source
        super().__init__(f"{where}: {problem}")


class UnknownComponentError(RunnerError):
    """A command named a component the core does not run."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown component {name!r}")
