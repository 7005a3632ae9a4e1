"""Loading the inspection model with every check, so a bad swap is refused before it happens.

:func:`load_defect_model` turns a :class:`ModelConfig` into a :class:`DefectModel` through the
shared :func:`~components.common.model_host.load_hosted_model` (manifest entry or file of your
own, sha256, tensors against the manifest and the card, one test inference on a synthetic part
through this component's :class:`Preprocessor`). The card's input must be an ``image``; its
output may be any kind: a defect ``score``, a ``classification`` or ``detection`` (see
:mod:`components.inspection.decision` for how each becomes a decision), or ``raw``. Any failure
raises :class:`ModelSwapRejected` naming the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from components.common.exceptions import ModelSwapRejected
from components.common.image_preprocess import Preprocessor
from components.common.model_card import ImageInput, LoadedCard, ScoreOutput
from components.common.model_host import HostedModel, load_hosted_model
from components.common.model_interpret import Prediction
from components.common.model_manifest import VariantSpec
from components.common.model_runtime import ModelRuntime
from components.inspection.cameras.parts import render_part
from components.inspection.config import ModelConfig


@dataclass(frozen=True)
class DefectModel:
    """A validated inspection model ready to serve, and what its decisions report."""

    config: ModelConfig
    hosted: HostedModel

    @property
    def name(self) -> str:
        """The model's manifest name (``part_defect``), or its card's name."""
        return self.hosted.name

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
    def image_input(self) -> ImageInput:
        """The card's image input (checked at load)."""
        source = self.hosted.card.card.input
        assert isinstance(source, ImageInput)
        return source

    @property
    def kind(self) -> str:
        """The card's output kind."""
        return self.hosted.kind

    @property
    def score_threshold(self) -> float:
        """A ``score`` card's threshold (the one its held-out figures are given at).

        Raises:
            ValueError: the card's output is not a score.
        """
        output = self.hosted.card.card.output
        if not isinstance(output, ScoreOutput):
            raise ValueError(f"{self.path}: a {self.kind} model has no score threshold")
        return output.threshold

    @property
    def version(self) -> str:
        """The version decisions report."""
        return self.hosted.version

    @property
    def path(self) -> Path:
        """The model file."""
        return self.hosted.path

    @property
    def sha256(self) -> str:
        """The model file's sha256."""
        return self.hosted.sha256

    @property
    def identity(self) -> ModelConfig:
        """What decides whether a new configuration needs this model reloaded."""
        return self.config

    def predict(self, batch: np.ndarray) -> Prediction:
        """The prediction for a preprocessed batch of one."""
        return self.hosted.run(batch)[0]

    def probability(self, batch: np.ndarray) -> float:
        """The defect probability of a preprocessed batch of one (a ``score`` model)."""
        score = self.predict(batch).score
        if score is None:
            raise ValueError(f"{self.path}: a {self.kind} model has no single probability")
        return score


def _probe(runtime: ModelRuntime, card: LoadedCard) -> np.ndarray:
    source = card.card.input
    if not isinstance(source, ImageInput):
        raise ModelSwapRejected(
            f"card {card.source}: input source {source.source!r}; this component feeds 'image' models"
        )
    part = render_part(seed=1, index=0, defect=None)
    frame = part if source.colour == "grey" else np.repeat(part[:, :, None], 3, axis=2)
    return Preprocessor(runtime.inputs[0], source, use_opencv=False)(frame)


def load_defect_model(config: ModelConfig, manifest_path: str | None = None) -> DefectModel:
    """Validate and load the configured inspection model.

    Raises:
        ModelSwapRejected: naming what is wrong (manifest entry, card, file, sha256, tensors, or
            the test inference).
    """
    where = f"model {config.model}/{config.variant}" + (f" ({config.path})" if config.path else "")
    hosted = load_hosted_model(
        where=where,
        model=config.model,
        variant=config.variant,
        path=config.path,
        sha256=config.sha256,
        card=config.card,
        version=config.version,
        manifest_path=manifest_path,
        num_threads=config.num_threads,
        probe=_probe,
    )
    return DefectModel(config=config, hosted=hosted)
