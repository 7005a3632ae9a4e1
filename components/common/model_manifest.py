"""``models/manifest.json``: what each shipped model variant is, read and checked in one place.

The manifest is written by ``models/train.py``. Per model it holds the version, its model card
(:mod:`components.common.model_card`: what feeds it, how its outputs are read), the training
details and, per variant (``float32``, ``pruned``, ``int8``), the file, its sha256 and size,
the input/output tensor specs with quantization parameters, and the held-out metrics.

Example::

    manifest = Manifest.load()                      # models/manifest.json next to this package
    spec = manifest.variant("sensor_anomaly", "int8")
    spec.path, spec.sha256, spec.inputs[0].shape    # Path(...), "9f2c...", (1, 64, 5)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.common.model_card import LoadedCard, parse_card
from components.common.model_errors import ManifestError, ModelCardError

#: ``models/`` of this source tree (and of the component artifact, which has the same layout).
MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
MANIFEST_PATH = MODELS_DIR / "manifest.json"
MANIFEST_SCHEMA = "edgebundle.model-manifest.v1"


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor: name, shape (batch first), dtype and quantization."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float = 0.0
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        """True for an integer tensor with a scale (values are ``(q - zero_point) * scale``)."""
        return self.scale != 0.0 and self.dtype in ("int8", "uint8", "int16")

    def to_dict(self) -> dict[str, Any]:
        """The manifest's JSON form."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "quantization": {"scale": self.scale, "zero_point": self.zero_point},
        }

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> TensorSpec:
        """Parse the manifest's JSON form.

        Raises:
            ManifestError: a key is missing or of the wrong type, naming ``where``.
        """
        try:
            quant = raw.get("quantization") or {}
            return cls(
                name=str(raw["name"]),
                shape=tuple(int(d) for d in raw["shape"]),
                dtype=str(raw["dtype"]),
                scale=float(quant.get("scale", 0.0)),
                zero_point=int(quant.get("zero_point", 0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ManifestError(
                f"{where}: expected {{name, shape, dtype, quantization}}, got {raw!r}"
            ) from err

    def mismatch(self, other: TensorSpec) -> str | None:
        """Why ``other`` (the model's tensor) does not match this (the expected one), or ``None``."""
        if tuple(other.shape) != tuple(self.shape):
            return f"shape {list(other.shape)}, expected {list(self.shape)}"
        if other.dtype != self.dtype:
            return f"dtype {other.dtype}, expected {self.dtype}"
        if self.quantized and (
            abs(other.scale - self.scale) > 1e-6 * max(abs(self.scale), 1e-12)
            or other.zero_point != self.zero_point
        ):
            return (
                f"quantization scale={other.scale} zero_point={other.zero_point}, "
                f"expected scale={self.scale} zero_point={self.zero_point}"
            )
        return None


@dataclass(frozen=True)
class VariantSpec:
    """One shipped file of a model: where it is and what it must look like."""

    model: str
    variant: str
    version: str
    path: Path
    sha256: str
    size_bytes: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    preprocessing: str | None
    threshold: float | None
    metrics: dict[str, float] = field(default_factory=dict)


class Manifest:
    """The parsed manifest; see the module docstring for its layout."""

    def __init__(self, raw: dict[str, Any], base_dir: Path) -> None:
        self.raw = raw
        self.base_dir = base_dir

    @classmethod
    def load(cls, path: Path | str = MANIFEST_PATH) -> Manifest:
        """Read a manifest file; model files are resolved relative to its folder.

        Raises:
            ManifestError: the file is missing, not JSON, or not a model manifest.
        """
        path = Path(path)
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError as err:
            raise ManifestError(f"model manifest {path} does not exist; run `make models`") from err
        except (OSError, ValueError) as err:
            raise ManifestError(f"model manifest {path} is not readable JSON: {err}") from err
        if (
            not isinstance(raw, dict)
            or raw.get("schema") != MANIFEST_SCHEMA
            or not isinstance(raw.get("models"), dict)
        ):
            raise ManifestError(
                f"{path}: expected a JSON object with schema {MANIFEST_SCHEMA!r} and 'models'"
            )
        return cls(raw, path.parent)

    @property
    def models(self) -> list[str]:
        """The model names."""
        return sorted(self.raw["models"])

    def model(self, name: str) -> dict[str, Any]:
        """A model's entry.

        Raises:
            ManifestError: no such model.
        """
        entry = self.raw["models"].get(name)
        if not isinstance(entry, dict):
            raise ManifestError(f"model {name!r} is not in the manifest; expected one of {self.models}")
        return entry

    def card(self, name: str) -> LoadedCard:
        """A model's card (``models.<name>.card``), validated; a ``labelsFile`` is relative to the manifest.

        Raises:
            ManifestError: no such model.
            ModelCardError: the entry has no card, or it is not a valid one.
        """
        raw = self.model(name).get("card")
        source = f"{self.base_dir / 'manifest.json'} models.{name}.card"
        if raw is None:
            raise ModelCardError(f"{source}: the manifest entry has no model card")
        return parse_card(raw, source, self.base_dir)

    def variants(self, name: str) -> list[str]:
        """The variant names of a model."""
        return sorted(self.model(name).get("variants") or {})

    def variant(self, name: str, variant: str) -> VariantSpec:
        """One variant's spec, with its file path resolved.

        Raises:
            ManifestError: no such model or variant, or a malformed entry.
        """
        entry = self.model(name)
        raw = (entry.get("variants") or {}).get(variant)
        where = f"manifest models.{name}.variants.{variant}"
        if not isinstance(raw, dict):
            raise ManifestError(
                f"model {name!r} has no variant {variant!r}; expected one of {self.variants(name)}"
            )
        try:
            return VariantSpec(
                model=name,
                variant=variant,
                version=str(entry["version"]),
                path=self.base_dir / str(raw["file"]),
                sha256=str(raw["sha256"]),
                size_bytes=int(raw["size_bytes"]),
                inputs=tuple(
                    TensorSpec.from_dict(t, f"{where}.inputs.{i}") for i, t in enumerate(raw["inputs"])
                ),
                outputs=tuple(
                    TensorSpec.from_dict(t, f"{where}.outputs.{i}") for i, t in enumerate(raw["outputs"])
                ),
                preprocessing=(entry.get("preprocessing") or {}).get("name"),
                threshold=float(entry["threshold"]) if entry.get("threshold") is not None else None,
                metrics={
                    k: float(v) for k, v in (raw.get("metrics") or {}).items() if isinstance(v, int | float)
                },
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ManifestError(f"{where}: malformed entry ({err!r})") from err
