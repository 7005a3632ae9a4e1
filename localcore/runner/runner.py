"""The runner: loads recipes, checks dependencies, and supervises every component (LifecycleService).

Example::

    runner = Runner(root=root, thing_name="dev-1", ipc=server, config=store, socket_path=root / "ipc.socket")
    runner.load(recipe_files(Path("recipes")))
    runner.start()
    runner.wait_for_state("com.example.A", "RUNNING", timeout=10)
    runner.stop()
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from localcore.contracts import ComponentInfo, Unsubscribe
from localcore.logfmt import kv
from localcore.runner.artifacts import ArtifactResolver
from localcore.runner.defaults import DefaultsRecord, apply_recipe_defaults
from localcore.runner.dependencies import dependency_levels, plan_start_order, refuse_dependents
from localcore.runner.deployment import ComponentDeployment
from localcore.runner.deployment_apply import DeploymentApplier
from localcore.runner.environment import ExtraEnvironment, build_environment, nucleus_variables
from localcore.runner.errors import (
    RecipeError,
    RunnerError,
    UnknownComponentError,
)
from localcore.runner.interfaces import (
    ComponentRegistry,
    ComponentStatus,
    RunnerConfiguration,
    RunnerOptions,
    StateListener,
)
from localcore.runner.limits import LimitEnforcer, ResourceLimits
from localcore.runner.loading import load_recipes
from localcore.runner.logs import component_log, log_path
from localcore.runner.recipe import Recipe, Step
from localcore.runner.supervisor import (
    BROKEN,
    ERRORED,
    READY_STATES,
    RUNNING,
    STARTING,
    ComponentSupervisor,
    LaunchContext,
)
from localcore.runner.variables import CROSS_COMPONENT, SAME_COMPONENT, Interpolator, work_path

_log = logging.getLogger("localcore.runner")


class Runner:
    """Every component of one core, from recipes to processes. Implements ``LifecycleService``.

    ``deployment`` (None: the core runs without one) is applied as the nucleus applies a
    deployment: once. A component's ``configurationUpdate`` is applied at a start only if its entry
    differs from the one last applied under ``root`` (see :class:`AppliedDeploymentRecord`), so
    values changed since then survive a restart.
    """

    def __init__(
        self,
        *,
        root: Path,
        thing_name: str,
        ipc: ComponentRegistry,
        config: RunnerConfiguration,
        socket_path: Path,
        deployment: Mapping[str, ComponentDeployment] | None = None,
        extra_environment: ExtraEnvironment | None = None,
        options: RunnerOptions | None = None,
    ) -> None:
        self.root = root.resolve()
        self.thing_name = thing_name
        self._ipc = ipc
        self._config = config
        self._socket_path = socket_path
        self._deployment = dict(deployment or {})
        self._deployments = DeploymentApplier(self.root, config, with_deployment=deployment is not None)
        self._extra_environment = extra_environment
        self._options = options or RunnerOptions()
        self._wake = threading.Condition()
        self._recipes: dict[str, Recipe] = {}
        self._refused: dict[str, RunnerError] = {}
        self._order: list[str] = []
        self._supervisors: dict[str, ComponentSupervisor] = {}
        self._tokens: dict[str, str] = {}
        self._listeners: list[StateListener] = []
        self._unsubscribes: list[Unsubscribe] = []
        self._limits = LimitEnforcer.detect("core")
        self._artifacts = ArtifactResolver(
            self.root, self._options.project_root, self._options.artifact_sources
        )
        self._defaults_record = DefaultsRecord(self.root)
        self._literal_variables_noted: set[str] = set()
        self._interpolator = Interpolator(
            root=self.root,
            thing_name=thing_name,
            versions={},
            dependencies={},
            configuration=self._configuration_of,
        )

    # --- loading ------------------------------------------------------------------------------------
    def load(self, recipe_paths: Iterable[Path], only: Iterable[str] | None = None) -> None:
        """Load recipes and plan the start order; refused components are kept with their reason."""
        result = load_recipes(
            recipe_paths, only=only, deployment=self._deployment, profile=self._options.nucleus
        )
        loaded = result.recipes
        self._refused.update(result.refused)
        plan = plan_start_order(loaded, self._refused)
        self._refused = plan.refused
        for name, reason in plan.refused.items():
            if name in loaded:
                _log.error(kv(event="component_refused", component=name, error=reason))
        self._recipes = loaded
        self._order = plan.order
        self._interpolator = Interpolator(
            root=self.root,
            thing_name=self.thing_name,
            versions={name: recipe.version for name, recipe in loaded.items()},
            dependencies={name: set(recipe.dependencies) for name, recipe in loaded.items()},
            configuration=self._configuration_of,
        )

    # --- running ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Configure, register and start every runnable component, dependencies first."""
        _log.info(kv(event="resource_limits", mechanism=self._limits.mechanism))
        _log.info(
            kv(
                event="nucleus_settings",
                interpolateComponentConfiguration=self._options.interpolate_component_configuration,
            )
        )
        for name in list(self._order):
            recipe = self._recipes[name]
            try:
                self._prepare(recipe)
            except RunnerError as failure:
                self._refuse(name, failure)
        refuse_dependents(self._recipes, self._refused)
        self._defaults_record.save()
        self._deployments.save()
        for name in list(self._order):
            if name in self._refused:
                self._supervisors.pop(name, None)
                continue
            self._supervisors[name].start()

    def _refuse(self, name: str, failure: RunnerError) -> None:
        self._refused[name] = failure
        _log.error(kv(event="component_refused", component=name, error=failure))

    def _prepare(self, recipe: Recipe) -> None:
        """Configuration, artifacts, IPC identity and launch context of one component.

        Raises :class:`RunnerError` (naming the recipe and key) for anything that refuses it.
        """
        name = recipe.name
        entry = self._deployment.get(name)
        apply_reason = self._deployments.reason_to_apply(name, entry)
        # A key the (already applied) deployment merged is customized, even if its value happens
        # to equal the old default.
        customized = entry.merge if entry is not None and entry.merge and apply_reason is None else {}
        apply_recipe_defaults(self._config, self._defaults_record, recipe, customized)
        self._deployments.apply(name, entry, apply_reason)
        self._artifacts.prepare(recipe)
        cwd = work_path(self.root, name)
        try:
            cwd.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunnerError(f"{name}: cannot create its work folder {cwd}: {err}") from err
        try:
            self._tokens[name] = self._ipc.register_component(name, self._access_control(name))
        except Exception as err:  # the IPC server's PolicyError, or anything else it refuses
            raise RecipeError(
                recipe.source, "ComponentConfiguration.DefaultConfiguration.accessControl", str(err)
            ) from err
        self._unsubscribes.append(self._config.subscribe(name, [], self._on_access_control_change))
        limits = entry.limits if entry is not None else ResourceLimits()
        preexec, described = self._limits.preexec(name, limits)
        if limits:
            _log.info(kv(event="component_limits", component=name, enforced=described))
        output = component_log(
            self.root, name, max_bytes=self._options.log_max_bytes, backups=self._options.log_backups
        )
        context = LaunchContext(
            recipe=recipe,
            cwd=cwd,
            output=output,
            environment=lambda step, name=name: self._environment(name, step),  # type: ignore[misc]
            interpolate=lambda text, name=name: self._interpolator.interpolate(name, text),  # type: ignore[misc]
            unready_dependencies=lambda name=name: self._unready_dependencies(name),  # type: ignore[misc]
            install_markers=self.root / "work" / ".installed",
            preexec=preexec,
            limits_description=described,
            settings=self._options.settings,
        )
        self._supervisors[name] = ComponentSupervisor(context, self._wake, self._on_state)

    def stop(self, timeout: float = 60.0) -> None:
        """Stop every component, dependents first, and wait for them (at most ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        # Level by level from the top of the dependency graph; a level stops all at once, so one
        # slow Shutdown does not add up with every other component's.
        for level in reversed(dependency_levels(self._order, self._recipes)):
            stopping = [self._supervisors[name] for name in level if name in self._supervisors]
            for supervisor in stopping:
                supervisor.shutdown()
            for supervisor in stopping:
                supervisor.join(max(0.1, deadline - time.monotonic()))
        for unsubscribe in self._unsubscribes:
            unsubscribe()
        self._unsubscribes.clear()
        for name, supervisor in self._supervisors.items():
            supervisor.context.output.close()
            self._ipc.unregister_component(name)
        self._limits.cleanup()

    # --- deployments on a running core ------------------------------------------------------------------
    def replace_component(self, recipe: Recipe, before_start: Callable[[], None] | None = None) -> None:
        """Stop ``recipe``'s component (if it runs), then prepare and start it from ``recipe``.

        A deployment's version change or addition: the new version's install step runs (its install
        marker is per version), ``before_start`` runs between preparing and starting (a deployment
        merges its configuration there), and the component starts with the new recipe.

        Raises:
            RunnerError: the new recipe cannot be prepared (it is then refused, not started).
        """
        name = recipe.name
        self._retire(name)
        self._recipes[name] = recipe
        self._refused.pop(name, None)
        if name not in self._order:
            self._order.append(name)
        self._interpolator = Interpolator(
            root=self.root,
            thing_name=self.thing_name,
            versions={n: r.version for n, r in self._recipes.items()},
            dependencies={n: set(r.dependencies) for n, r in self._recipes.items()},
            configuration=self._configuration_of,
        )
        try:
            self._prepare(recipe)
        except RunnerError as failure:
            self._refuse(name, failure)
            raise
        self._defaults_record.save()
        if before_start is not None:
            before_start()
        self._supervisors[name].start()

    def remove_component(self, name: str) -> None:
        """Stop a component and forget it (a deployment removed it)."""
        self._retire(name)
        self._recipes.pop(name, None)
        self._refused.pop(name, None)
        if name in self._order:
            self._order.remove(name)
        with self._wake:
            self._wake.notify_all()

    def _retire(self, name: str, timeout: float = 30.0) -> None:
        supervisor = self._supervisors.pop(name, None)
        if supervisor is None:
            return
        supervisor.shutdown()
        supervisor.join(timeout)
        supervisor.context.output.close()
        self._ipc.unregister_component(name)
        self._tokens.pop(name, None)

    def states(self) -> dict[str, str]:
        """Every supervised component's state, by name."""
        return {name: supervisor.state for name, supervisor in list(self._supervisors.items())}

    # --- state ----------------------------------------------------------------------------------------
    def add_state_listener(self, listener: StateListener) -> Unsubscribe:
        """``listener(component, old, new)`` on every state change, in order, from the supervisor's thread.

        Listeners run while the runner's state lock is held: keep them quick, and never wait in one
        for another component's state change.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _on_state(self, name: str, old: str, new: str) -> None:
        level = logging.ERROR if new in (ERRORED, BROKEN) else logging.INFO
        _log.log(level, kv(event="state_change", component=name, old=old, new=new))
        if new in (ERRORED, BROKEN):
            self._restart_hard_dependents(name)
        for listener in list(self._listeners):
            try:
                listener(name, old, new)
            except Exception as err:  # a listener's bug must not stop a component's lifecycle
                _log.exception(kv(event="state_listener_failed", error=err))

    def _restart_hard_dependents(self, failed: str) -> None:
        """The nucleus restarts a component when a HARD dependency fails; it then waits for it again."""
        for name, supervisor in self._supervisors.items():
            dep = self._recipes[name].dependencies.get(failed)
            if dep is not None and dep.dependency_type == "HARD" and supervisor.state in (STARTING, RUNNING):
                _log.info(kv(event="restart_dependent", component=name, dependency=failed))
                supervisor.restart()

    def state(self, name: str) -> str:
        """A component's current state; raises :class:`UnknownComponentError`."""
        return self._supervisor(name).state

    def wait_for_state(self, name: str, states: str | Iterable[str], timeout: float) -> bool:
        """Wait until ``name`` is in one of ``states``; whether it got there in time."""
        wanted = {states} if isinstance(states, str) else set(states)
        supervisor = self._supervisor(name)
        with self._wake:
            return self._wake.wait_for(lambda: supervisor.state in wanted, timeout=timeout)

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait (woken by state changes) until ``predicate()``; whether it became true in time."""
        with self._wake:
            return self._wake.wait_for(predicate, timeout=timeout)

    @property
    def refused(self) -> dict[str, RunnerError]:
        """Components that will not run, with the error that says why."""
        return dict(self._refused)

    def read_recipe(self, path: Path) -> Recipe:
        """Read one recipe file as this core's nucleus does (its profile's manifest selection and
        key rules: under nucleus lite a recipe without a ``runtime`` manifest is refused).

        Raises:
            RecipeError: the nucleus would refuse it; names the file and the key.
        """
        from localcore.profiles import profile_named

        return profile_named(self._options.nucleus).load_recipe(path)

    @property
    def recipes(self) -> dict[str, Recipe]:
        """Every loaded recipe, by component name."""
        return dict(self._recipes)

    def token(self, name: str) -> str:
        """A running component's SVCUID token."""
        if name not in self._tokens:
            raise UnknownComponentError(name)
        return self._tokens[name]

    def status(self) -> list[ComponentStatus]:
        """Every component the core knows, runnable or refused."""
        rows = [
            ComponentStatus(
                name=name,
                version=self._recipes[name].version,
                state=supervisor.state,
                restarts=supervisor.restarts,
                detail=supervisor.status_detail,
                log=str(log_path(self.root, name)),
                limits=supervisor.context.limits_description,
            )
            for name, supervisor in self._supervisors.items()
        ]
        for name, err in self._refused.items():
            version = self._recipes[name].version if name in self._recipes else ""
            rows.append(
                ComponentStatus(name=name, version=version, state="REFUSED", restarts=0, detail=str(err))
            )
        return sorted(rows, key=lambda row: row.name)

    # --- LifecycleService -------------------------------------------------------------------------------
    def list_components(self) -> list[ComponentInfo]:
        """Every component the core runs (not the aws.greengrass.* ones it stands in for)."""
        return [self._info(name) for name in sorted(self._supervisors)]

    def get_component(self, name: str) -> ComponentInfo | None:
        """One component, or None."""
        return self._info(name) if name in self._supervisors else None

    def restart_component(self, name: str) -> tuple[bool, str]:
        """RestartComponent."""
        if name not in self._supervisors:
            return False, f"component {name} not found"
        return self._supervisors[name].restart()

    def stop_component(self, name: str) -> tuple[bool, str]:
        """StopComponent."""
        if name not in self._supervisors:
            return False, f"component {name} not found"
        return self._supervisors[name].stop()

    def report_state(self, name: str, state: str) -> None:
        """UpdateState from the component (RUNNING or ERRORED)."""
        if name in self._supervisors:
            self._supervisors[name].report_state(state)

    # --- internals ------------------------------------------------------------------------------------
    def _info(self, name: str) -> ComponentInfo:
        return ComponentInfo(
            name=name,
            version=self._recipes[name].version,
            state=self._supervisors[name].state,
            configuration=self._configuration_of(name),
        )

    def _supervisor(self, name: str) -> ComponentSupervisor:
        if name not in self._supervisors:
            raise UnknownComponentError(name)
        return self._supervisors[name]

    def _configuration_of(self, name: str) -> dict[str, Any]:
        try:
            return self._config.snapshot(name)
        except KeyError:
            return {}

    def _access_control(self, name: str) -> Any:
        """``name``'s accessControl as the IPC server enforces it.

        Its recipe variables are replaced only when the nucleus' interpolateComponentConfiguration
        is true; otherwise ``{iot:thingName}`` stays literal and matches no real resource, as on a
        device whose deployment does not set it (the core's log says so once per component).
        """
        policy = self._configuration_of(name).get("accessControl")
        if policy is None:
            return None
        if self._options.interpolate_component_configuration:
            return self._interpolator.interpolate_tree(name, policy)
        literal = sorted(set(_variables_in(policy)))
        if literal and name not in self._literal_variables_noted:
            self._literal_variables_noted.add(name)
            _log.warning(
                kv(
                    event="access_control_variables_not_interpolated",
                    component=name,
                    variables=",".join(literal),
                    hint="the nucleus setting interpolateComponentConfiguration is false: these "
                    "resources match only their literal text",
                )
            )
        return policy

    def _on_access_control_change(self, component: str, key_path: list[str]) -> None:
        # Subscribed to the whole tree: the store refuses subscriptions to keys that do not exist yet.
        if not key_path or key_path[0].lower() == "accesscontrol":
            self._ipc.update_access_control(component, self._access_control(component))

    def _unready_dependencies(self, name: str) -> list[str]:
        unready = []
        for dep in self._recipes[name].dependencies.values():
            if dep.dependency_type != "HARD" or dep.name not in self._recipes:
                continue  # SOFT ones are not waited for; stand-ins are always ready
            supervisor = self._supervisors.get(dep.name)
            state = supervisor.state if supervisor is not None else "REFUSED"
            if state not in READY_STATES:
                unready.append(f"{dep.name} ({state})")
        return unready

    def _environment(self, name: str, step: Step | None) -> dict[str, str]:
        recipe = self._recipes[name]
        token = self._tokens[name]
        cwd = work_path(self.root, name)
        nucleus = nucleus_variables(
            socket_path=self._socket_path,
            cwd=cwd,
            token=token,
            thing_name=self.thing_name,
            region=self._options.region,
        )
        if self._options.nucleus is not None:
            nucleus = self._options.nucleus.environment(nucleus)
        extra = (
            self._extra_environment(name, token, list(recipe.dependencies)) if self._extra_environment else {}
        )
        return build_environment(
            base=os.environ,
            nucleus=nucleus,
            extra=extra,
            lifecycle_setenv=recipe.lifecycle.setenv,
            step_setenv=step.setenv if step is not None else {},
            interpolate=lambda text: self._interpolator.interpolate(name, text),
        )


def _variables_in(value: Any) -> Iterable[str]:
    """Every recipe variable (``{iot:thingName}``, ``{A:configuration:/x}``) in a JSON-like tree."""
    if isinstance(value, str):
        yield from (match.group(0) for match in CROSS_COMPONENT.finditer(value))
        yield from (match.group(0) for match in SAME_COMPONENT.finditer(value))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _variables_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _variables_in(item)
