"""One deployment, applied to a running core in the nucleus' order (reference
greengrass-deployments.md section 2, its table's steps 6-21):

1. resolve versions: each named version is the running one or a recipe in ``recipeDirectoryPath``;
2. thing-group rehearsal (NOTIFY_COMPONENTS) only: PreComponentUpdateEvent rounds until nobody
   defers (no cap on rounds, trap 2); a local deployment sends none (trap 1);
3. validation of each changed configuration of a component whose version stays (trap 5); a
   REJECTED or a timeout fails with FAILED_NO_STATE_CHANGE and changes nothing (traps 6, 7);
4. snapshot what is in effect, then merge the configuration (no restart, trap 8), reinstall
   components whose version changes, add and remove components;
5. health wait: only BROKEN fails it, with no timeout (trap 9);
6. on a failure after the merge: ROLLBACK restores versions and configuration
   (FAILED_ROLLBACK_COMPLETE), DO_NOTHING keeps them (FAILED_ROLLBACK_NOT_REQUESTED);
7. PostComponentUpdateEvent (rehearsal only), also on failure and cancel (trap 4).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from localcore.logfmt import kv
from localcore.runner.deployment import DeploymentDocument
from localcore.runner.deployment_proposal import propose_configuration
from localcore.runner.errors import RecipeError
from localcore.runner.recipe import RECIPE_SUFFIXES, Recipe
from localcore.runner.update_handshakes import UpdateHandshakes

_log = logging.getLogger("localcore.deployments")

LOCAL_GROUP = "LOCAL_DEPLOYMENT"
HEALTHY = ("RUNNING", "FINISHED")
HEALTH_SETTLE_SECONDS = 2.0


class DeploymentFailure(Exception):
    """Why a deployment failed, with the nucleus' detailed status, error stack and types."""

    def __init__(self, detailed: str, stack: list[str], cause: str, types: list[str] | None = None) -> None:
        super().__init__(cause)
        self.detailed = detailed
        self.stack = stack
        self.types = types or []
        self.cause = cause


class DeploymentCanceled(Exception):
    """Cancelled before anything was changed."""


class RunnerForDeployments(Protocol):
    """What the task needs of the runner (``localcore.runner.runner.Runner`` provides it)."""

    @property
    def recipes(self) -> dict[str, Recipe]: ...

    def state(self, name: str) -> str: ...
    def states(self) -> dict[str, str]: ...
    def replace_component(self, recipe: Recipe, before_start: Callable[[], None] | None = None) -> None: ...
    def remove_component(self, name: str) -> None: ...
    def read_recipe(self, path: Path) -> Recipe: ...
    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool: ...


@dataclass
class Plan:
    """What a deployment changes, resolved before anything is touched."""

    new_recipes: dict[str, Recipe] = field(default_factory=dict)  # version changes and additions
    proposals: dict[str, dict[str, Any]] = field(default_factory=dict)  # config changes, version kept
    removals: list[str] = field(default_factory=list)

    @property
    def changes_nothing(self) -> bool:
        """No version, configuration or component set changes."""
        return not (self.new_recipes or self.proposals or self.removals)


@dataclass
class Snapshot:
    """What was in effect before the merge, per affected component (None: it was not there)."""

    recipes: dict[str, Recipe | None] = field(default_factory=dict)
    configurations: dict[str, dict[str, Any] | None] = field(default_factory=dict)


