"""Dependency checks: version ranges, stand-ins, missing ones, cycles, refused dependents, order."""

from __future__ import annotations

from pathlib import Path

import pytest
import semantic_version
from hypothesis import given
from hypothesis import strategies as st

from localcore.runner.dependencies import plan_start_order, version_satisfies, with_dependencies
from localcore.runner.errors import DependencyError, RecipeError
from localcore.runner.recipe import Dependency, Lifecycle, Recipe, load_recipe

from .conftest import RECIPES

LINUX = {"os": "linux", "architecture": "amd64"}


def recipe(name: str, version: str = "1.0.0", **deps: str) -> Recipe:
    """``deps``: dependency name (``_`` for ``.``) -> ``"HARD <range>"`` or ``"SOFT <range>"``."""
    parsed = {}
    for key, spec in deps.items():
        kind, requirement = spec.split(" ", 1)
        dep_name = key.replace("_", ".")
        parsed[dep_name] = Dependency(dep_name, requirement, kind)
    return Recipe(
        source=Path(f"{name}.yaml"), name=name, version=version, lifecycle=Lifecycle(), dependencies=parsed
    )


@pytest.mark.parametrize(
    ("version", "requirement", "ok"),
    [
        ("2.5.0", ">=2.0.0 <3.0.0", True),
        ("3.0.0", ">=2.0.0 <3.0.0", False),
        ("1.9.9", "^1.1.0", True),
        ("2.0.0", "^1.1.0", False),
        ("1.2.9", "~1.2.0", True),
        ("1.3.0", "~1.2.0", False),
        ("0.0.1", "*", True),
        ("1.0.0", "", True),
        ("1.5.0", "1.0.0 - 2.0.0", True),
        ("1.0.0", "<1.0.0 || >=2.0.0", False),
    ],
)
def test_npm_style_ranges(version: str, requirement: str, ok: bool) -> None:
    assert version_satisfies(version, requirement) is ok


versions = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30))


@given(versions, versions)
def test_caret_range_keeps_the_major_version(
    base: tuple[int, int, int], candidate: tuple[int, int, int]
) -> None:
    # npm: ^X.Y.Z with X > 0 allows >= X.Y.Z and < (X+1).0.0
    if base[0] == 0:
        base = (1, base[1], base[2])
    wanted = semantic_version.Version(".".join(map(str, candidate)))
    low = semantic_version.Version(".".join(map(str, base)))
    expected = low <= wanted and wanted.major == low.major
    assert version_satisfies(str(wanted), f"^{low}") is expected


def test_dependencies_come_first_and_stand_ins_need_no_recipe() -> None:
    recipes = {
        "c": recipe("c", b="HARD ^1.0.0", aws_greengrass_ShadowManager="HARD >=2.0.0 <3.0.0"),
        "b": recipe("b", a="SOFT *", aws_greengrass_TokenExchangeService="HARD ^2.0.0"),
        "a": recipe("a", aws_greengrass_Nucleus="SOFT >=2.0.0"),
    }
    plan = plan_start_order(recipes)
    assert plan.refused == {}
    assert plan.order == ["a", "b", "c"]


def test_missing_wrong_version_cycle_and_refused_dependents() -> None:
    # GIVEN the recipes of recipes/deps/: a cycle, a missing dependency, a version outside the range
    loaded = {r.name: r for r in (load_recipe(p, LINUX) for p in sorted((RECIPES / "deps").glob("*.yaml")))}
    plan = plan_start_order(loaded)
    messages = {name: str(err) for name, err in plan.refused.items()}
    # THEN each refused component says why, and the good one still runs
    assert plan.order == ["test.deps.Good"]
    assert messages["test.deps.Missing"] == (
        "test.deps.Missing: depends on missing component 'test.deps.Nowhere' (HARD): "
        "no recipe for it and localcore does not stand in for it"
    )
    assert (
        messages["test.deps.TooNew"]
        == "test.deps.TooNew: depends on test.deps.Good '^2.0.0' but version 1.4.2 is available"
    )
    assert (
        "dependency cycle: test.deps.CycleA -> test.deps.CycleB -> test.deps.CycleA"
        in messages["test.deps.CycleA"]
    )
    assert "dependency cycle" in messages["test.deps.CycleB"]
    assert messages["test.deps.AfterRefused"].startswith(
        "test.deps.AfterRefused: depends on test.deps.Missing, which was refused ("
    )
    assert all(isinstance(err, DependencyError) for err in plan.refused.values())


def test_a_component_whose_recipe_failed_refuses_its_dependents() -> None:
    recipes = {"b": recipe("b", a="HARD *"), "c": recipe("c", b="SOFT *"), "d": recipe("d")}
    plan = plan_start_order(recipes, refused={"a": RecipeError("a.yaml", "ComponentVersion", "bad")})
    assert plan.order == ["d"]
    assert "depends on a, which was refused (a.yaml: ComponentVersion: bad)" in str(plan.refused["b"])
    assert "depends on b, which was refused" in str(plan.refused["c"])


def test_only_brings_its_dependencies_along() -> None:
    recipes = {"a": recipe("a"), "b": recipe("b", a="HARD *"), "c": recipe("c")}
    assert with_dependencies(["b"], recipes) == {"a", "b"}
