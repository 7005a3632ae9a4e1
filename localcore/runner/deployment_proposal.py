"""A component's proposed configuration: what a deployment's ``configurationUpdate`` would make it.

The nucleus builds it before anything changes, and offers exactly this to the component for
validation (reference greengrass-deployments.md section 1.3, 2.3): start from the configuration
in effect, delete each ``reset`` pointer (``""`` deletes everything), fill what is missing from
the recipe's DefaultConfiguration, then merge ``merge`` (maps key by key, anything else whole).

Example::

    propose_configuration({"a": 1, "b": 2}, {"b": 0}, reset=["/b"], merge={"c": 3})
    # {"a": 1, "b": 0, "c": 3}
"""

from __future__ import annotations

import copy
from typing import Any

from localcore.config.pointer import parse_pointer


def propose_configuration(
    current: dict[str, Any],
    defaults: dict[str, Any],
    *,
    reset: list[str] | None,
    merge: dict[str, Any] | None,
) -> dict[str, Any]:
    """The whole configuration ``current`` becomes under the update (not a diff); inputs are unchanged."""
    proposed = copy.deepcopy(current)
    for pointer in reset or []:
        if pointer == "":
            proposed = {}
            break  # the nucleus ignores pointers after "" (section 1.3)
        _delete(proposed, parse_pointer(pointer))
    _fill_missing(proposed, defaults)
    if merge:
        _merge(proposed, merge)
    return proposed


def _find_key(mapping: dict[str, Any], key: str) -> str | None:
    # The nucleus' configuration keys are case-insensitive (section 1.3).
    for candidate in mapping:
        if candidate.lower() == key.lower():
            return candidate
    return None


def _delete(tree: dict[str, Any], keys: list[str]) -> None:
    node: Any = tree
    for key in keys[:-1]:
        if not isinstance(node, dict):
            return
        found = _find_key(node, key)
        if found is None:
            return
        node = node[found]
    if isinstance(node, dict) and keys:
        found = _find_key(node, keys[-1])
        if found is not None:
            del node[found]


def _fill_missing(tree: dict[str, Any], defaults: dict[str, Any]) -> None:
    for key, value in defaults.items():
        found = _find_key(tree, key)
        if found is None:
            tree[key] = copy.deepcopy(value)
        elif isinstance(tree[found], dict) and isinstance(value, dict):
            _fill_missing(tree[found], value)


def _merge(tree: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        found = _find_key(tree, key)
        if found is not None and isinstance(tree[found], dict) and isinstance(value, dict):
            _merge(tree[found], value)
        else:
            if found is not None and found != key:
                del tree[found]
            tree[key] = copy.deepcopy(value)
