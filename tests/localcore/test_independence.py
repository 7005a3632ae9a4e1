"""localcore knows nothing of the bundle: no module imports it, the guard of this folder's tests
refuses it, and the distribution's package list is every package there is."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import tomllib

from tests.localcore.conftest import BUNDLE_PACKAGES, BundleImportRefused

LOCALCORE = Path(__file__).resolve().parents[2] / "localcore"


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every absolute module a file imports, anywhere in it (inside functions too)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_no_localcore_module_imports_the_bundle() -> None:
    offending = [
        f"{path.relative_to(LOCALCORE.parent)}:{line}: {module}"
        for path in sorted(LOCALCORE.rglob("*.py"))
        for line, module in _imported_modules(path)
        if module.split(".", 1)[0] in BUNDLE_PACKAGES
    ]
    assert offending == []


def test_the_scan_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from components.common.logs import kv\n    import infra.app\n")
    assert _imported_modules(sample) == [(2, "components.common.logs"), (3, "infra.app")]


def test_this_folders_tests_cannot_import_the_bundle() -> None:
    with pytest.raises(BundleImportRefused, match="components"):
        import components.common  # noqa: F401


def test_the_distribution_lists_every_package() -> None:
    """localcore/pyproject.toml lists its packages by hand (the folder is the package)."""
    config = tomllib.loads((LOCALCORE / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"localcore": "."}
    packages = sorted(
        ".".join(("localcore", *init.parent.relative_to(LOCALCORE).parts))
        for init in LOCALCORE.rglob("__init__.py")
        if not {"build", "dist"} & set(init.relative_to(LOCALCORE).parts)
    )
    assert sorted(config["packages"]) == packages
