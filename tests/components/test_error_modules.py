"""One convention for errors (docs: /work/shared/style.md §2): each component package defines its
exceptions in its own ``exceptions.py``, so a caller knows where to look for what it may catch."""

from __future__ import annotations

import ast
from pathlib import Path

COMPONENTS = Path(__file__).resolve().parents[2] / "components"
BUILTIN_BASES = {
    "BaseException", "Exception", "ValueError", "RuntimeError", "OSError", "KeyError",
    "TypeError", "LookupError", "ArithmeticError", "ConnectionError", "TimeoutError",
}  # fmt: skip
# The model runtime's error family, which inference and inspection catch as ModelError; its own
# module because the model card work of issue #20 reshapes it.
ERROR_MODULES_BESIDE_EXCEPTIONS = {Path("components/common/model_errors.py")}


def exception_classes(root: Path) -> dict[Path, set[str]]:
    """Every class deriving (directly or through another one here) from an exception, by file."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(root.rglob("*.py"))}
    classes = [
        (path, node)
        for path, tree in trees.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    ]
    known = set(BUILTIN_BASES)
    found: dict[Path, set[str]] = {}
    changed = True
    while changed:  # a subclass may come before its base in the walk
        changed = False
        for path, node in classes:
            bases = {
                base.id if isinstance(base, ast.Name) else getattr(base, "attr", "") for base in node.bases
            }
            if bases & known and node.name not in found.get(path, set()):
                found.setdefault(path, set()).add(node.name)
                known.add(node.name)
                changed = True
    return found


def test_every_component_error_is_defined_in_an_exceptions_module() -> None:
    misplaced = {
        f"{path.relative_to(COMPONENTS.parent)}: {', '.join(sorted(names))}"
        for path, names in exception_classes(COMPONENTS).items()
        if path.name != "exceptions.py"
        and path.relative_to(COMPONENTS.parent) not in ERROR_MODULES_BESIDE_EXCEPTIONS
    }
    assert not misplaced, sorted(misplaced)


def test_every_package_that_defines_errors_has_its_own_exceptions_module() -> None:
    packages = {"common", "sensing", "inference", "inspection", "sync"}
    assert {p.parent.name for p in COMPONENTS.glob("*/exceptions.py")} == packages


def test_the_check_finds_an_error_defined_elsewhere(tmp_path: Path) -> None:
    # GIVEN a module defining an error through a local base class WHEN scanned THEN both are found
    (tmp_path / "a.py").write_text("class Base(ValueError): ...\nclass Worse(Base): ...\n", encoding="utf-8")
    assert exception_classes(tmp_path) == {tmp_path / "a.py": {"Base", "Worse"}}
