"""What a component imports: its package plus the closure of project modules it reaches.

A component's artifact carries its own package (``components/<package>/``) and only the project
modules that package imports, directly or through each other (``components/common/...``,
``models/preprocessing.py``, ``bundlespec``...). The closure is computed from the source with
:mod:`ast`, not hand-listed: every ``import``/``from ... import`` anywhere in a module (function
bodies included, since drivers import lazily) and every ``importlib.import_module("...")`` or
``import_device_module("...")`` call with a literal name. The names outside the project that are
not in the standard library are the component's third-party imports, which the build's
requirement table must cover (``tests/bundlebuild/test_component_artifacts.py``).

Example::

    closure = import_closure(Path("."), "components.sensing")
    sorted(closure.modules)[:2]   # ['components', 'components.common']
    closure.third_party           # {'awsiot', 'msgspec', 'psutil'}: imported when modules load
    closure.deferred_third_party  # {'adafruit_dht', 'board', 'digitalio', ...}: inside functions
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Top-level project packages a component may import from. localcore is a development tool and
# bundlebuild a build tool: a component importing either is a bug the closure would ship.
PROJECT_PACKAGES = ("components", "models", "bundlespec")
# Calls whose first literal argument is a module imported at run time.
DYNAMIC_IMPORT_CALLS = ("import_module", "import_device_module", "__import__")


@dataclass
class Closure:
    """The project modules (dotted names to files) and third-party top-level names one package needs.

    ``third_party`` are imported when a module loads; ``deferred_third_party`` only inside a
    function (a driver imported when configured), and only those not also imported at load time.
    """

    modules: dict[str, Path] = field(default_factory=dict)
    third_party: set[str] = field(default_factory=set)
    deferred_third_party: set[str] = field(default_factory=set)

    def all_third_party(self) -> set[str]:
        """Every third-party top-level name, at load time or deferred."""
        return self.third_party | self.deferred_third_party

    def files(self, project_root: Path) -> list[Path]:
        """The closure's module files relative to ``project_root``, sorted."""
        return sorted((path.relative_to(project_root) for path in self.modules.values()), key=Path.as_posix)


def module_file(project_root: Path, dotted: str) -> Path | None:
    """The file of project module ``dotted`` (``a/b.py`` or ``a/b/__init__.py``), or None."""
    base = project_root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def import_closure(project_root: Path, package: str) -> Closure:
    """Every project module ``package`` (all of its own modules) reaches, and its third-party imports.

    Raises:
        ValueError: ``package`` is not a project package.
    """
    root_dir = project_root.joinpath(*package.split("."))
    if not (root_dir / "__init__.py").is_file():
        raise ValueError(f"{package}: no package at {root_dir}")
    closure = Closure()
    pending = [_dotted(project_root, path) for path in sorted(root_dir.rglob("*.py")) if _kept(path)]
    while pending:
        name = pending.pop()
        if name in closure.modules:
            continue
        path = module_file(project_root, name)
        if path is None:
            continue
        closure.modules[name] = path
        parent = name.rpartition(".")[0]
        if parent:
            pending.append(parent)
        for imported, deferred in _imports(path, name, is_package=path.name == "__init__.py"):
            top = imported.split(".")[0]
            if top in PROJECT_PACKAGES:
                pending.extend(_project_candidates(project_root, imported))
            elif top and top not in sys.stdlib_module_names and top != "__future__":
                (closure.deferred_third_party if deferred else closure.third_party).add(top)
    closure.deferred_third_party -= closure.third_party
    return closure


def _kept(path: Path) -> bool:
    return "__pycache__" not in path.parts and "tests" not in path.parts


def _dotted(project_root: Path, path: Path) -> str:
    parts = list(path.relative_to(project_root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _project_candidates(project_root: Path, imported: str) -> list[str]:
    # `from a.b import c` names either module a.b.c or an attribute of a.b: keep what exists.
    found = []
    while imported:
        if module_file(project_root, imported) is not None:
            found.append(imported)
            break
        imported = imported.rpartition(".")[0]
    return found


def _imports(path: Path, module: str, *, is_package: bool) -> list[tuple[str, bool]]:
    """Each imported dotted name with whether it is deferred (inside a function, not at import time)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if is_package else module.rpartition(".")[0]
    names: list[tuple[str, bool]] = []

    def visit(node: ast.AST, deferred: bool) -> None:
        if isinstance(node, ast.Import):
            names.extend((alias.name, deferred) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, package)
            names.append((base, deferred))
            names.extend((f"{base}.{alias.name}", deferred) for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call) and _called_name(node.func) in DYNAMIC_IMPORT_CALLS:
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.append((first.value, deferred))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            # `if TYPE_CHECKING:` imports are for the type checker; they never run.
            for statement in node.orelse:
                visit(statement, deferred)
            return
        inner = deferred or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return names


def _resolve(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".") if package else []
    base = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""
