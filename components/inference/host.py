"""Loading a configured model with every check, so a swap can be refused before it happens.

:func:`load_model` turns a :class:`HostedModelConfig` into a :class:`LoadedModel`: the manifest
entry exists, the file exists, its sha256 and tensor specs match, its preprocessing is one this
component can feed, and a test inference on a synthetic window returns a finite score in
[0, 1]. Any failure raises :class:`ModelSwapRejected` naming the model and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from components.common.model_errors import ModelError
from components.common.model_manifest import MANIFEST_PATH, Manifest, VariantSpec
from components.common.model_runtime import ModelRuntime
from components.inference.config import SUPPORTED_PREPROCESSING, HostedModelConfig
from components.inference.exceptions import ModelSwapRejected
from models.preprocessing import WINDOW, sensor_windows_v1


@dataclass(frozen=True)
class LoadedModel:
    """A validated model ready to serve, with what its events report."""

    config: HostedModelConfig
    spec: VariantSpec
    runtime: ModelRuntime
    version: str
    threshold: float
    path: Path
    sha256: str

    @property
    def identity(self) -> tuple[str | None, str, str | None, str | None, int]:
        """What decides whether a new configuration needs a new model loaded."""
        c = self.config
        return (c.path, c.variant, c.sha256, c.model, self.runtime.num_threads)


def model_identity(
    config: HostedModelConfig, num_threads: int
) -> tuple[str | None, str, str | None, str | None, int]:
    """The :attr:`LoadedModel.identity` a configuration would produce."""
    return (config.path, config.variant, config.sha256, config.model, num_threads)


def _test_window() -> np.ndarray:
    rng = np.random.default_rng(0)
    t = 22.0 + rng.normal(0.0, 0.15, (1, WINDOW)).round(1)
    h = 45.0 + rng.normal(0.0, 0.5, (1, WINDOW)).round(1)
    return sensor_windows_v1(t, h)


def load_model(config: HostedModelConfig, num_threads: int, manifest_path: str | None = None) -> LoadedModel:
    """Validate and load one configured model.

    Raises:
        ModelSwapRejected: naming the model and what is wrong (manifest entry, file, sha256,
            tensor specs, preprocessing, or the test inference).
    """
    where = f"model {config.name!r}"
    try:
        manifest = Manifest.load(manifest_path or MANIFEST_PATH)
        spec = manifest.variant(config.model, config.variant)
        if spec.preprocessing not in SUPPORTED_PREPROCESSING or spec.preprocessing != config.preprocessing:
            raise ModelSwapRejected(
                f"{where}: the manifest's preprocessing {spec.preprocessing!r} is not the configured "
                f"{config.preprocessing!r} (supported: {list(SUPPORTED_PREPROCESSING)})"
            )
        path = Path(config.path) if config.path else spec.path
        runtime = ModelRuntime.load(path, expected=spec, sha256=config.sha256, num_threads=num_threads)
        score = runtime.predict(_test_window())
    except ModelSwapRejected:
        raise
    except ModelError as err:
        raise ModelSwapRejected(f"{where}: {err}") from err
    if score.shape != (1, 1) or not np.all(np.isfinite(score)) or not 0.0 <= float(score[0, 0]) <= 1.0:
        raise ModelSwapRejected(
            f"{where}: test inference returned {score.tolist()}, expected one score in [0, 1]"
        )
    return LoadedModel(
        config=config,
        spec=spec,
        runtime=runtime,
        version=config.version or spec.version,
        threshold=config.threshold if config.threshold is not None else spec.threshold,
        path=path,
        sha256=config.sha256 or spec.sha256,
    )
