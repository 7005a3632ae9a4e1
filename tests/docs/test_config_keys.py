"""Every configuration key a component accepts is written, as code, in that component's doc.

The keys come from the component's configuration model (msgspec Structs), walked recursively (nested
models, lists and maps of models, discriminated unions), each field named by its alias as
recipes, deployments and shadows spell it (``intervalSeconds``, not ``interval_seconds``). A key
added to a model and not to the doc fails here, naming the key's path and the doc to add it to.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import msgspec
import pytest

from components.common import topics
from components.inference.config import InferenceConfig
from components.inspection.config import InspectionConfig
from components.sensing.config import SensingConfig
from components.sync.config import StreamPolicy, SyncConfig
from tests.docs.markdown import code_identifiers, read

DOCS = Path(__file__).resolve().parents[2] / "docs"

# Fields typed as free-form maps whose entries are validated by another model later on. Sync's
# ``streams`` is ``{stream name: partial StreamPolicy}`` merged over the defaults by
# ``effective_policies``, so its keys are the stream names and StreamPolicy's fields.
MAP_VALUE_MODELS: dict[tuple[type[msgspec.Struct], str], type[msgspec.Struct]] = {
    (SyncConfig, "streams"): StreamPolicy
}
MAP_KEYS: dict[tuple[type[msgspec.Struct], str], tuple[str, ...]] = {
    (SyncConfig, "streams"): tuple(topics.TELEMETRY_TOPICS.values())
}

COMPONENT_DOCS: dict[str, tuple[type[msgspec.Struct], str]] = {
    "com.edgebundle.Sensing": (SensingConfig, "sensing.md"),
    "com.edgebundle.Inference": (InferenceConfig, "inference.md"),
    "com.edgebundle.QualityInspection": (InspectionConfig, "inspection.md"),
    "com.edgebundle.Sync": (SyncConfig, "sync.md"),
}


def _models_in(annotation: Any) -> list[type[msgspec.Struct]]:
    """The models an annotation can hold (through Optional, unions, tuples, lists, maps)."""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is Literal or origin is None:
        return []
    args = typing.get_args(annotation)
    if origin is Annotated:
        return _models_in(args[0])
    if origin in (Union, types.UnionType, tuple, list, set, frozenset, dict) or origin is not None:
        # A map's keys are data (sensor ids, field names), never configuration keys: values only.
        inner = args[1:] if origin is dict else args
        return [model for arg in inner if arg is not Ellipsis for model in _models_in(arg)]
    return []


def config_keys(model: type[msgspec.Struct], prefix: str = "") -> dict[str, str]:
    """Every key ``model`` accepts: ``{key: dotted path of its first occurrence}``, as encoded."""
    keys: dict[str, str] = {}
    tag_field = model.__struct_config__.tag_field  # a tagged union member's "type" is a key too
    if tag_field is not None:
        keys[tag_field] = f"{prefix}{tag_field}"
    for field in msgspec.structs.fields(model):
        name, key = field.name, field.encode_name
        path = f"{prefix}{key}"
        keys.setdefault(key, path)
        nested = _models_in(field.type)
        value_model = MAP_VALUE_MODELS.get((model, name))
        if value_model is not None:
            nested.append(value_model)
        for map_key in MAP_KEYS.get((model, name), ()):
            keys.setdefault(map_key, f"{path}.{map_key}")
        for inner in nested:
            for inner_key, inner_path in config_keys(inner, f"{path}.").items():
                keys.setdefault(inner_key, inner_path)
    return keys


def undocumented(model: type[msgspec.Struct], doc_text: str) -> list[str]:
    """The paths of ``model``'s keys that ``doc_text`` never writes as code."""
    written = code_identifiers(doc_text)
    return sorted(path for key, path in config_keys(model).items() if key not in written)


@pytest.mark.parametrize("component", sorted(COMPONENT_DOCS))
def test_every_configuration_key_is_documented(component: str) -> None:
    # GIVEN the component's configuration model and its doc
    model, doc = COMPONENT_DOCS[component]
    # WHEN the model's keys are looked up in the doc's code
    missing = undocumented(model, read(DOCS / doc))
    # THEN none is missing
    assert not missing, f"docs/{doc} does not mention these {component} configuration keys: {missing}"


def test_the_walk_reaches_nested_list_union_and_map_keys() -> None:
    # A key from each kind of nesting the real models use, so a walk that stopped short fails here.
    sensing = config_keys(SensingConfig)
    assert sensing["intervalSeconds"] == "sensors.intervalSeconds"  # tuple of models
    assert sensing["maxPerSecond"] == "rules.maxPerSecond"  # discriminated union inside a tuple
    assert sensing["humidityMagnitude"] == "sensors.simulation.spike.humidityMagnitude"  # 3 deep
    inspection = config_keys(InspectionConfig)
    assert inspection["defectRate"] == "camera.defectRate"  # union member
    assert inspection["width"] == "camera.width"
    assert inspection["x"] == "crop.x"  # Optional model
    sync = config_keys(SyncConfig)
    assert sync["strategyOnFull"] == "streams.strategyOnFull"  # map validated by another model
    assert sync["readings"] == "streams.readings"
    assert sync["maxAgeSeconds"] == "batch.maxAgeSeconds"


class _Extra(msgspec.Struct, frozen=True, rename="camel"):
    """A new nested section (module level: msgspec resolves annotations in the module's globals)."""

    brand_new_knob: int = 1


class _GrownSyncConfig(SyncConfig, frozen=True):
    """SyncConfig as it would be after someone adds a key."""

    extra: _Extra = msgspec.field(default_factory=_Extra, name="extraSection")


def test_a_key_added_to_a_model_without_its_doc_is_reported() -> None:
    # GIVEN the sync model with one more nested key, and the real doc
    # WHEN it is checked against docs/sync.md
    missing = undocumented(_GrownSyncConfig, read(DOCS / "sync.md"))
    # THEN both new keys are reported by path, and nothing else
    assert missing == ["extraSection", "extraSection.brandNewKnob"]


def test_prose_does_not_count_only_code_does() -> None:
    class Small(msgspec.Struct, rename="camel"):
        """Two keys."""

        interval_seconds: float = 1.0
        pin: str = "D4"

    text = "The pin is chosen by intervalSeconds.\n\n| `pin` | `D4` |\n"
    assert undocumented(Small, text) == ["intervalSeconds"]
