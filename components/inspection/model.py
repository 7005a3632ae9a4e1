"""Loading the defect model with every check, so a bad swap is refused before it happens.

:func:`load_defect_model` turns a :class:`ModelConfig` into a :class:`DefectModel`: the manifest
entry exists, its preprocessing is one this component feeds (an image model), the file exists
with the expected sha256 and tensor specs, and a test inference on a synthetic part returns one
finite probability in [0, 1]. Any failure raises :class:`ModelSwapRejected` naming the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from components.common.model_errors import ModelError
from components.common.model_manifest import MANIFEST_PATH, Manifest, VariantSpec
from components.common.model_runtime import ModelRuntime
from components.inspection.config import ModelConfig
from components.inspection.exceptions import ModelSwapRejected
from components.inspection.preprocess import Preprocessor
from models.data.parts import render_part
from models.preprocessing import PART_IMAGE_V1

#: The preprocessing steps this component can feed (image models over camera frames).
SUPPORTED_PREPROCESSING = (PART_IMAGE_V1,)


@dataclass(frozen=True)
class DefectModel:
    """A validated defect model ready to serve, and what its decisions report."""

    config: ModelConfig
    spec: VariantSpec
    runtime: ModelRuntime
    version: str
    path: Path
    sha256: str

    @property
    def name(self) -> str:
        """The model's manifest name (``part_defect``)."""
        return self.spec.model

    @property
    def identity(self) -> ModelConfig:
        """What decides whether a new configuration needs this model reloaded."""
        return self.config

    def probability(self, batch: np.ndarray) -> float:
        """The defect probability of a preprocessed batch of one."""
        return float(self.runtime.predict(batch)[0, 0])


def load_defect_model(config: ModelConfig, manifest_path: str | None = None) -> DefectModel:
    """Validate and load the configured defect model.

    Raises:
        ModelSwapRejected: naming what is wrong (manifest entry, preprocessing, file, sha256,
            tensor specs, or the test inference).
    """
    where = f"model {config.model}/{config.variant}" + (f" ({config.path})" if config.path else "")
    try:
        spec = Manifest.load(manifest_path or MANIFEST_PATH).variant(config.model, config.variant)
        if spec.preprocessing not in SUPPORTED_PREPROCESSING:
            raise ModelSwapRejected(
                f"{where}: preprocessing {spec.preprocessing!r} is not an image preprocessing this "
                f"component feeds (supported: {list(SUPPORTED_PREPROCESSING)})"
            )
        path = Path(config.path) if config.path else spec.path
        runtime = ModelRuntime.load(path, expected=spec, sha256=config.sha256, num_threads=config.num_threads)
        preprocessor = Preprocessor(runtime.inputs[0], spec.preprocessing, use_opencv=False)
        probe = render_part(seed=1, index=0, defect=None)
        probability = runtime.predict(preprocessor(probe))
    except ModelSwapRejected:
        raise
    except (ModelError, ValueError) as err:
        raise ModelSwapRejected(f"{where}: {err}") from err
    if probability.shape != (1, 1) or not np.all(np.isfinite(probability)):
        raise ModelSwapRejected(
            f"{where}: test inference returned {probability.tolist()}, expected one score"
        )
    if not 0.0 <= float(probability[0, 0]) <= 1.0:
        raise ModelSwapRejected(
            f"{where}: test inference returned {float(probability[0, 0])}, expected a probability in [0, 1]"
        )
    return DefectModel(
        config=config,
        spec=spec,
        runtime=runtime,
        version=config.version or spec.version,
        path=path,
        sha256=config.sha256 or spec.sha256,
    )
