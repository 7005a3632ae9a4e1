"""The one seam where a project adds to localcore: plugins found through entry points.

A project registers a :class:`Plugin` in its ``pyproject.toml``::

    [project.entry-points."localcore.plugins"]
    my-project = "my_project.localcore_plugin:plugin"   # a Plugin instance (or a subclass)

and ``localcore`` then asks it for four things, each optional:

- **artifact sources** (:class:`ArtifactSource`): how a recipe's artifact ``Uri`` resolves to a
  local file, tried before localcore's own (``file:``, GDK's ``greengrass-build/`` layout);
- **views** (``--view NAME``): a :class:`RunReporter` drawing ``localcore run`` for a person;
- **commands**: extra ``localcore`` subcommands, added to the argument parser;
- **a cloud description** (:class:`~localcore.cloud.description.CloudDescription`) for the
  embedded cloud when ``--cloud-description`` is not given (e.g. read from the project's own
  infrastructure settings).

``LOCALCORE_PLUGINS`` chooses which installed plugins load: unset, all of them; a comma-separated
list of entry point names, only those; empty, none.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from localcore.cloud.description import CloudDescription
    from localcore.runner.recipe import Artifact, Recipe

ENTRY_POINT_GROUP = "localcore.plugins"
PLUGINS_VARIABLE = "LOCALCORE_PLUGINS"


class PluginError(RuntimeError):
    """A plugin could not be loaded or gave something of the wrong kind; names the plugin."""


class RunReporter(Protocol):
    """What ``localcore run`` tells the person (or script) watching."""

    def started(self, core: Any) -> None:
        """The core started (``core`` is the :class:`~localcore.core.LocalCore`)."""
        ...

    def state_changed(self, component: str, old: str, new: str) -> None:
        """A component changed lifecycle state (may be called before :meth:`started`)."""
        ...

    def finished(self, core: Any, exit_code: int) -> None:
        """The core stopped; ``exit_code`` is what ``localcore run`` exits with."""
        ...


@dataclass(frozen=True)
class ArtifactContext:
    """Where an artifact source may look and write."""

    core_root: Path  # the core's root; scratch space under <root>/packages/build/
    project_root: Path  # where relative artifact URIs resolve (``--project-root``)


class ArtifactSource(Protocol):
    """Resolves some artifact URIs to local files."""

    def locate(self, recipe: Recipe, artifact: Artifact, context: ArtifactContext) -> Path | None:
        """The local file ``artifact`` of ``recipe`` stands for, or ``None`` if this source does
        not handle it. Raise :class:`~localcore.runner.errors.ArtifactError` when it should
        handle it and cannot (the message names the artifact and what was expected)."""
        ...


ReporterFactory = Callable[[], RunReporter]


class Plugin:
    """A project's additions to localcore; subclass it and override what the project adds."""

    def artifact_sources(self) -> Sequence[ArtifactSource]:
        """Artifact sources, tried in order before localcore's own."""
        return ()

    def views(self) -> Mapping[str, ReporterFactory]:
        """``localcore run --view NAME`` reporters, by name."""
        return {}

    def add_commands(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add ``localcore`` subcommands; each sets ``func=handler(args) -> exit code``."""

    def cloud_description(self, project_root: Path, thing_name: str) -> CloudDescription | None:
        """The embedded cloud's description for a project when the user passes none."""
        return None


@dataclass(frozen=True)
class LoadedPlugin:
    """A plugin and the entry point name it was registered under."""

    name: str
    plugin: Plugin


def load_plugins(environ: Mapping[str, str] | None = None) -> list[LoadedPlugin]:
    """Every installed plugin that ``LOCALCORE_PLUGINS`` allows, in entry point name order.

    Raises:
        PluginError: an allowed plugin failed to import or is not a :class:`Plugin`; or
            ``LOCALCORE_PLUGINS`` names a plugin that is not installed.
    """
    environ = os.environ if environ is None else environ
    found = {entry.name: entry for entry in entry_points(group=ENTRY_POINT_GROUP)}
    wanted = environ.get(PLUGINS_VARIABLE)
    names = sorted(found)
    if wanted is not None:
        names = [name.strip() for name in wanted.split(",") if name.strip()]
        missing = [name for name in names if name not in found]
        if missing:
            raise PluginError(
                f"{PLUGINS_VARIABLE} names {', '.join(missing)}, not installed; "
                f"expected some of: {', '.join(sorted(found)) or 'none installed'}"
            )
    return [LoadedPlugin(name, _instantiate(found[name])) for name in names]


def _instantiate(entry: EntryPoint) -> Plugin:
    try:
        loaded = entry.load()
    except Exception as err:  # a plugin's import error is the plugin's, reported with its name
        raise PluginError(f"plugin {entry.name} ({entry.value}) failed to load: {err}") from err
    if isinstance(loaded, type) and issubclass(loaded, Plugin):
        loaded = loaded()
    if not isinstance(loaded, Plugin):
        raise PluginError(
            f"plugin {entry.name} ({entry.value}): expected a localcore.plugins.Plugin, "
            f"got {type(loaded).__name__}"
        )
    return loaded


def artifact_sources(plugins: Sequence[LoadedPlugin]) -> list[ArtifactSource]:
    """Every plugin's artifact sources, in plugin order."""
    return [source for loaded in plugins for source in loaded.plugin.artifact_sources()]


def views(plugins: Sequence[LoadedPlugin]) -> dict[str, ReporterFactory]:
    """Every plugin's views by name.

    Raises:
        PluginError: two plugins offer a view of the same name.
    """
    found: dict[str, ReporterFactory] = {}
    owner: dict[str, str] = {}
    for loaded in plugins:
        for name, factory in loaded.plugin.views().items():
            if name in found:
                raise PluginError(f"view {name!r} is offered by both {owner[name]} and {loaded.name}")
            found[name], owner[name] = factory, loaded.name
    return found


def cloud_description(
    plugins: Sequence[LoadedPlugin], project_root: Path, thing_name: str
) -> CloudDescription | None:
    """The first description a plugin offers for ``project_root``, or ``None``."""
    for loaded in plugins:
        description = loaded.plugin.cloud_description(project_root, thing_name)
        if description is not None:
            return description
    return None
