"""Hosting any TFLite model by its card: load, check against the card, probe, run, interpret.

Used by both model-hosting components (inference, inspection), so a model is validated the same
way wherever it runs. :func:`load_hosted_model` resolves the model file and its card (a manifest
variant and the manifest's card, or a file of your own with its sha256 and its
``.card.json``), loads it with :class:`~components.common.model_runtime.ModelRuntime`, holds the
model's tensors to the card (:func:`check_card`: a mismatch names the file, the tensor and what
was expected), runs one test inference on the component's probe input and checks what comes
back. Any failure raises :class:`ModelSwapRejected`, so the running model keeps serving.

:meth:`HostedModel.run` returns one :class:`Prediction` per item: every output tensor, and what
the card says they mean (a score, the top-k classes, or detections).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from components.common.exceptions import ModelSwapRejected
from components.common.model_card import ClassificationOutput, LoadedCard, card_path_for, load_card
from components.common.model_errors import ModelError
from components.common.model_interpret import Prediction, check_card, interpret
from components.common.model_manifest import MANIFEST_PATH, Manifest, VariantSpec
from components.common.model_runtime import ModelRuntime


@dataclass(frozen=True)
class HostedModel:
    """A validated model ready to serve: its runtime, card and what its messages report."""

    name: str  # the manifest model, or the card's name for a model of your own
    card: LoadedCard
    runtime: ModelRuntime
    version: str
    path: Path
    sha256: str
    spec: VariantSpec | None  # the manifest variant, when there is one

    @property
    def kind(self) -> str:
        """The card's output kind: ``score``, ``classification``, ``detection`` or ``raw``."""
        return self.card.card.output.kind

    def run(self, x: np.ndarray) -> list[Prediction]:
        """Predictions for a preprocessed batch (batched only where the model allows it)."""
        return interpret(self.card, self.runtime.predict_all(x))


Probe = Callable[[ModelRuntime, LoadedCard], np.ndarray]


def _check_probe(model: HostedModel, prediction: Prediction, where: str) -> None:
    for index, out in enumerate(prediction.outputs):
        if not np.all(np.isfinite(out)):
            raise ModelSwapRejected(f"{where}: test inference gave non-finite values in output {index}")
    if model.kind == "score":
        score = prediction.score
        if score is None or not math.isfinite(score) or not 0.0 <= score <= 1.0:
            raise ModelSwapRejected(
                f"{where}: test inference returned score {score}, expected one score in [0, 1]"
            )
    if model.kind == "classification":
        output = model.card.card.output
        assert isinstance(output, ClassificationOutput)
        if output.activation == "softmax":
            total = float(np.sum(prediction.outputs[output.tensor]))
            if not 0.9 <= total <= 1.1:
                raise ModelSwapRejected(
                    f"{where}: test inference class probabilities sum to {total:.3f}, expected 1 "
                    "(softmax); set activation 'logits' if the model outputs logits"
                )


def load_hosted_model(
    *,
    where: str,
    model: str | None,
    variant: str,
    path: str | None,
    sha256: str | None,
    card: str | None,
    version: str | None,
    manifest_path: str | None,
    num_threads: int,
    probe: Probe,
) -> HostedModel:
    """Resolve, load, check and probe one model.

    Args:
        where: how messages name the model (``model 'sensor-anomaly'``).
        model: the manifest's model name, or ``None`` for a model of your own.
        variant: the manifest variant (when ``path`` is not given).
        path: a model file outside the manifest (needs ``sha256``).
        card: its card file; default ``<path minus .tflite>.card.json``, else the manifest
            model's card (a retrained copy of a shipped model).
        probe: builds the test input from the runtime and card (the component's preprocessing).

    Raises:
        ModelSwapRejected: naming what is wrong.
    """
    try:
        spec: VariantSpec | None = None
        own_card = path is not None and (card is not None or card_path_for(Path(path)).exists())
        if own_card:
            # A model of your own with its own card: the card, not a manifest entry, describes it.
            assert path is not None
            model_path = Path(path)
            loaded_card = load_card(Path(card) if card else card_path_for(model_path))
        elif model is not None:
            manifest = Manifest.load(manifest_path or MANIFEST_PATH)
            spec = manifest.variant(model, variant)
            # A file of your own without a card is a retrained copy of the manifest's model.
            model_path = Path(path) if path is not None else spec.path
            loaded_card = manifest.card(spec.model)
        else:
            raise ModelSwapRejected(
                f"{where}: name a manifest 'model', or a 'path' with its 'sha256' and its card "
                "(the 'card' key, or a .card.json file beside the model)"
            )
        runtime = ModelRuntime.load(
            model_path,
            expected=spec,
            sha256=sha256,
            num_threads=num_threads,
            stateful=loaded_card.card.stateful,
        )
        check_card(runtime, loaded_card)
        hosted = HostedModel(
            name=spec.model if spec is not None else loaded_card.card.name,  # events keep the manifest name
            card=loaded_card,
            runtime=runtime,
            version=version or loaded_card.card.version,
            path=model_path,
            sha256=sha256 or (spec.sha256 if spec is not None else ""),
            spec=spec,
        )
        prediction = hosted.run(probe(runtime, loaded_card))[0]
        if runtime.stateful:
            runtime.reset()  # the probe must not be the first thing in a streaming model's state
    except ModelSwapRejected:
        raise
    except (ModelError, ValueError) as err:
        raise ModelSwapRejected(f"{where}: {err}") from err
    _check_probe(hosted, prediction, where)
    return hosted
