"""Each component is built from its own package and ``components.common`` alone (issue #16).

A component that imports another one cannot be built, shipped or changed without it: what two
components share (sequence numbers, the image spool format) lives in ``components/common``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

COMPONENTS = Path(__file__).resolve().parents[2] / "components"
PACKAGES = ("sensing", "inference", "inspection", "sync")


def imported_modules(source: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), filename=str(source))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_a_component_imports_no_other_component(package: str) -> None:
    # GIVEN every module of one component package
    others = {f"components.{name}" for name in PACKAGES if name != package}
    offending = {
        f"{path.relative_to(COMPONENTS.parent)} imports {module}"
        for path in sorted((COMPONENTS / package).rglob("*.py"))
        for module in imported_modules(path)
        if any(module == other or module.startswith(f"{other}.") for other in others)
    }
    # THEN none of them imports another component's package
    assert not offending, sorted(offending)


@pytest.mark.parametrize("package", [*PACKAGES, "common"])
def test_no_component_reads_the_bundles_build_or_cloud_description(package: str) -> None:
    # A component's artifact carries its code and components/common; bundle.yaml, the CDK app,
    # the build and the local core are not on a device (components talk to a core through IPC).
    outside = ("bundlespec", "infra", "bundlebuild", "localcore")
    offending = {
        f"{path.relative_to(COMPONENTS.parent)} imports {module}"
        for path in sorted((COMPONENTS / package).rglob("*.py"))
        for module in imported_modules(path)
        if module.split(".")[0] in outside
    }
    assert not offending, sorted(offending)


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    # GIVEN a module importing another component lazily WHEN it is read THEN the import is found
    source = tmp_path / "lazy.py"
    source.write_text("def f():\n    from components.sensing.component import X\n", encoding="utf-8")
    assert imported_modules(source) == {"components.sensing.component"}
