"""Loading a configured model with every check, so a swap can be refused before it happens.

:func:`load_model` turns a :class:`HostedModelConfig` into a :class:`LoadedModel` through the
shared :func:`~components.common.model_host.load_hosted_model` (manifest entry or file of your
own, sha256, tensors against the manifest and the card, one test inference). This component
feeds cards whose input is a ``sensorWindow`` of temperature and/or humidity and whose output
is a ``score`` (anomaly events; :func:`window_input` turns windows into the model's input as its
card says), and cards whose input is an ``image``, fed from a topic of image messages, with any
output (prediction messages). Any failure raises :class:`ModelSwapRejected` naming the model
and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from components.common import topics
from components.common.exceptions import ModelSwapRejected
from components.common.image_preprocess import Preprocessor
from components.common.messages import IMAGE_V1, PREDICTION_V1
from components.common.model_card import ImageInput, LoadedCard, ScoreOutput, SensorWindowInput
from components.common.model_host import HostedModel, load_hosted_model
from components.common.model_manifest import VariantSpec
from components.common.model_runtime import ModelRuntime
from components.common.preprocessing import forward_fill, sensor_windows_v1
from components.inference.config import HostedModelConfig

#: The reading fields this component's windows carry.
WINDOW_FIELDS = ("temperature", "humidity")


@dataclass(frozen=True)
class LoadedModel:
    """A validated model ready to serve, with what its events report."""

    config: HostedModelConfig
    hosted: HostedModel
    version: str
    threshold: float

    @property
    def runtime(self) -> ModelRuntime:
        """The model's runtime."""
        return self.hosted.runtime

    @property
    def spec(self) -> VariantSpec | None:
        """The manifest variant, when the model is one."""
        return self.hosted.spec

    @property
    def card(self) -> LoadedCard:
        """The model's card."""
        return self.hosted.card

    @property
    def is_image(self) -> bool:
        """True for an image model (image messages in, predictions out)."""
        return isinstance(self.hosted.card.card.input, ImageInput)

    @property
    def image(self) -> ImageInput:
        """The card's input, for an image model."""
        source = self.hosted.card.card.input
        assert isinstance(source, ImageInput)
        return source

    @property
    def output_topic(self) -> str:
        """Where this model's events or predictions go."""
        return self.config.output_topic

    @property
    def window(self) -> SensorWindowInput:
        """The card's input (checked to be a sensor window at load)."""
        source = self.hosted.card.card.input
        assert isinstance(source, SensorWindowInput)
        return source

    @property
    def path(self) -> Path:
        """The model file."""
        return self.hosted.path

    @property
    def sha256(self) -> str:
        """The model file's sha256."""
        return self.hosted.sha256

    @property
    def identity(self) -> tuple[object, ...]:
        """What decides whether a new configuration needs a new model loaded."""
        return model_identity(self.config, self.runtime.num_threads)


def model_identity(config: HostedModelConfig, num_threads: int) -> tuple[object, ...]:
    """The :attr:`LoadedModel.identity` a configuration would produce."""
    return (config.path, config.variant, config.sha256, config.model, config.card, num_threads)


def window_input(
    source: SensorWindowInput, shape: tuple[int, ...], temperature: np.ndarray, humidity: np.ndarray
) -> np.ndarray:
    """A batch of windows (``(n, length)`` each, ``nan`` for a failed read) as the model's input."""
    if source.preprocessing == "sensor_window_v1":
        return sensor_windows_v1(temperature, humidity)
    columns = {"temperature": temperature, "humidity": humidity}
    stacked = np.stack(
        [forward_fill(np.asarray(columns[f], dtype=np.float64)) for f in source.fields], axis=-1
    )
    if source.preprocessing == "standardise":
        assert source.mean is not None and source.std is not None
        stacked = (stacked - np.asarray(source.mean)) / np.asarray(source.std)
        stacked[np.isnan(stacked)] = 0.0  # a window starting with failed reads: at the mean
    else:
        stacked[np.isnan(stacked)] = 0.0
    return stacked.reshape((stacked.shape[0], *shape[1:])).astype(np.float32)


def _probe(runtime: ModelRuntime, card: LoadedCard) -> np.ndarray:
    source = card.card.input
    if isinstance(source, ImageInput):
        frame = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
        return Preprocessor(runtime.inputs[0], source, use_opencv=False)(frame)
    if not isinstance(source, SensorWindowInput):
        raise ModelSwapRejected(
            f"card {card.source}: input source {source.source!r}; this component feeds 'sensorWindow' and 'image' models"
        )
    unknown = [f for f in source.fields if f not in WINDOW_FIELDS]
    if unknown:
        raise ModelSwapRejected(
            f"card {card.source}: input fields {unknown}; readings carry {list(WINDOW_FIELDS)}"
        )
    if not isinstance(card.card.output, ScoreOutput):
        raise ModelSwapRejected(
            f"card {card.source}: output kind {card.card.output.kind!r}; a sensorWindow model here publishes 'score' anomaly events"
        )
    rng = np.random.default_rng(0)
    t = 22.0 + rng.normal(0.0, 0.15, (1, source.length)).round(1)
    h = 45.0 + rng.normal(0.0, 0.5, (1, source.length)).round(1)
    return window_input(source, runtime.inputs[0].shape, t, h)


def check_image_topics(config: HostedModelConfig, where: str) -> None:
    """An image model reads and writes topics of its own, never the sensor ones.

    Raises:
        ModelSwapRejected: naming the key.
    """
    for key, value, sensor_topic in (
        ("inputTopic", config.input_topic, topics.READINGS),
        ("outputTopic", config.output_topic, topics.ANOMALIES),
    ):
        if value == sensor_topic:
            raise ModelSwapRejected(
                f"{where}: an image model needs its own '{key}' (not {sensor_topic}): "
                f"image messages ({IMAGE_V1}) in, predictions ({PREDICTION_V1}) out"
            )


def load_model(config: HostedModelConfig, num_threads: int, manifest_path: str | None = None) -> LoadedModel:
    """Validate and load one configured model.

    Raises:
        ModelSwapRejected: naming the model and what is wrong.
    """
    where = f"model {config.name!r}"
    hosted = load_hosted_model(
        where=where,
        model=config.model,
        variant=config.variant,
        path=config.path,
        sha256=config.sha256,
        card=config.card,
        version=config.version,
        manifest_path=manifest_path,
        num_threads=num_threads,
        probe=_probe,
    )
    output = hosted.card.card.output
    source = hosted.card.card.input
    if isinstance(source, ImageInput):
        check_image_topics(config, where)
        threshold = output.threshold if isinstance(output, ScoreOutput) else 0.0
        return LoadedModel(config=config, hosted=hosted, version=hosted.version, threshold=threshold)
    assert isinstance(output, ScoreOutput) and isinstance(source, SensorWindowInput)
    if config.preprocessing is not None and source.preprocessing != config.preprocessing:
        raise ModelSwapRejected(
            f"{where}: the card's preprocessing is {source.preprocessing!r}, configured {config.preprocessing!r}"
        )
    return LoadedModel(
        config=config,
        hosted=hosted,
        version=hosted.version,
        threshold=config.threshold if config.threshold is not None else output.threshold,
    )