class DeploymentTask:
    """Runs one deployment; :meth:`run` raises DeploymentFailure or DeploymentCanceled, else succeeded."""

    def __init__(
        self,
        *,
        deployment_id: str,
        document: DeploymentDocument,
        local: bool,
        runner: RunnerForDeployments,
        config: Any,
        handshakes: UpdateHandshakes,
        canceled: threading.Event,
        stopping: threading.Event,
        on_stage: Callable[[str, Snapshot | None], None],
    ) -> None:
        self.id = deployment_id
        self.document = document
        self.local = local
        self._runner = runner
        self._config = config
        self._handshakes = handshakes
        self._canceled = canceled
        self._stopping = stopping
        self._on_stage = on_stage

    @property
    def notifies(self) -> bool:
        """Local deployments never notify (reference section 1.5, trap 1)."""
        return not self.local and self.document.policies.update_action == "NOTIFY_COMPONENTS"

    def run(self) -> None:
        """Apply the deployment; see the module docstring for the order."""
        try:
            plan = self._resolve()
            if self.notifies:
                self._defer_rounds()
            self._check_canceled()
            self._validate(plan)
            self._check_canceled()
            snapshot = self._snapshot(plan)
            self._on_stage("APPLYING", snapshot)
            try:
                before = self._runner.states()
                self._apply(plan)
                self._health_wait(plan, before)
            except DeploymentFailure as failure:
                self._after_failure(failure, snapshot)
        finally:
            if self.notifies:
                self._handshakes.end_round()
                self._handshakes.post_update(self.id)

    # --- 1. resolve ----------------------------------------------------------------------------------
    def _resolve(self) -> Plan:
        plan = Plan()
        recipes = self._runner.recipes
        if self.document.artifacts_directory is not None:
            raise DeploymentFailure(
                "FAILED_NO_STATE_CHANGE",
                ["DEPLOYMENT_FAILURE", "UNSUPPORTED_OPTION"],
                "artifactsDirectoryPath is not supported by localcore: artifact URIs resolve against the "
                "project folder; put the new version's artifacts there",
                ["REQUEST_ERROR"],
            )
        available = self._recipe_directory()
        for name in self.document.components_to_remove:
            if name not in recipes:
                raise DeploymentFailure(
                    "FAILED_NO_STATE_CHANGE",
                    ["DEPLOYMENT_FAILURE", "COMPONENT_NOT_FOUND"],
                    f"Cannot remove component {name}: it is not deployed on this core",
                )
            plan.removals.append(name)
        for name, entry in self.document.components.items():
            current = recipes.get(name)
            wanted = entry.version or (current.version if current else None)
            if current is not None and wanted == current.version:
                recipe = current
            elif wanted is not None and (name, wanted) in available:
                recipe = available[(name, wanted)]
                plan.new_recipes[name] = recipe
            elif wanted is None and (found := _highest(available, name)) is not None:
                recipe = plan.new_recipes[name] = found
            else:
                group = LOCAL_GROUP if self.local else (self.document.target_arn or "thinggroup/rehearsal")
                requirement = f"={wanted}" if wanted else "any version"
                raise DeploymentFailure(
                    "FAILED_NO_STATE_CHANGE",
                    [
                        "DEPLOYMENT_FAILURE",
                        "NO_AVAILABLE_COMPONENT_VERSION",
                        "COMPONENT_VERSION_REQUIREMENTS_NOT_MET",
                    ],
                    "Device is configured to run offline and no local component version satisfies the "
                    f"requirements. Component {name} version constraints: {group} requires {requirement}.",
                    ["DEPENDENCY_ERROR"],
                )
            if entry.posix_user is not None:
                raise DeploymentFailure(
                    "FAILED_NO_STATE_CHANGE",
                    ["DEPLOYMENT_FAILURE", "UNSUPPORTED_RUN_WITH"],
                    f"components.{name}.runWith.posixUser: localcore runs every component as the core's "
                    "own user; a deployment cannot change it",
                    ["REQUEST_ERROR"],
                )
            if not entry.has_configuration_update or name in plan.new_recipes:
                continue  # a changed version restarts with its update applied (validation skips it)
            try:
                current_config = self._config.snapshot(name)
            except KeyError:
                current_config = {}
            proposed = propose_configuration(
                current_config, dict(recipe.default_configuration), reset=entry.reset, merge=entry.merge
            )
            if proposed != current_config:
                plan.proposals[name] = proposed
        return plan

    def _recipe_directory(self) -> dict[tuple[str, str], Recipe]:
        folder = self.document.recipe_directory
        if folder is None:
            return {}
        if not folder.is_dir():
            raise DeploymentFailure(
                "FAILED_NO_STATE_CHANGE",
                ["DEPLOYMENT_FAILURE", "IO_ERROR"],
                f"recipeDirectoryPath {folder} is not a folder",
                ["REQUEST_ERROR"],
            )
        found: dict[tuple[str, str], Recipe] = {}
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.suffix.lower() not in RECIPE_SUFFIXES:
                continue
            if path.stat().st_size == 0:
                _log.info(
                    kv(event="recipe_skipped", file=path, reason="empty file, not recognized as a recipe")
                )
                continue
            try:
                recipe = self._runner.read_recipe(path)
            except RecipeError as err:
                raise DeploymentFailure(
                    "FAILED_NO_STATE_CHANGE",
                    ["DEPLOYMENT_FAILURE", "RECIPE_PARSE_ERROR"],
                    f"Unable to parse {path} as a recipe due to: {err}",
                    ["REQUEST_ERROR"],
                ) from err
            found[(recipe.name, recipe.version)] = recipe
        return found

    # --- 2. defer rounds -------------------------------------------------------------------------------
    def _defer_rounds(self) -> None:
        timeout = float(self.document.policies.update_timeout_seconds)
        while True:
            self._check_canceled()
            result = self._handshakes.pre_update_round(self.id, False, timeout)
            if result.unanswered:
                _log.info(
                    kv(
                        event="update_not_answered",
                        deployment=self.id,
                        components=",".join(result.unanswered),
                    )
                )
            if result.recheck_after_ms <= 0:
                self._handshakes.end_round()
                return
            _log.info(
                kv(
                    event="update_deferred",
                    deployment=self.id,
                    by=",".join(sorted(result.deferred_by)),
                    recheck_after_ms=result.recheck_after_ms,
                    message="; ".join(result.deferred_by.values()),
                )
            )
            self._on_stage("DEFERRED", None)
            # A cancel or a core stop ends the sleep; the next round starts after it.
            _wait_any(self._canceled, self._stopping, result.recheck_after_ms / 1000.0)

    def _check_canceled(self) -> None:
        if self._canceled.is_set():
            raise DeploymentCanceled()
        if self._stopping.is_set():
            raise DeploymentFailure(
                "FAILED_NO_STATE_CHANGE",
                ["DEPLOYMENT_FAILURE"],
                "the core stopped before the deployment changed anything",
            )

    # --- 3. validate -----------------------------------------------------------------------------------
    def _validate(self, plan: Plan) -> None:
        if not plan.proposals:
            return
        timeout = 20.0 if self.local else float(self.document.policies.validation_timeout_seconds)
        outcome = self._handshakes.validate(self.id, plan.proposals, timeout)
        if outcome.rejected:
            reasons = " ".join(
                f"{{ name = {name}, message = {message} }}"
                for name, message in sorted(outcome.rejected.items())
            )
            raise DeploymentFailure(
                "FAILED_NO_STATE_CHANGE",
                ["DEPLOYMENT_FAILURE", "COMPONENT_CONFIGURATION_NOT_VALID"],
                f"Components reported that their to-be-deployed configuration is invalid {reasons}",
            )
        if outcome.unanswered:
            raise DeploymentFailure(
                "FAILED_NO_STATE_CHANGE",
                ["DEPLOYMENT_FAILURE", "COMPONENT_CONFIGURATION_NOT_VALID"],
                "Error while waiting for validation report for one or more components: no report from "
                f"{', '.join(sorted(outcome.unanswered))} within {timeout:g} s",
            )

    # --- 4. apply --------------------------------------------------------------------------------------
    def _snapshot(self, plan: Plan) -> Snapshot:
        snapshot = Snapshot()
        recipes = self._runner.recipes
        for name in [*plan.new_recipes, *plan.proposals, *plan.removals]:
            snapshot.recipes[name] = recipes.get(name)
            try:
                snapshot.configurations[name] = self._config.snapshot(name)
            except KeyError:
                snapshot.configurations[name] = None
        return snapshot

    def _apply(self, plan: Plan) -> None:
        for name in plan.proposals:
            entry = self.document.components[name]
            self._config.apply_deployment_update(name, merge=entry.merge, reset=entry.reset)
            _log.info(
                kv(event="deployment_configuration", deployment=self.id, component=name, outcome="applied")
            )
        for name in plan.removals:
            self._runner.remove_component(name)
            self._config.remove_component(name)
        for name, recipe in plan.new_recipes.items():
            entry = self.document.components[name]

            def configure(name: str = name, entry: Any = entry) -> None:
                if entry.has_configuration_update:
                    self._config.apply_deployment_update(name, merge=entry.merge, reset=entry.reset)

            _log.info(
                kv(event="deployment_component", deployment=self.id, component=name, version=recipe.version)
            )
            self._runner.replace_component(recipe, before_start=configure)

    # --- 5. health -------------------------------------------------------------------------------------
    def _health_wait(self, plan: Plan, before: dict[str, str]) -> None:
        started = list(plan.new_recipes)
        healthy_since: list[float | None] = [None]

        def settled() -> bool:
            states = self._runner.states()
            if self._stopping.is_set() or _newly_broken(states, before):
                return True
            if all(states.get(name) in HEALTHY for name in started):
                since = healthy_since[0]
                if since is None:
                    since = healthy_since[0] = time.monotonic()
                return time.monotonic() - since >= HEALTH_SETTLE_SECONDS
            healthy_since[0] = None  # ERRORED or restarting: the window starts again
            return False

        # The nucleus' health wait has no timeout (trap 9): a component stuck STARTING holds it.
        # A Run process is RUNNING the moment it starts, so a version that crashes a moment later
        # would pass a bare state check: localcore asks for HEALTH_SETTLE_SECONDS of health in a
        # row, and ERRORED restarts the window (three ERRORED make BROKEN, which fails it).
        while not self._runner.wait_until(settled, timeout=0.2 if started else 1.0):
            pass
        broken = sorted(_newly_broken(self._runner.states(), before))
        if broken:
            types = ["USER_COMPONENT_ERROR" if self.local else "COMPONENT_ERROR"]
            raise DeploymentFailure(
                "FAILED_ROLLBACK_NOT_REQUESTED",
                ["DEPLOYMENT_FAILURE", "COMPONENT_UPDATE_ERROR", "COMPONENT_BROKEN"],
                f"Service {broken[0]} in broken state after deployment",
                types,
            )

    # --- 6. rollback -----------------------------------------------------------------------------------
    def _after_failure(self, failure: DeploymentFailure, snapshot: Snapshot) -> None:
        # A local deployment's document already carries DO_NOTHING unless it asked (section 1.2).
        if self.document.policies.failure_handling != "ROLLBACK":
            raise failure
        self._on_stage("ROLLING_BACK", snapshot)
        restore(self._runner, self._config, snapshot)
        failure.detailed = "FAILED_ROLLBACK_COMPLETE"
        raise failure


