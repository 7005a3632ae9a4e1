"""The inference component's configuration: which models run, on which topics, validated.

Keys are camelCase in the recipe, deployments and the ``inference-config`` shadow; a list
(``models``) is replaced as a whole. Example (swap the running model to the float32 variant)::

    {"models": [{"name": "sensor-anomaly", "variant": "float32"}]}

or to a file deployed beside the shipped ones (its sha256 is required; its tensors must match
the manifest entry of ``model``)::

    {"models": [{"name": "sensor-anomaly", "path": "/greengrass/v2/work/models/v2.tflite",
                 "sha256": "9f2c...", "version": "1.1.0"}]}
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from components.common import topics
from models.preprocessing import SENSOR_WINDOW_V1, WINDOW

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
#: The preprocessing steps this component can feed (window models over sensor readings).
SUPPORTED_PREPROCESSING = (SENSOR_WINDOW_V1,)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=to_camel, frozen=True)


class HostedModelConfig(_Model):
    """One model the component runs: where its input comes from and where its events go."""

    name: str = Field(default="sensor-anomaly", pattern=ID_PATTERN, description="the events' model name")
    model: str = Field(
        default="sensor_anomaly", description="the manifest's model (tensor specs, preprocessing)"
    )
    variant: str = Field(default="int8", description="the manifest variant: float32, pruned or int8")
    path: str | None = Field(default=None, description="a model file outside the manifest (needs sha256)")
    sha256: str | None = Field(default=None, pattern=SHA256_PATTERN)
    version: str | None = Field(default=None, description="defaults to the manifest's version")
    input_topic: str = topics.READINGS
    output_topic: str = topics.ANOMALIES
    preprocessing: Literal["sensor_window_v1"] = "sensor_window_v1"
    threshold: float | None = Field(default=None, ge=0.0, le=1.0, description="defaults to the manifest's")
    hop: int = Field(default=1, ge=1, le=WINDOW, description="readings between two scored windows")
    publish: Literal["changes", "all"] = Field(
        default="changes", description="changes: when a sensor turns anomalous or normal; all: every window"
    )
    sensors: tuple[str, ...] = Field(default=(), description="sensor ids to score; empty: every sensor")

    @model_validator(mode="after")
    def _check(self) -> HostedModelConfig:
        if self.path is not None and self.sha256 is None:
            raise ValueError("a model 'path' outside the manifest needs its 'sha256'")
        return self


class InferenceConfig(_Model):
    """Everything the inference component needs; the defaults run the int8 sensor anomaly model."""

    models: tuple[HostedModelConfig, ...] = Field(default=(HostedModelConfig(),), min_length=1, max_length=8)
    num_threads: int = Field(default=1, ge=1, le=8)
    max_batch: int = Field(default=32, ge=1, le=256, description="windows scored in one invoke when behind")
    max_pending_windows: int = Field(
        default=4096,
        ge=1,
        le=1_000_000,
        description="windows waiting to be scored before the oldest are dropped",
    )
    health_interval_seconds: float = Field(default=10.0, gt=0.0, le=3600.0)
    manifest_path: str | None = Field(
        default=None, description="defaults to models/manifest.json of the artifact"
    )

    @model_validator(mode="after")
    def _check(self) -> InferenceConfig:
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"models: names must be unique, got {names}")
        return self
