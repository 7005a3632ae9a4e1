"""The control commands behind ``localcore deploy`` and ``localcore deployments list|status|cancel``.

``deploy`` reads the file in the core (paths in it resolve against the file's folder), refuses a
component no recipe defines, and queues the deployment as a thing-group rehearsal (see
:mod:`localcore.runner.deployment_service`). Components the core stands in for
(``aws.greengrass.ShadowManager``...) take their settings at start only: an entry that differs
from the start's is refused, naming it, instead of being ignored.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from localcore.control import CommandError, ControlServer
from localcore.runner.dependencies import STAND_IN_COMPONENTS
from localcore.runner.deployment import ComponentDeployment, DeploymentDocument, load_deployment_document
from localcore.runner.deployment_service import DeploymentService
from localcore.runner.errors import DeploymentError, RecipeError
from localcore.runner.recipe import RECIPE_SUFFIXES, load_recipe


def register_deployment_commands(
    control: ControlServer,
    service: Callable[[], DeploymentService],
    start_deployment: Callable[[], Mapping[str, ComponentDeployment]],
    known_components: Callable[[], set[str]],
) -> None:
    """Add ``deploy``, ``deployments.list``, ``deployments.status`` and ``deployments.cancel``."""

    def deploy(args: dict[str, Any]) -> dict[str, Any]:
        path = Path(str(args.get("file", "")))
        try:
            document = load_deployment_document(path)
        except DeploymentError as err:
            raise CommandError(str(err)) from err
        document = _without_stand_ins(document, start_deployment(), path)
        _refuse_unknown_components(document, known_components(), path)
        deployments = service()
        deployment_id = deployments.submit(document, local=False, source=str(path))
        if args.get("wait"):
            record = deployments.wait(deployment_id, timeout=float(args.get("timeout", 600)))
            return record or {"deploymentId": deployment_id}
        return deployments.records.get(deployment_id) or {"deploymentId": deployment_id}

    def status(args: dict[str, Any]) -> dict[str, Any]:
        deployment_id = str(args.get("deploymentId", ""))
        record = service().records.get(deployment_id)
        if record is None:
            raise CommandError(f"no deployment {deployment_id!r}; 'localcore deployments list' shows them")
        record.pop("snapshot", None)
        return record

    def cancel(args: dict[str, Any]) -> dict[str, Any]:
        deployment_id = str(args.get("deploymentId", ""))
        try:
            return {"message": service().cancel(deployment_id)}
        except KeyError as err:
            raise CommandError(f"no deployment {deployment_id!r}") from err

    def listing(args: dict[str, Any]) -> list[dict[str, Any]]:
        records = service().records.all()
        for record in records:
            record.pop("snapshot", None)
        return records

    control.register("deploy", deploy)
    control.register("deployments.list", listing)
    control.register("deployments.status", status)
    control.register("deployments.cancel", cancel)


def _without_stand_ins(
    document: DeploymentDocument, at_start: Mapping[str, ComponentDeployment], path: Path
) -> DeploymentDocument:
    kept = {}
    for name, entry in document.components.items():
        started_with = at_start.get(name)
        if entry.limits != (started_with.limits if started_with else ComponentDeployment().limits):
            raise CommandError(
                f"{path}: components.{name}.runWith.systemResourceLimits: a running core applies "
                "resource limits only at start; restart the core with this file (make run) to change them"
            )
        if name not in STAND_IN_COMPONENTS:
            kept[name] = entry
            continue
        before = at_start.get(name)
        if (before.digest() if before else ComponentDeployment().digest()) != entry.digest():
            raise CommandError(
                f"{path}: components.{name}: localcore stands in for {name} and takes its settings "
                "only at start; restart the core with this file (make run) to change them"
            )
    return dataclasses.replace(document, components=kept)


def _refuse_unknown_components(document: DeploymentDocument, known: set[str], path: Path) -> None:
    defined = set(known)
    folder = document.recipe_directory
    if folder is not None and folder.is_dir():
        for recipe_path in folder.rglob("*"):
            if recipe_path.is_file() and recipe_path.suffix.lower() in RECIPE_SUFFIXES:
                # A broken one fails the deployment itself, with the parser's message.
                with contextlib.suppress(RecipeError):
                    defined.add(load_recipe(recipe_path).name)
    for name in [*document.components, *document.components_to_remove]:
        if name not in defined:
            raise CommandError(
                f"{path}: components.{name}: unknown component {name!r}: no recipe defines it "
                f"(the core runs: {', '.join(sorted(known)) or 'none'})"
            )
