"""Fixtures shared by the whole suite (subfolders add their own in their conftest.py).

- ``repo_root``: the project's root folder (recipes/, components/, ...).
- ``local_core``: start a real local core from recipes, stopped at teardown::

      def test_x(local_core):
          core = local_core(Path("recipes/com.edgebundle.Sensing.yaml"), thing_name="line-1")
          core.wait_for_state("com.edgebundle.Sensing", "RUNNING")
          client = core.client_for("com.edgebundle.Sensing")

  It takes the same arguments as ``localcore.testing.running_core`` (without ``tmp_path``);
  each call gets its own root under the test's ``tmp_path``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    """The project's root folder."""
    return REPO_ROOT


@pytest.fixture
def local_core(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """A factory of running cores (``localcore.testing.CoreHarness``), all stopped at teardown."""
    from localcore.testing import running_core

    with contextlib.ExitStack() as stack:
        count = 0

        def start(recipes: Path | list[Path], **options: Any) -> Any:
            nonlocal count
            count += 1
            options.setdefault("project_root", REPO_ROOT)
            return stack.enter_context(running_core(tmp_path / f"core{count}", recipes, **options))

        yield start
