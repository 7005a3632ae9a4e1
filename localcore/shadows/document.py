"""Pure functions over shadow documents: merge, metadata, delta, size and versions.

Mirrors ShadowManager (reference section 6; SHM ``util/JsonUtil.java``, ``util/JsonMerger.java``,
``model/ShadowState.java``, ``model/ShadowStateMetadata.java``). Nothing here does I/O or keeps
state: the store calls these under its lock and persists the result.

A stored document is a :class:`ShadowDocument`: ``state`` and ``metadata`` each hold at most
``desired`` and ``reported`` (an empty section is absent), plus the version.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from localcore.shadows.errors import ShadowConflictError, ShadowInvalidRequestError, ShadowTooLargeError
from localcore.shadows.jsonvalues import dump_json, is_null_or_empty, is_number, json_equal
from localcore.shadows.request import SECTIONS, UpdateRequest

DEFAULT_DOCUMENT_SIZE = 8 * 1024  # SHM Constants.DEFAULT_DOCUMENT_SIZE
MAX_DOCUMENT_SIZE = 30 * 1024  # SHM Constants.MAX_SHADOW_DOCUMENT_SIZE


@dataclass(frozen=True)
class ShadowDocument:
    """One stored shadow: ``state``/``metadata`` with optional ``desired``/``reported``, and ``version``."""

    state: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        """The document as ShadowManager writes it in ``documents`` payloads (state, metadata, version)."""
        return {
            "state": copy.deepcopy(self.state),
            "metadata": copy.deepcopy(self.metadata),
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShadowDocument:
        """Rebuild a document written by :meth:`to_json`; raises ValueError naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"shadow document must be a JSON object, got {type(data).__name__}")
        state, metadata, version = data.get("state"), data.get("metadata"), data.get("version")
        state = {} if state is None else state
        metadata = {} if metadata is None else metadata
        if not isinstance(state, dict) or not isinstance(metadata, dict):
            raise ValueError("shadow document 'state' and 'metadata' must be JSON objects")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ValueError(f"shadow document 'version' must be an integer >= 1, got {version!r}")
        for section in (*state, *metadata):
            if section not in SECTIONS:
                raise ValueError(
                    f"shadow document has unexpected section {section!r}, expected desired/reported"
                )
        return cls(state=copy.deepcopy(state), metadata=copy.deepcopy(metadata), version=version)


@dataclass(frozen=True)
class UpdateOutcome:
    """The result of applying an update: the new document and the request's metadata patch."""

    previous: ShadowDocument | None
    current: ShadowDocument
    metadata_patch: dict[str, Any] | None


def check_version(requested: int | None, current: ShadowDocument | None) -> None:
    """ShadowManager's version rule: absent -> no check; new shadow -> must be 1; else must equal current."""
    if requested is None:
        return
    if current is None:
        if requested != 1:
            raise ShadowInvalidRequestError("Invalid version")
        return
    if requested != current.version:
        raise ShadowConflictError()


# --- merge ------------------------------------------------------------------------------------------
def _merge_tree(node: dict[str, Any]) -> dict[str, Any] | None:
    # JsonMerger.createMergeTree: copy without nulls; an object holding only nulls collapses to None.
    result: dict[str, Any] = {}
    saw_null = False
    for key, value in node.items():
        if is_null_or_empty(value):
            saw_null = True
            continue
        if isinstance(value, dict):
            child = _merge_tree(value)
            if child is None:
                saw_null = True
            else:
                result[key] = child
            continue
        result[key] = copy.deepcopy(value)
    if saw_null and not result:
        return None
    return result