def restore(runner: RunnerForDeployments, config: Any, snapshot: Snapshot) -> None:
    """Put back the versions and configurations a snapshot holds (also used after a kill -9)."""
    for name, recipe in snapshot.recipes.items():
        old_config = snapshot.configurations.get(name)

        def put_back(name: str = name, old_config: dict[str, Any] | None = old_config) -> None:
            if old_config is not None:
                config.apply_deployment_update(name, reset=[""], merge=old_config)

        if recipe is None:
            if name in runner.recipes:
                runner.remove_component(name)
                config.remove_component(name)
        elif runner.recipes.get(name) is not recipe:
            runner.replace_component(recipe, before_start=put_back)
        else:
            put_back()


def _newly_broken(states: dict[str, str], before: dict[str, str]) -> list[str]:
    return [name for name, state in states.items() if state == "BROKEN" and before.get(name) != "BROKEN"]


def _highest(available: dict[tuple[str, str], Recipe], name: str) -> Recipe | None:
    versions = [recipe for (component, _v), recipe in available.items() if component == name]
    return max(
        versions, key=lambda r: tuple(int(p) for p in r.version.split("-")[0].split(".")), default=None
    )


def _wait_any(first: threading.Event, second: threading.Event, seconds: float) -> None:
    deadline_step = 0.2
    remaining = seconds
    while remaining > 0 and not first.is_set() and not second.is_set():
        first.wait(min(deadline_step, remaining))
        remaining -= deadline_step
