"""What the runner needs from its collaborators, and what it gives back (status rows, options)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from localcore.contracts import ConfigListener, Unsubscribe
from localcore.plugins import ArtifactSource
from localcore.runner.supervisor import SupervisorSettings

if TYPE_CHECKING:
    from localcore.profiles.base import NucleusProfile

StateListener = Callable[[str, str, str], None]
"""``listener(component, old_state, new_state)``."""


class ComponentRegistry(Protocol):
    """What the runner needs from the IPC server: tokens and policies per component."""

    def register_component(self, name: str, access_control: Any = None) -> str: ...

    def unregister_component(self, name: str) -> None: ...

    def update_access_control(self, name: str, access_control: Any) -> None: ...


class RunnerConfiguration(Protocol):
    """What the runner needs from the configuration store."""

    def set_defaults(self, component: str, defaults: dict[str, Any]) -> None: ...

    def apply_deployment_update(
        self, component: str, *, merge: dict[str, Any] | None = None, reset: list[str] | None = None
    ) -> None: ...

    def reset(self, component: str, paths: list[str]) -> None: ...

    def snapshot(self, component: str) -> dict[str, Any]: ...

    def subscribe(self, component: str, key_path: list[str], callback: ConfigListener) -> Unsubscribe: ...


@dataclass
class ComponentStatus:
    """One row of ``localcore status``."""

    name: str
    version: str
    state: str
    restarts: int
    detail: str = ""
    log: str = ""
    limits: str = "none"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass
class RunnerOptions:
    """Settings with defaults (the nucleus'); tests shorten the timings."""

    region: str = "us-east-1"
    project_root: Path = field(default_factory=Path.cwd)
    settings: SupervisorSettings = field(default_factory=SupervisorSettings)
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 3
    # The nucleus' interpolateComponentConfiguration (default false): recipe variables in
    # accessControl are replaced only when it is true.
    interpolate_component_configuration: bool = False
    # Tried before localcore's own (file:, GDK's greengrass-build/ layout); from plugins.
    artifact_sources: Sequence[ArtifactSource] = ()
    # Which nucleus the core behaves as (localcore.profiles; None: classic).
    nucleus: NucleusProfile | None = None