def merge_object(source: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JsonMerger.merge over objects, returning a new dict.

    A field set to null (or ``{}``) is removed, objects merge recursively, arrays and scalars
    replace the old value.
    """
    result = dict(source)
    for key, patch_value in patch.items():
        original = result.get(key)
        if is_null_or_empty(patch_value):
            if not is_null_or_empty(original):
                del result[key]
            continue
        if isinstance(patch_value, dict):
            if isinstance(original, dict) and original:
                result[key] = merge_object(original, patch_value)
                continue
            # SHM copies an object verbatim over a scalar or array, nulls included; we strip the
            # nulls as for a new field, so a stored state never holds null. An object of nulls only
            # deletes fields that do not exist: the old value stays.
            child = _merge_tree(patch_value)
            if child is not None:
                result[key] = child
            continue
        result[key] = copy.deepcopy(patch_value)
    return result


def merge_state(state: dict[str, Any], patch: dict[str, Any] | None) -> dict[str, Any]:
    """ShadowState.update: merge a request's ``state`` into a stored ``state``; empty sections vanish.

    Deliberate difference: SHM copies a section verbatim (nulls included) when the stored section
    is absent; we always merge, so a null never survives into the stored state.
    """
    if patch is None:
        return {}
    result = {key: value for key, value in state.items() if key in SECTIONS}
    for section in SECTIONS:
        if section not in patch:
            continue
        value = patch[section]
        if is_null_or_empty(value):
            result.pop(section, None)
            continue
        merged = merge_object(result.get(section) or {}, value)
        if merged:
            result[section] = merged
        else:
            result.pop(section, None)
    return result


# --- metadata ----------------------------------------------------------------------------------------
def metadata_patch(node: Any, timestamp: int) -> Any:
    """The request tree with every leaf (nulls and array elements included) -> ``{"timestamp": t}``."""
    if isinstance(node, dict):
        return {key: metadata_patch(value, timestamp) for key, value in node.items()}
    if isinstance(node, list):
        return [metadata_patch(value, timestamp) for value in node]
    return {"timestamp": timestamp}


def _merge_metadata(state: Any, old: Any, patch: Any) -> Any:
    # The state after the merge drives the shape: metadata exists exactly where state does.
    if patch is None:
        return copy.deepcopy(old)
    if isinstance(state, dict) and isinstance(patch, dict):
        base = old if isinstance(old, dict) and not _is_leaf_metadata(old, state) else {}
        result: dict[str, Any] = {}
        for key, value in state.items():
            if key in patch:
                result[key] = _merge_metadata(value, base.get(key), patch[key])
            elif key in base:
                result[key] = copy.deepcopy(base[key])
        return result
    if isinstance(state, list) and isinstance(patch, list):
        return copy.deepcopy(patch)
    if not isinstance(state, (dict, list)) and _is_timestamp_node(patch):
        return copy.deepcopy(patch)
    # The patch's shape does not fit the state (an object of nulls aimed at a scalar or array
    # left it unchanged), so the old metadata still describes it.
    return copy.deepcopy(old)


def _is_timestamp_node(node: Any) -> bool:
    return isinstance(node, dict) and set(node) == {"timestamp"} and isinstance(node["timestamp"], int)


def _is_leaf_metadata(meta: dict[str, Any], state: dict[str, Any]) -> bool:
    # A scalar that became an object: its old {"timestamp": t} must not leak into the object's metadata.
    return set(meta) == {"timestamp"} and "timestamp" not in state


def merge_metadata(
    state: dict[str, Any], metadata: dict[str, Any], patch: dict[str, Any] | None
) -> dict[str, Any]:
    """ShadowStateMetadata.update: merge a metadata patch, pruned to where the new ``state`` has fields."""
    if not state or patch is None:
        return {}
    result: dict[str, Any] = {}
    for section in SECTIONS:
        if section not in state:
            continue
        section_patch = patch.get(section) if isinstance(patch.get(section), dict) else None
        merged = _merge_metadata(state[section], metadata.get(section), section_patch)
        if merged:
            result[section] = merged
    return result


# --- delta -------------------------------------------------------------------------------------------
def _delta_value(reported: Any, desired: Any) -> Any:
    if isinstance(reported, dict) and isinstance(desired, dict):
        result = _delta_object(reported, desired)
        return result if result else _NO_DELTA
    if is_number(reported) and is_number(desired):
        # JsonUtil.calculateDelta compares numbers semantically (asLong and asDouble).
        same = int(reported) == int(desired) and float(reported) == float(desired)
        return _NO_DELTA if same else desired
    return _NO_DELTA if json_equal(reported, desired) else desired


_NO_DELTA = object()


def _delta_object(reported: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, desired_value in desired.items():
        reported_value = reported.get(key)
        if is_null_or_empty(desired_value):
            if not is_null_or_empty(reported_value):
                result[key] = None
            continue
        if is_null_or_empty(reported_value):
            result[key] = copy.deepcopy(desired_value)
            continue
        diff = _delta_value(reported_value, desired_value)
        if diff is not _NO_DELTA:
            result[key] = copy.deepcopy(diff)
    return result


def compute_delta(state: dict[str, Any]) -> dict[str, Any] | None:
    """The delta of a stored state: desired fields that differ from reported, or None if there is none."""
    desired = state.get("desired")
    if not desired:
        return None
    reported = state.get("reported")
    if not reported:
        return copy.deepcopy(desired)
    delta = _delta_object(reported, desired)
    return delta or None


def delta_metadata(delta: Any, desired_metadata: Any) -> Any:
    """ShadowStateMetadata.buildMetadata: the desired metadata along the delta's shape."""
    if isinstance(delta, dict):
        meta = desired_metadata if isinstance(desired_metadata, dict) else {}
        return {key: delta_metadata(value, meta.get(key)) for key, value in delta.items()}
    if isinstance(delta, list):
        meta_list = desired_metadata if isinstance(desired_metadata, list) else []
        return [
            delta_metadata(value, meta_list[index] if index < len(meta_list) else None)
            for index, value in enumerate(delta)
        ]
    return copy.deepcopy(desired_metadata)


# --- update ---------------------------------------------------------------------------------------------
def state_size(state: dict[str, Any]) -> int:
    """ShadowManager's document size: serialized desired plus serialized reported, in bytes."""
    return sum(len(dump_json(state[section])) for section in SECTIONS if state.get(section))


def apply_update(
    current: ShadowDocument | None,
    request: UpdateRequest,
    now: int,
    *,
    max_size: int = DEFAULT_DOCUMENT_SIZE,
) -> UpdateOutcome:
    """Check the version, merge state and metadata, check the size; return the new document.

    Raises :class:`ShadowConflictError`, :class:`ShadowInvalidRequestError` or
    :class:`ShadowTooLargeError`; ``current`` is never modified.
    """
    check_version(request.version, current)
    old_state = current.state if current else {}
    old_metadata = current.metadata if current else {}
    new_state = merge_state(old_state, request.state)
    patch = metadata_patch(request.state, now) if request.state is not None else None
    new_metadata = merge_metadata(new_state, old_metadata, patch)
    if state_size(new_state) > max_size:
        raise ShadowTooLargeError()
    version = current.version + 1 if current else 1
    document = ShadowDocument(state=new_state, metadata=new_metadata, version=version)
    return UpdateOutcome(previous=current, current=document, metadata_patch=patch)
