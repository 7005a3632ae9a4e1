"""Recipe defaults that changed since the last run under the same root.

Configuration persists under ``<root>/config`` (as on a device), and a recipe's
DefaultConfiguration only adds keys a component lacks. During development a changed default
would then never apply. The runner records each recipe's defaults; at the next start, a top-level
key whose default changed and whose current value is still the *old default* (nobody customized
it) is reset, so it takes the new default. A customized value (deployment merge, ``config set``,
UpdateConfiguration) stays.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localcore.config.tree import fold
from localcore.logfmt import kv
from localcore.runner.errors import RecipeError
from localcore.runner.recipe import Recipe

if TYPE_CHECKING:
    from localcore.runner.interfaces import RunnerConfiguration

_log = logging.getLogger("localcore.runner.defaults")
_MISSING = object()


class DefaultsRecord:
    """``<root>/config/recipe-defaults.json``: the DefaultConfiguration each component ran with."""

    def __init__(self, root: Path) -> None:
        self.path = root / "config" / "recipe-defaults.json"
        self._previous: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self._previous = loaded
        self._current: dict[str, Any] = dict(self._previous)

    def stale_keys(
        self, component: str, defaults: Mapping[str, Any], configuration: Mapping[str, Any]
    ) -> list[str]:
        """Top-level keys whose default changed while the value still equals the old default."""
        previous = self._previous.get(component)
        if not isinstance(previous, dict):
            return []
        stale = []
        for key in sorted(set(previous) | set(defaults)):
            old, new = previous.get(key, _MISSING), defaults.get(key, _MISSING)
            if old is _MISSING or old == new:
                continue
            if configuration.get(key, _MISSING) == old:
                stale.append(key)
        return stale

    def remember(self, component: str, defaults: Mapping[str, Any]) -> None:
        """Record the defaults ``component`` runs with now (written by :meth:`save`)."""
        self._current[component] = dict(defaults)

    def save(self) -> None:
        """Write the record (temp file and rename); a failure is logged, never raised."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            partial.write_text(json.dumps(self._current, sort_keys=True, default=str), encoding="utf-8")
            partial.replace(self.path)
        except OSError as err:
            _log.warning(kv(event="recipe_defaults_not_saved", path=self.path, error=err))


def pointer(key: str) -> str:
    """The JSON pointer of a top-level key."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def apply_recipe_defaults(
    config: RunnerConfiguration, record: DefaultsRecord, recipe: Recipe, customized: Mapping[str, Any]
) -> None:
    """Give ``recipe``'s component its DefaultConfiguration, resetting stale defaults, and remember them.

    ``customized``: top-level keys a deployment set, kept even where they equal an old default.

    Raises:
        RecipeError: the store refused the defaults; names the recipe's key.
    """
    name = recipe.name
    defaults = dict(recipe.default_configuration)
    try:
        current = config.snapshot(name)
    except KeyError:
        current = {}
    merged = {fold(str(key)) for key in customized}
    stale = [key for key in record.stale_keys(name, defaults, current) if fold(key) not in merged]
    try:
        config.set_defaults(name, defaults)
        if stale:
            # Defaults changed in the recipe since the last run and nobody customized them.
            config.reset(name, [pointer(key) for key in stale])
            _log.info(kv(event="recipe_defaults_changed", component=name, keys=",".join(stale)))
    except (ValueError, TypeError, KeyError) as err:
        raise RecipeError(recipe.source, "ComponentConfiguration.DefaultConfiguration", str(err)) from err
    record.remember(name, defaults)
