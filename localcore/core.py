"""``LocalCore``: one local Greengrass core, composed of its parts.

    ConfigStore (``<root>/config``)   ShadowStore (``<root>/shadows``)   cloud (CloudAdapter)
                 \\                         |                            /
                  IpcServer (``<root>/ipc.socket``)  <-- lifecycle --  Runner (recipes -> processes)
                                     ControlServer (``<root>/control.sock``, for the CLI)

Example::

    with LocalCore(root=Path(".localcore"), recipes=Path("recipes"), thing_name="dev-1") as core:
        core.runner.wait_for_state("com.example.A", "RUNNING", timeout=30)

The ``cloud`` argument is a :data:`~localcore.contracts.CloudFactory`: ``cloud(context) ->
CloudService``, called once the configuration and shadow stores exist. The core starts the
service after the IPC server, gives the runner its ``environment`` hook, lets it add control
commands, and stops it after the components (every part of it typed in ``localcore.contracts``).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from localcore.config.store import ConfigStore
from localcore.contracts import CloudContext, CloudFactory, CloudService, ComponentInfo, Unsubscribe
from localcore.control import CommandError, ControlServer
from localcore.deployment_commands import register_deployment_commands
from localcore.ipc.recording_cloud import RecordingCloudAdapter
from localcore.ipc.server import IpcServer
from localcore.logfmt import kv
from localcore.plugins import ArtifactSource
from localcore.profiles import NucleusProfile, profile_named
from localcore.runner.deployment import (
    ComponentDeployment,
    interpolates_component_configuration,
    load_deployment,
    parse_deployment,
    parse_deployment_document,
)
from localcore.runner.deployment_service import DeploymentService
from localcore.runner.errors import RunnerError
from localcore.runner.interfaces import RunnerOptions, StateListener
from localcore.runner.recipe import recipe_files
from localcore.runner.runner import Runner
from localcore.runner.supervisor import SupervisorSettings
from localcore.runner.update_handshakes import UpdateHandshakes
from localcore.shadows.store import ShadowStore

MAX_SOCKET_PATH = 108

_log = logging.getLogger("localcore.core")


def default_cloud_factory(context: CloudContext) -> CloudService:
    """The cloud a core gets when none is given: in memory, nothing leaves the core."""
    return RecordingCloudAdapter()


class _LifecycleProxy:
    """The IPC server is built before the runner (the runner registers tokens with it): this
    forwards the lifecycle operations to the runner once it exists."""

    def __init__(self) -> None:
        self.runner: Runner | None = None

    def list_components(self) -> list[ComponentInfo]:
        return self.runner.list_components() if self.runner else []

    def get_component(self, name: str) -> ComponentInfo | None:
        return self.runner.get_component(name) if self.runner else None

    def restart_component(self, name: str) -> tuple[bool, str]:
        return self.runner.restart_component(name) if self.runner else (False, "the core is starting")

    def stop_component(self, name: str) -> tuple[bool, str]:
        return self.runner.stop_component(name) if self.runner else (False, "the core is starting")

    def report_state(self, name: str, state: str) -> None:
        if self.runner:
            self.runner.report_state(name, state)


class LocalCore:
    """A local Greengrass core: IPC server, stores, cloud, runner and control channel."""

    def __init__(
        self,
        *,
        root: Path,
        recipes: Path | Sequence[Path],
        thing_name: str,
        deployment: Path | Mapping[str, Any] | None = None,
        only: Iterable[str] | None = None,
        cloud: CloudFactory | None = None,
        region: str = "us-east-1",
        project_root: Path | None = None,
        settings: SupervisorSettings | None = None,
        control: bool = True,
        log_max_bytes: int = 10 * 1024 * 1024,
        artifact_sources: Sequence[ArtifactSource] = (),
        nucleus: str | NucleusProfile | None = None,
    ) -> None:
        """Nothing starts until :meth:`start`. ``recipes``: a folder, or a list of files and folders.
        ``deployment``: a deployment file or an already-parsed ``{"components": {...}}`` mapping;
        a component's ``configurationUpdate`` applies once, not again at each start with the same entry.
        ``artifact_sources``: tried before localcore's own when an artifact URI is resolved (plugins).
        ``nucleus``: the nucleus the core behaves as, ``"classic"`` (default) or ``"lite"``
        (:mod:`localcore.profiles`)."""
        self.nucleus = profile_named(nucleus)
        self.root = Path(root).resolve()
        self.thing_name = thing_name
        self.region = region
        self._recipe_paths = _expand_recipes(recipes)
        self._deployment = _deployment(deployment)
        self._deployment_given = deployment is not None
        self._interpolate_configuration = interpolates_component_configuration(self._deployment)
        self._only = list(only) if only is not None else None
        self._cloud_factory = cloud or default_cloud_factory
        self._project_root = (project_root or Path.cwd()).resolve()
        self._settings = settings or SupervisorSettings()
        self._with_control = control
        self._log_max_bytes = log_max_bytes
        self._artifact_sources = list(artifact_sources)
        self._socket_dir: Path | None = None
        self._log_handler: logging.Handler | None = None
        self._started_at = 0.0
        self._cloud_started = False
        self._state_listeners: list[StateListener] = []
        self._root_lock: IO[str] | None = None
        self.config: ConfigStore
        self.shadows: ShadowStore
        self.cloud: CloudService
        self.ipc: IpcServer
        self.runner: Runner
        # The parts built so far (a start can fail half-way; stop then stops only these).
        self._built_ipc: IpcServer | None = None
        self._built_runner: Runner | None = None
        self.control: ControlServer | None = None
        self.deployments: DeploymentService
        self._built_deployments: DeploymentService | None = None
        self.socket_path = self.root / "ipc.socket"

    # --- start / stop ---------------------------------------------------------------------------------
    def start(self) -> LocalCore:
        """Start every part, then the components (dependencies first). Returns self."""
        from localcore.runner.logs import attach_core_log

        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_root()
        self._log_handler = attach_core_log(self.root)
        self._started_at = time.time()
        _log.info(
            kv(
                event="core_starting",
                root=self.root,
                thing=self.thing_name,
                recipes=len(self._recipe_paths),
                nucleus=self.nucleus.name,
            )
        )
        try:
            self._start_parts()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_parts(self) -> None:
        self.config = ConfigStore(root=self.root)
        self.shadows = ShadowStore(self.root / "shadows")
        self.cloud = self._cloud_factory(
            CloudContext(
                root=self.root,
                thing_name=self.thing_name,
                region=self.region,
                configuration={name: entry.merge or {} for name, entry in self._deployment.items()},
                shadows=self.shadows,
            )
        )
        lifecycle = _LifecycleProxy()
        self.socket_path = self._socket_path()
        self.ipc = IpcServer(
            socket_path=self.socket_path,
            shadows=self.shadows,
            config=self.config,
            cloud=self.cloud,
            lifecycle=lifecycle,
            nucleus=self.nucleus,
        )
        self._built_ipc = self.ipc
        self.shadows.set_publisher(self.ipc.shadow_publisher)
        self.runner = Runner(
            root=self.root,
            thing_name=self.thing_name,
            ipc=self.ipc,
            config=self.config,
            socket_path=self.socket_path,
            # None, not {}: a start without a deployment file is a restart, not an empty deployment.
            deployment=self._deployment if self._deployment_given else None,
            extra_environment=self.cloud.environment,
            options=RunnerOptions(
                region=self.region,
                project_root=self._project_root,
                settings=self._settings,
                log_max_bytes=self._log_max_bytes,
                interpolate_component_configuration=self._interpolate_configuration,
                artifact_sources=self._artifact_sources,
                nucleus=self.nucleus,
            ),
        )
        self._built_runner = lifecycle.runner = self.runner
        for listener in self._state_listeners:
            self.runner.add_state_listener(listener)
        self.runner.load(self._recipe_paths, only=self._only)
        self.deployments = DeploymentService(
            root=self.root, runner=self.runner, config=self.config, handshakes=UpdateHandshakes()
        )
        self._built_deployments = self.deployments
        self.deployments.recover()
        self.ipc.set_deployments(self.deployments)
        self.ipc.start()
        self.cloud.start()
        self._cloud_started = True
        if self._with_control:
            self.control = ControlServer(self.root)
            self._register_commands(self.control)
            self.cloud.register_control(self.control)
            self.control.start()
        self.runner.start()
        self.deployments.start()
        _log.info(
            kv(
                event="core_started",
                components=len(self.runner.list_components()),
                refused=len(self.runner.refused),
            )
        )

    def stop(self) -> None:
        """Stop the components (dependents first), then the parts. Safe to call twice."""
        if self._built_deployments is not None:
            self._built_deployments.stop()
            self._built_deployments = None
        if self._built_runner is not None:
            self._built_runner.stop()
        if self.control is not None:
            self.control.stop()
            self.control = None
        if self._cloud_started:
            self._cloud_started = False
            with contextlib.suppress(Exception):
                self.cloud.stop()
        if self._built_ipc is not None:
            with contextlib.suppress(Exception):
                self._built_ipc.stop()
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None
        if self._root_lock is not None:
            self._root_lock.close()  # closing the file releases the lock
            self._root_lock = None
        if self._log_handler is not None:
            _log.info(kv(event="core_stopped"))
            from localcore.runner.logs import detach_core_log

            detach_core_log(self._log_handler)
            self._log_handler = None

    def __enter__(self) -> LocalCore:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def deployment(self) -> dict[str, ComponentDeployment]:
        """The deployment the core runs with, by component (empty without a deployment file)."""
        return dict(self._deployment)

    # --- views --------------------------------------------------------------------------------------
    def add_state_listener(self, listener: StateListener) -> Unsubscribe:
        """``listener(component, old, new)`` on every state change (for the CLI and a live view).

        Added before :meth:`start`, it also hears the very first transitions.
        """
        runner = self._built_runner
        if runner is None:
            self._state_listeners.append(listener)
            return lambda: (
                self._state_listeners.remove(listener) if listener in self._state_listeners else None
            )
        return runner.add_state_listener(listener)

    def any_broken(self) -> bool:
        """Whether a component is BROKEN or was refused."""
        return bool(self.runner.refused) or any(row.state == "BROKEN" for row in self.runner.status())

    def status(self) -> dict[str, Any]:
        """What ``localcore status`` shows."""
        return {
            "root": str(self.root),
            "thingName": self.thing_name,
            "nucleus": self.nucleus.name,
            "uptimeSeconds": round(time.time() - self._started_at, 1),
            "components": [row.as_dict() for row in self.runner.status()],
        }

    # --- internals ------------------------------------------------------------------------------------
    def _lock_root(self) -> None:
        """One core per root: its sockets, logs and stores would be shared otherwise."""
        handle = (self.root / "core.lock").open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            handle.close()
            raise RunnerError(f"another core is already running with root {self.root}") from err
        self._root_lock = handle

    def _socket_path(self) -> Path:
        path = self.root / "ipc.socket"
        if len(os.fsencode(str(path))) < MAX_SOCKET_PATH:
            return path
        # Unix socket paths are short; pytest's tmp paths are not. Components get the path in
        # their environment, so any location works.
        self._socket_dir = Path(tempfile.mkdtemp(prefix="lc-"))
        return self._socket_dir / "ipc.socket"

    def _register_commands(self, control: ControlServer) -> None:
        control.register("status", lambda args: self.status())
        control.register("restart", lambda args: self._lifecycle_command(self.runner.restart_component, args))
        control.register("stop", lambda args: self._lifecycle_command(self.runner.stop_component, args))
        control.register("config.get", self._config_get)
        control.register("config.set", self._config_set)
        register_deployment_commands(
            control, lambda: self.deployments, lambda: self._deployment, lambda: set(self.runner.recipes)
        )

    def _lifecycle_command(
        self, action: Callable[[str], tuple[bool, str]], args: dict[str, Any]
    ) -> dict[str, Any]:
        name = str(args.get("component", ""))
        succeeded, message = action(name)
        if not succeeded:
            raise CommandError(message)
        return {"component": name, "message": message}

    def _config_get(self, args: dict[str, Any]) -> Any:
        component = str(args.get("component", ""))
        key_path = [str(k) for k in args.get("keyPath", [])]
        try:
            return self.config.get(component, key_path)
        except KeyError as err:
            raise CommandError(str(err.args[0] if err.args else err)) from err

    def _config_set(self, args: dict[str, Any]) -> dict[str, Any]:
        """``config set``: a configuration-only local deployment (the component validates it)."""
        component = str(args.get("component", ""))
        key_path = [str(k) for k in args.get("keyPath", [])]
        if component not in self.runner.recipes:
            raise CommandError(f"unknown component {component!r}")
        if not key_path:
            raise CommandError("expected a key path, e.g. 'interval' or 'mqtt/port'")
        value: Any = args.get("value")
        for key in reversed(key_path):
            value = {key: value}
        document = parse_deployment_document(
            {"components": {component: {"configurationUpdate": {"merge": value}}}}, "config set"
        )
        deployment_id = self.deployments.submit(document, local=True, source="config set")
        record = self.deployments.wait(deployment_id, timeout=float(args.get("timeout", 120)))
        if record is None or record["status"] != "SUCCEEDED":
            details = (record or {}).get("deploymentStatusDetails") or {}
            cause = details.get("deploymentFailureCause") or f"deployment {deployment_id} did not finish"
            raise CommandError(f"refused, nothing stored: {cause} (deployment {deployment_id})")
        return {
            "component": component,
            "keyPath": key_path,
            "value": args.get("value"),
            "deploymentId": deployment_id,
        }


def _expand_recipes(recipes: Path | Sequence[Path]) -> list[Path]:
    paths = [recipes] if isinstance(recipes, str | Path) else list(recipes)
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise RunnerError(f"no recipe file or folder at {path}")
        found.extend(recipe_files(path) if path.is_dir() else [path])
    return found


def _deployment(deployment: Path | Mapping[str, Any] | None) -> dict[str, ComponentDeployment]:
    if deployment is None:
        return {}
    if isinstance(deployment, str | Path):
        return load_deployment(Path(deployment))
    return parse_deployment(dict(deployment), "deployment")
