"""What a component's supervisor is given: its launch context (from the runner) and the timings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from localcore.runner.logs import ComponentLog
from localcore.runner.recipe import Recipe, Step


@dataclass
class SupervisorSettings:
    """Timings: the nucleus' defaults, shortened in tests."""

    backoff_base: float = 1.0
    backoff_max: float = 30.0
    stop_grace: float = 5.0
    error_reset_seconds: float = 3600.0
    max_errors: int = 3
    poll_interval: float = 0.05


@dataclass
class LaunchContext:
    """What a supervisor needs from the runner to start one component's steps."""

    recipe: Recipe
    cwd: Path
    output: ComponentLog
    environment: Callable[[Step | None], dict[str, str]]
    interpolate: Callable[[str], str]
    unready_dependencies: Callable[[], list[str]]  # HARD dependencies not RUNNING/FINISHED, as "name (STATE)"
    install_markers: Path
    preexec: Callable[[], None] | None = None
    limits_description: str = "none"
    settings: SupervisorSettings = field(default_factory=SupervisorSettings)
