"""A component's configuration as the nucleus keeps it: a tree of nodes with case-insensitive keys.

Interior nodes (the nucleus' ``Topics``) hold children keyed by the lower-cased name; leaves
(``Topic``) hold a JSON value, lists included. Every node keeps the name it was created with (for
answers) and a modification time in epoch seconds. Not thread-safe: the store locks around it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from localcore.config.errors import ConfigInvalidUpdateError

FoldedPath = tuple[str, ...]


def fold(key: str) -> str:
    """The case-insensitive form of a key (the nucleus' ``CaseInsensitiveString``)."""
    return key.lower()


def fold_path(key_path: Sequence[str]) -> FoldedPath:
    """A key path in case-insensitive form."""
    return tuple(fold(key) for key in key_path)


@dataclass
class ConfigNode:
    """One node; ``children is None`` marks a leaf holding ``value``."""

    name: str
    modtime: float
    children: dict[str, ConfigNode] | None = field(default_factory=dict)
    value: Any = None

    @classmethod
    def leaf(cls, name: str, value: Any, modtime: float) -> ConfigNode:
        """A leaf holding a copy of ``value``."""
        return cls(name=name, modtime=modtime, children=None, value=copy.deepcopy(value))

    @classmethod
    def from_value(cls, name: str, value: Any, modtime: float, path: Sequence[str] = ()) -> ConfigNode:
        """A subtree for a JSON value: maps become interior nodes, anything else a leaf."""
        if isinstance(value, dict):
            node = cls(name=name, modtime=modtime)
            # Keys differing only in case land on one node, named as first spelled (as the nucleus does).
            merge_map(node, value, modtime, force=True, path=tuple(path))
            return node
        check_json_value(value, path)
        return cls.leaf(name, value, modtime)

    @property
    def is_leaf(self) -> bool:
        """Whether this node holds a value rather than children."""
        return self.children is None

    def child(self, key: str) -> ConfigNode | None:
        """The child called ``key`` in any case, or None (always None on a leaf)."""
        return None if self.children is None else self.children.get(fold(key))

    def put(self, node: ConfigNode) -> None:
        """Add or replace a child (replacing keeps nothing of the old one)."""
        assert self.children is not None, "only interior nodes have children"
        self.children[fold(node.name)] = node

    def remove(self, key: str) -> ConfigNode | None:
        """Remove and return the child called ``key``."""
        return None if self.children is None else self.children.pop(fold(key), None)

    def find(self, key_path: Sequence[str]) -> ConfigNode | None:
        """The node at ``key_path`` below this one (``[]`` is this node), or None."""
        node: ConfigNode | None = self
        for key in key_path:
            if node is None:
                return None
            node = node.child(key)
        return node

    def to_value(self, *, hide_private: bool = False) -> Any:
        """A plain JSON copy with the original key case.

        ``hide_private`` leaves out keys starting with ``_``, as the nucleus' ``Topics.toPOJO``
        (and so GetConfiguration's map answers) does.
        """
        if self.children is None:
            return copy.deepcopy(self.value)
        return {
            child.name: child.to_value(hide_private=hide_private)
            for child in self.children.values()
            if not (hide_private and child.name.startswith("_"))
        }

    def latest_modtime(self) -> float:
        """The newest modification time in this subtree."""
        if self.children is None:
            return self.modtime
        return max([self.modtime, *(child.latest_modtime() for child in self.children.values())])

    def leaves(self, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
        """``(original-case path, value)`` for every leaf; an empty interior counts as a leaf ``{}``."""
        if self.children is None:
            yield path, self.value
            return
        if not self.children and path:
            yield path, {}
            return
        for child in self.children.values():
            yield from child.leaves((*path, child.name))

    # --- persistence ----------------------------------------------------------------------------------
    def to_record(self) -> dict[str, Any]:
        """A JSON form that keeps names and modification times."""
        if self.children is None:
            return {"name": self.name, "modtime": self.modtime, "value": copy.deepcopy(self.value)}
        return {
            "name": self.name,
            "modtime": self.modtime,
            "children": [child.to_record() for child in self.children.values()],
        }

    @classmethod
    def from_record(cls, record: Any) -> ConfigNode:
        """Rebuild a node from :meth:`to_record`; raises ValueError naming what is malformed."""
        if not isinstance(record, dict) or not isinstance(record.get("name"), str):
            raise ValueError(f"config node record must be an object with a string 'name', got {record!r:.80}")
        modtime: Any = record.get("modtime")
        if not _is_number(modtime):
            raise ValueError(f"config node {record['name']!r} has no numeric 'modtime'")
        if "children" in record:
            children = record["children"]
            if not isinstance(children, list):
                raise ValueError(f"config node {record['name']!r} has non-list 'children'")
            node = cls(name=record["name"], modtime=float(modtime))
            for child in children:
                node.put(cls.from_record(child))
            return node
        check_json_value(record.get("value"), (record["name"],))
        return cls.leaf(record["name"], record.get("value"), float(modtime))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_key(key: Any, path: Sequence[str]) -> str:
    if not isinstance(key, str):
        raise ConfigInvalidUpdateError(
            f"configuration keys must be strings; got {key!r} under {'/'.join(path) or 'the root'}"
        )
    return key


def check_json_value(value: Any, path: Sequence[str]) -> None:
    """Refuse anything that is not a JSON value (sets, bytes, NaN ...), naming where it is."""
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if math.isfinite(value):
            return
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_json_value(item, (*path, str(index)))
        return
    elif isinstance(value, dict):
        for key, item in value.items():
            check_json_value(item, (*path, _check_key(key, path)))
        return
    raise ConfigInvalidUpdateError(
        f"configuration value at {'/'.join(path) or 'the root'} must be JSON "
        f"(object, array, string, finite number, boolean or null), got {value!r:.80}"
    )


def json_equal(a: Any, b: Any) -> bool:
    """Strict JSON equality: ``1``, ``1.0`` and ``true`` all differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def merge_map(
    node: ConfigNode, value: dict[str, Any], timestamp: float, *, force: bool, path: tuple[str, ...] = ()
) -> None:
    """Merge ``value`` into the interior ``node`` (the nucleus' ``updateFromMap`` with MERGE).

    Maps merge key by key, anything else replaces, a changed type replaces the node. Unless
    ``force``, a node modified after ``timestamp`` keeps its value.
    """
    for key, new in value.items():
        _check_key(key, path)
        child_path = (*path, key)
        existing = node.child(key)
        if isinstance(new, dict):
            if existing is None:
                created = ConfigNode(name=key, modtime=timestamp)
                node.put(created)
                merge_map(created, new, timestamp, force=force, path=child_path)
            elif existing.is_leaf:
                if not force and existing.modtime > timestamp:
                    continue
                replacement = ConfigNode(name=existing.name, modtime=timestamp)
                node.put(replacement)
                merge_map(replacement, new, timestamp, force=force, path=child_path)
            else:
                merge_map(existing, new, timestamp, force=force, path=child_path)
            continue
        check_json_value(new, child_path)
        if existing is None:
            node.put(ConfigNode.leaf(key, new, timestamp))
        elif existing.is_leaf:
            if not force and existing.modtime > timestamp:
                continue
            if not json_equal(existing.value, new):
                existing.value = copy.deepcopy(new)
            existing.modtime = timestamp if force else max(existing.modtime, timestamp)
        else:
            if not force and existing.latest_modtime() > timestamp:
                continue
            node.put(ConfigNode.leaf(existing.name, new, timestamp))


LeafIndex = dict[FoldedPath, tuple[tuple[str, ...], Any]]


def leaf_index(node: ConfigNode | None) -> LeafIndex:
    """Every leaf by folded path, to compare a tree before and after a change.

    Values are shared, not copied: the tree never mutates a value in place, it replaces it.
    """
    return {fold_path(path): (path, value) for path, value in node.leaves()} if node else {}


def changed_paths(old: LeafIndex, after: ConfigNode | None) -> list[list[str]]:
    """Original-case paths of leaves added, removed or changed since ``old``, in tree order."""
    new = leaf_index(after)
    changes: list[list[str]] = []
    for folded, (path, value) in new.items():
        if folded not in old or not json_equal(old[folded][1], value):
            changes.append(list(path))
    changes += [list(path) for folded, (path, _) in old.items() if folded not in new]
    return changes
