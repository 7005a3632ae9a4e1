"""Pure functions behind shadow sync: 3-way merge of shadow state and the patch between states.

ShadowManager's full sync (reference 6.6) merges each side against the last synced document:
a key changed on one side only takes that side's value; changed on both, the preferred side wins
(the cloud for ``desired``, the device for ``reported``). Objects merge key by key, arrays and
scalars are whole values, and a removed key is absent (``None`` never appears in a state).

Example:
    >>> three_way({"a": 1}, {"a": 2}, {"a": 1, "b": 3}, prefer="local")
    {'a': 2, 'b': 3}
"""

from __future__ import annotations

from typing import Any


def three_way(base: Any, local: Any, cloud: Any, prefer: str) -> Any:
    """Merge ``local`` and ``cloud`` against ``base``; ``prefer`` is ``"local"`` or ``"cloud"``.

    ``None`` (or a missing key) means absent. Returns the merged value, ``None`` if absent.
    """
    if local == cloud:
        return local
    if local == base:
        return cloud
    if cloud == base:
        return local
    if isinstance(local, dict) and isinstance(cloud, dict):
        base_dict = base if isinstance(base, dict) else {}
        merged: dict[str, Any] = {}
        for key in list(local) + [k for k in cloud if k not in local]:
            value = three_way(base_dict.get(key), local.get(key), cloud.get(key), prefer)
            if value is not None:
                merged[key] = value
        return merged or None
    return local if prefer == "local" else cloud


def patch(current: Any, target: Any) -> Any:
    """The update that turns ``current`` into ``target`` under shadow merge rules.

    Changed keys carry the new value, removed keys ``None``; an empty dict means nothing changes.
    """
    if not isinstance(target, dict) or not isinstance(current, dict):
        return target
    result: dict[str, Any] = {}
    for key, value in target.items():
        if key not in current:
            result[key] = value
        elif current[key] != value:
            result[key] = patch(current[key], value) if isinstance(value, dict) else value
    for key in current:
        if key not in target:
            result[key] = None
    return result


def state_patch(current: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """A shadow ``state`` update (``desired``/``reported``) from ``current`` to ``target`` sections."""
    result: dict[str, Any] = {}
    for section in ("desired", "reported"):
        now, wanted = current.get(section), target.get(section)
        if now == wanted:
            continue
        if wanted is None:
            result[section] = None
        elif now is None:
            result[section] = wanted
        else:
            result[section] = patch(now, wanted)
    return result


def sections(document: dict[str, Any] | None) -> dict[str, Any]:
    """The ``desired``/``reported`` sections of a shadow document (absent ones left out)."""
    if not document:
        return {}
    state = document.get("state") or {}
    return {key: state[key] for key in ("desired", "reported") if state.get(key)}
