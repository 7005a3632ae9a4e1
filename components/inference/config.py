"""The inference component's configuration: which models run, on which topics, validated.

Keys are camelCase in the recipe, deployments and the ``inference-config`` shadow; a list
(``models``) is replaced as a whole. Example (swap the running model to the float32 variant)::

    {"models": [{"name": "sensor-anomaly", "variant": "float32"}]}

or to a file deployed beside the shipped ones (its sha256 is required; it is described by its
card, ``card`` or ``<file>.card.json``, else its tensors must match the manifest entry of
``model``)::

    {"models": [{"name": "sensor-anomaly", "path": "/greengrass/v2/work/models/v2.tflite",
                 "sha256": "9f2c...", "version": "1.1.0"}]}
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from components.common import topics
from components.common.structs import ConfigStruct, Id, Sha256


class HostedModelConfig(ConfigStruct, frozen=True):
    """One model the component runs: where its input comes from and where its events go."""

    name: Id = "sensor-anomaly"  # the events' model name
    model: str | None = "sensor_anomaly"  # the manifest's model (tensor specs, card)
    variant: str = "int8"  # the manifest variant: float32, pruned or int8
    path: str | None = None  # a model file outside the manifest (needs sha256)
    sha256: Sha256 | None = None
    card: str | None = None  # its model card; default: <path without .tflite>.card.json
    # defaults to the manifest's version; bounded: every event and the status carry it
    version: Annotated[str, Meta(min_length=1, max_length=64)] | None = None
    input_topic: str = topics.READINGS
    output_topic: str = topics.ANOMALIES
    preprocessing: Literal["sensor_window_v1"] | None = None  # if set, the card's must be this
    threshold: Annotated[float, Meta(ge=0.0, le=1.0)] | None = None  # defaults to the manifest's
    hop: Annotated[int, Meta(ge=1, le=100_000)] = 1  # readings between two scored windows
    # changes: when a sensor turns anomalous or normal; all: every window
    publish: Literal["changes", "all"] = "changes"
    sensors: tuple[str, ...] = ()  # sensor ids to score; empty: every sensor

    def __post_init__(self) -> None:
        if self.path is not None and self.sha256 is None:
            raise ValueError("a model 'path' outside the manifest needs its 'sha256'")
        if self.card is not None and self.path is None:
            raise ValueError("a 'card' describes a model 'path' of your own; a manifest model has its card")


class InferenceConfig(ConfigStruct, frozen=True):
    """Everything the inference component needs; the defaults run the int8 sensor anomaly model."""

    models: Annotated[tuple[HostedModelConfig, ...], Meta(min_length=1, max_length=8)] = (
        HostedModelConfig(),
    )
    num_threads: Annotated[int, Meta(ge=1, le=8)] = 1
    max_batch: Annotated[int, Meta(ge=1, le=256)] = 32  # windows scored in one invoke when behind
    # windows waiting to be scored before the oldest are dropped
    max_pending_windows: Annotated[int, Meta(ge=1, le=1_000_000)] = 4096
    health_interval_seconds: Annotated[float, Meta(gt=0.0, le=3600.0)] = 10.0
    manifest_path: str | None = None  # defaults to models/manifest.json of the artifact

    def __post_init__(self) -> None:
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"models: names must be unique, got {names}")
