"""localcore's tests run as if the bundle were absent: no plugin loads and no bundle package imports.

Every test here runs with ``LOCALCORE_PLUGINS`` empty (so ``localcore.testing`` and the CLI load
no plugin, the bundle's included) and with an import guard on ``sys.meta_path`` that refuses the
bundle's packages, so a localcore code path that reaches for one fails the test that took it.
The guard sees imports made during a test; ``test_independence.py`` checks every module's
imports statically and runs localcore from a fresh venv outside this repository.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType

import pytest

BUNDLE_PACKAGES = ("components", "bundlespec", "bundlebuild", "bundledev", "infra", "models")


class BundleImportRefused(ImportError):
    """A localcore test imported one of the bundle's packages."""


class _BundleGuard(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> None:
        if fullname.split(".", 1)[0] in BUNDLE_PACKAGES:
            raise BundleImportRefused(f"localcore must not import the bundle: {fullname}")
        return None


@pytest.fixture(autouse=True)
def _bundle_absent(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LOCALCORE_PLUGINS", "")
    hidden = {
        name: module for name, module in sys.modules.items() if name.split(".", 1)[0] in BUNDLE_PACKAGES
    }
    for name in hidden:
        # Imported by other folders' tests earlier in the session: hidden, so a re-import is seen.
        del sys.modules[name]
    guard = _BundleGuard()
    sys.meta_path.insert(0, guard)
    try:
        yield
    finally:
        sys.meta_path.remove(guard)
        sys.modules.update(hidden)
