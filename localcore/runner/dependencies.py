"""Dependency checks and start order: HARD/SOFT, npm-style version ranges, cycles, missing ones.

The nucleus resolves every declared dependency (HARD or SOFT) before it runs anything, so a
missing one, a version outside the range or a cycle refuses the component, and with it every
component that depends on it. The ``aws.greengrass.*`` components whose work localcore does
itself satisfy dependencies without a recipe.

Example::

    plan = plan_start_order(recipes)
    plan.order      # ["a", "b"]: dependencies first
    plan.refused    # {"c": DependencyError("c: depends on missing component 'x'")}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import semantic_version

from localcore.runner.errors import DependencyError, RunnerError
from localcore.runner.recipe import Recipe

NUCLEUS_VERSION = "2.14.0"

# The components localcore stands in for, with the version it claims: their work (IPC, local
# shadows, credentials, the Cli IPC operations) is done by the core itself.
STAND_IN_COMPONENTS: dict[str, str] = {
    "aws.greengrass.Nucleus": NUCLEUS_VERSION,
    "aws.greengrass.ShadowManager": "2.3.9",
    "aws.greengrass.TokenExchangeService": "2.0.3",
    "aws.greengrass.Cli": NUCLEUS_VERSION,
}


def version_satisfies(version: str, requirement: str) -> bool:
    """Whether ``version`` is inside the npm-style ``requirement`` (``^1.2.0``, ``>=2.0.0 <3.0.0``, ``*``)."""
    return semantic_version.Version(version) in semantic_version.NpmSpec(requirement or "*")


@dataclass
class StartPlan:
    """Start order (dependencies first) and the components refused, with the reason for each."""

    order: list[str] = field(default_factory=list)
    refused: dict[str, RunnerError] = field(default_factory=dict)


def plan_start_order(
    recipes: Mapping[str, Recipe], refused: Mapping[str, RunnerError] | None = None
) -> StartPlan:
    """Check every dependency and order the runnable components.

    ``refused`` holds components already refused (e.g. a recipe that failed to load): their
    dependents are refused too.
    """
    plan = StartPlan(refused=dict(refused or {}))
    for name, recipe in recipes.items():
        problem = _first_dependency_problem(recipe, recipes, plan.refused)
        if problem:
            plan.refused[name] = DependencyError(name, problem)
    for cycle in _cycles(recipes):
        text = " -> ".join([*cycle, cycle[0]])
        for name in cycle:
            plan.refused.setdefault(name, DependencyError(name, f"dependency cycle: {text}"))
    refuse_dependents(recipes, plan.refused)
    plan.order = _topological([name for name in sorted(recipes) if name not in plan.refused], recipes)
    return plan


def _first_dependency_problem(
    recipe: Recipe, recipes: Mapping[str, Recipe], refused: Mapping[str, RunnerError]
) -> str | None:
    for dep in recipe.dependencies.values():
        if dep.name in refused and dep.name not in recipes:
            continue  # its recipe failed to load: refuse_dependents says so
        if dep.name in recipes:
            available = recipes[dep.name].version
        elif dep.name in STAND_IN_COMPONENTS:
            available = STAND_IN_COMPONENTS[dep.name]
        else:
            return f"depends on missing component {dep.name!r} ({dep.dependency_type}): no recipe for it and localcore does not stand in for it"
        if not version_satisfies(available, dep.version_requirement):
            return f"depends on {dep.name} {dep.version_requirement!r} but version {available} is available"
    return None


def _cycles(recipes: Mapping[str, Recipe]) -> list[list[str]]:
    """Every dependency cycle (each once), by depth-first search over declared dependencies."""
    cycles: list[list[str]] = []
    seen_members: set[str] = set()
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done or name not in recipes:
            return
        if name in visiting:
            cycle = visiting[visiting.index(name) :]
            if not seen_members.intersection(cycle):
                cycles.append(list(cycle))
                seen_members.update(cycle)
            return
        visiting.append(name)
        for dep in sorted(recipes[name].dependencies):
            visit(dep)
        visiting.pop()
        done.add(name)

    for name in sorted(recipes):
        visit(name)
    return cycles


def refuse_dependents(recipes: Mapping[str, Recipe], refused: dict[str, RunnerError]) -> None:
    """Refuse (in place) every component that depends, directly or not, on a refused one."""
    changed = True
    while changed:
        changed = False
        for name, recipe in sorted(recipes.items()):
            if name in refused:
                continue
            for dep in recipe.dependencies:
                if dep in refused:
                    refused[name] = DependencyError(
                        name, f"depends on {dep}, which was refused ({refused[dep]})"
                    )
                    changed = True
                    break


def _topological(wanted: list[str], recipes: Mapping[str, Recipe]) -> list[str]:
    """``wanted`` ordered so that every component comes after its dependencies."""
    result: list[str] = []
    placed: set[str] = set()
    allowed = set(wanted)

    def place(name: str) -> None:
        if name in placed:
            return
        placed.add(name)
        for dep in sorted(recipes[name].dependencies):
            if dep in allowed:
                place(dep)
        result.append(name)

    for name in wanted:
        place(name)
    return result


def with_dependencies(names: Iterable[str], recipes: Mapping[str, Recipe]) -> set[str]:
    """``names`` plus everything they depend on, transitively (for ``run --only``)."""
    selected: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in selected or name not in recipes:
            continue
        selected.add(name)
        pending.extend(recipes[name].dependencies)
    return selected


def dependency_levels(order: Sequence[str], recipes: Mapping[str, Recipe]) -> list[list[str]]:
    """Components grouped by depth: level 0 depends on nothing that runs, level n on level < n.

    ``order`` is a start order (dependencies first), as :func:`plan_start_order` gives it.
    """
    depth: dict[str, int] = {}
    for name in order:
        deps = [d for d in recipes[name].dependencies if d in depth]
        depth[name] = 1 + max((depth[d] for d in deps), default=-1)
    levels: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name, level in depth.items():
        levels[level].append(name)
    return levels
