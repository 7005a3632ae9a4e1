"""Train, prune, quantize and export the bundle's models; write ``models/manifest.json``.

Run with ``make models`` (it builds ``.venv-train`` with tensorflow-cpu; the device runtime never
needs TensorFlow). Deterministic from ``--seed``: the data generators are seeded, Keras is seeded
and TensorFlow's op determinism is on.

Per model (``sensor_anomaly``: a 1-D CNN over 64-reading windows; ``part_defect``: a small 2-D
CNN over 64x64 part images) three variants are exported (the shelf classifier and detector, in
:mod:`models.train_shelf`, export ``float32`` and ``int8`` only):

* ``float32``: the trained model;
* ``pruned``: magnitude pruning with fine-tuning, our own (see :class:`MagnitudePruner`):
  tensorflow-model-optimization 0.8 refuses Keras 3 models (``prune_low_magnitude`` rejects a
  ``keras.Sequential`` from Keras 3, the Keras TensorFlow 2.21 ships), so the kernels' smallest
  weights are zeroed in steps up to ``PRUNE_SPARSITY`` and the masks held while fine-tuning.
  A TFLite file does not store zeros sparsely: the gain shows in the compressed (gzip) size;
* ``int8``: the pruned model with full-integer post-training quantization (int8 weights,
  activations, input and output) calibrated on a representative set of training inputs.

Every variant is scored on held-out data (:mod:`models.heldout`) through
``components.common.model_runtime`` (the device's runtime) and timed; the figures go to the
manifest, which ``tests/models`` holds the shipped files to.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from components.common.model_manifest import MANIFEST_SCHEMA
from components.common.model_runtime import ModelRuntime, runtime_version
from components.common.preprocessing import (
    CHANNELS,
    CLIP,
    HUMIDITY_SCALE,
    PART_IMAGE_V1,
    SENSOR_WINDOW_V1,
    TEMPERATURE_SCALE,
    WINDOW,
    part_images_v1,
)
from components.inspection.cameras.parts import DEFECT_KINDS, part_dataset
from models.cards import checked, part_defect_card, sensor_anomaly_card
from models.data.sensor_windows import MIN_DROPOUT, MIN_STEP_SIDE, MIN_STUCK, labelled_windows
from models.heldout import HELDOUT, PARTS_HELDOUT, SENSOR_HELDOUT, binary_metrics
from models.train_shelf import train_detector, train_products

MODELS_DIR = Path(__file__).resolve().parent
ALL_MODELS = ("sensor_anomaly", "part_defect", "shelf_products", "shelf_detector")
#: Where files and the manifest are written (``--out``; ``models/`` by default).
OUT_DIR = MODELS_DIR
PRUNE_SPARSITY = 0.6
PRUNE_STEPS = (0.3, 0.45, 0.6)
VERSION = "1.0.0"


def build_sensor_model(keras: Any) -> Any:
    """A 1-D CNN: (64, 5) window -> anomaly probability."""
    return keras.Sequential(
        [
            keras.Input((WINDOW, len(CHANNELS)), name="window"),
            keras.layers.Conv1D(24, 5, padding="same", activation="relu"),
            keras.layers.Conv1D(24, 5, padding="same", activation="relu"),
            keras.layers.MaxPooling1D(2),
            keras.layers.Conv1D(32, 3, padding="same", activation="relu"),
            keras.layers.GlobalMaxPooling1D(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid", name="anomaly"),
        ],
        name="sensor_anomaly",
    )


def build_part_model(keras: Any) -> Any:
    """A small 2-D CNN: (64, 64, 1) image -> defect probability.

    Batch normalization (folded into the convolutions at conversion) and no dense bottleneck:
    with a ``Dense(16, relu)`` head and no normalization, training sat at chance for epochs.
    """
    layers = keras.layers
    stack: list[Any] = [keras.Input((64, 64, 1), name="image")]
    for filters, pool in ((16, True), (32, True), (32, True), (32, False)):
        stack += [
            layers.Conv2D(filters, 3, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
        ]
        if pool:
            stack.append(layers.MaxPooling2D(2))
    stack += [layers.GlobalMaxPooling2D(), layers.Dense(1, activation="sigmoid", name="defect")]
    return keras.Sequential(stack, name="part_defect")


class MagnitudePruner:
    """Zero the smallest-magnitude kernel weights of every Conv/Dense layer and keep them zero.

    ``set_sparsity(s)`` recomputes each kernel's mask (its ``s`` fraction of smallest |w|) and
    applies it; the Keras callback from :meth:`callback` re-applies the masks after every
    training batch, so fine-tuning adapts the surviving weights without regrowing pruned ones.
    Biases are left dense (they are few and pruning them costs accuracy for nothing).
    """

    def __init__(self, model: Any) -> None:
        self.layers = [layer for layer in model.layers if hasattr(layer, "kernel")]
        self.masks: list[np.ndarray] = []

    def set_sparsity(self, sparsity: float) -> None:
        """Recompute masks at ``sparsity`` and apply them."""
        self.masks = []
        for layer in self.layers:
            weights = layer.kernel.numpy()
            threshold = np.quantile(np.abs(weights), sparsity)
            self.masks.append((np.abs(weights) > threshold).astype(weights.dtype))
        self.apply()

    def apply(self) -> None:
        """Multiply each kernel by its mask."""
        for layer, mask in zip(self.layers, self.masks, strict=True):
            layer.kernel.assign(layer.kernel.numpy() * mask)

    def sparsity(self) -> float:
        """The fraction of kernel weights that are exactly zero."""
        total = sum(layer.kernel.numpy().size for layer in self.layers)
        zeros = sum(int(np.sum(layer.kernel.numpy() == 0)) for layer in self.layers)
        return zeros / total

    def callback(self, keras: Any) -> Any:
        """A callback that re-applies the masks after each batch."""
        pruner = self

        class _Hold(keras.callbacks.Callback):
            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                pruner.apply()

        return _Hold()


def convert(tf: Any, model: Any, representative: np.ndarray | None) -> bytes:
    """Keras model -> TFLite bytes; full-integer int8 when a representative set is given."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if representative is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]

        def samples() -> Any:
            for i in range(len(representative)):
                yield [representative[i : i + 1].astype(np.float32)]

        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    content: bytes = converter.convert()
    return content


def latency_ms(runtime: ModelRuntime, item: np.ndarray, runs: int = 300) -> dict[str, float]:
    """p50/p99 of single-item ``predict`` (quantization included), milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runtime.predict(item)
        times.append((time.perf_counter() - start) * 1000.0)
    return {"p50": float(np.percentile(times, 50)), "p99": float(np.percentile(times, 99)), "threads": 1}


def export_file(
    name: str,
    variant: str,
    content: bytes,
    score: Callable[[ModelRuntime], dict[str, float]],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Write one ``.tflite`` file, score it with ``score`` and time it; return its manifest entry."""
    path = OUT_DIR / f"{name}_{variant}.tflite"
    path.write_bytes(content)
    runtime = ModelRuntime.load(path, num_threads=1)
    metrics = score(runtime)
    print(f"{name}/{variant}: {len(content)} bytes, {metrics}")
    item = np.zeros((1, *runtime.inputs[0].shape[1:]), dtype=np.float32)
    return {
        "file": path.name,
        "sha256": hashlib.sha256(content).hexdigest(),
        "size_bytes": len(content),
        "gzip_bytes": len(gzip.compress(content, compresslevel=9, mtime=0)),
        "inputs": [t.to_dict() for t in runtime.inputs],
        "outputs": [t.to_dict() for t in runtime.outputs],
        "metrics": metrics,
        "latency_ms": latency_ms(runtime, item),
        **extra,
    }


def export_variant(
    name: str, variant: str, content: bytes, threshold: float, extra: dict[str, Any]
) -> dict[str, Any]:
    """:func:`export_file` for a binary model, scored on its held-out set at ``threshold``."""
    held = HELDOUT[name]()
    return export_file(
        name,
        variant,
        content,
        lambda runtime: binary_metrics(runtime.predict(held.x), held.y, threshold),
        extra,
    )


def train_model(
    tf: Any,
    keras: Any,
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    finetune_epochs: int,
    learning_rate: float = 2e-3,
    batch_size: int = 64,
) -> tuple[Any, Any, float]:
    """Train ``model``; return it, a pruned copy and the pruned copy's sparsity."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=2)
    pruned = keras.models.clone_model(model)
    pruned.set_weights(model.get_weights())
    pruned.compile(optimizer=keras.optimizers.Adam(5e-4), loss="binary_crossentropy", metrics=["accuracy"])
    pruner = MagnitudePruner(pruned)
    for sparsity in PRUNE_STEPS:
        pruner.set_sparsity(sparsity)
        pruned.fit(
            x,
            y,
            epochs=finetune_epochs,
            batch_size=batch_size,
            shuffle=True,
            verbose=2,
            callbacks=[pruner.callback(keras)],
        )
    pruner.apply()
    return model, pruned, pruner.sparsity()


def choose_threshold(runtime: ModelRuntime, x: np.ndarray, y: np.ndarray) -> float:
    """The decision threshold with the best F1 on a validation set (never the held-out set)."""
    scores = runtime.predict(x)
    grid = np.round(np.arange(0.05, 0.96, 0.05), 2)
    best = max(grid, key=lambda t: (binary_metrics(scores, y, float(t))["f1"], -abs(t - 0.5)))
    return float(best)


def main() -> None:
    """Build both models and write the manifest."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(MODELS_DIR), help="output folder (default: models/)")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(ALL_MODELS),
        help="rebuild this model (repeatable), keep the others' entries",
    )
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()

    global OUT_DIR
    OUT_DIR = Path(args.out).resolve()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    manifest_path = OUT_DIR / "manifest.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    models: dict[str, Any] = dict(old.get("models") or {})

    only = set(args.only or ALL_MODELS)
    if "sensor_anomaly" in only:
        data = labelled_windows(args.seed, segments=48, samples_per_segment=4000, stride=4)
        print(f"sensor windows: {len(data.y)} ({data.y.mean():.2f} anomalous)")
        model, pruned, sparsity = train_model(tf, keras, build_sensor_model(keras), data.x, data.y, 10, 2)
        representative = data.x[np.random.default_rng(args.seed).choice(len(data.x), 400, replace=False)]
        threshold = 0.5
        models["sensor_anomaly"] = {
            "version": VERSION,
            "task": "binary: does a 64-reading window of one DHT22 show an injected anomaly",
            "threshold": threshold,
            "preprocessing": {
                "name": SENSOR_WINDOW_V1,
                "window": WINDOW,
                "channels": list(CHANNELS),
                "temperature_scale": TEMPERATURE_SCALE,
                "humidity_scale": HUMIDITY_SCALE,
                "clip": CLIP,
                "note": "see components/common/preprocessing.py",
            },
            "labels": {
                "anomaly_kinds": ["spike", "step", "stuck", "dropout"],
                "policy": f"spike: any; stuck: >= {MIN_STUCK} samples; dropout: >= {MIN_DROPOUT} failed reads; "
                f"step: an edge with >= {MIN_STEP_SIDE} samples each side; windows with less evidence are "
                "left out of training and held-out metrics",
            },
            "heldout": SENSOR_HELDOUT,
            "train_windows": len(data.y),
            "variants": {
                "float32": export_variant(
                    "sensor_anomaly", "float32", convert(tf, model, None), threshold, {}
                ),
                "pruned": export_variant(
                    "sensor_anomaly", "pruned", convert(tf, pruned, None), threshold, {"sparsity": sparsity}
                ),
                "int8": export_variant(
                    "sensor_anomaly",
                    "int8",
                    convert(tf, pruned, representative),
                    threshold,
                    {"sparsity": sparsity, "derived_from": "pruned"},
                ),
            },
        }

    if "part_defect" in only:
        images, labels, _ = part_dataset(args.seed, 8000, defect_rate=0.5)
        x = part_images_v1(images)
        model, pruned, sparsity = train_model(tf, keras, build_part_model(keras), x, labels, 12, 1, 1e-3, 32)
        representative = x[np.random.default_rng(args.seed).choice(len(x), 300, replace=False)]
        # The threshold is chosen on validation parts (another seed), with the int8 model the
        # components run by default, and applied to every variant.
        val_images, val_labels, _ = part_dataset(args.seed + 500, 1000, defect_rate=0.5)
        int8_content = convert(tf, pruned, representative)
        threshold = choose_threshold(ModelRuntime(int8_content), part_images_v1(val_images), val_labels)
        print(f"part_defect threshold {threshold} (best F1 on 1,000 validation parts)")
        models["part_defect"] = {
            "version": VERSION,
            "task": "binary: is a 64x64 grayscale part image defective",
            "threshold": threshold,
            "preprocessing": {"name": PART_IMAGE_V1, "size": [64, 64], "grayscale": True, "scale": "x / 255"},
            "labels": {"defect_kinds": list(DEFECT_KINDS)},
            "heldout": PARTS_HELDOUT,
            "threshold_chosen_on": {
                "seed": args.seed + 500,
                "count": 1000,
                "by": "best F1 of the int8 variant",
            },
            "train_images": len(labels),
            "variants": {
                "float32": export_variant("part_defect", "float32", convert(tf, model, None), threshold, {}),
                "pruned": export_variant(
                    "part_defect", "pruned", convert(tf, pruned, None), threshold, {"sparsity": sparsity}
                ),
                "int8": export_variant(
                    "part_defect",
                    "int8",
                    int8_content,
                    threshold,
                    {"sparsity": sparsity, "derived_from": "pruned"},
                ),
            },
        }

    if "shelf_products" in only:
        models["shelf_products"] = train_products(tf, keras, args.seed, export_file, VERSION)
    if "shelf_detector" in only:
        models["shelf_detector"] = train_detector(tf, keras, args.seed, export_file, VERSION)
    # Every entry's card is rewritten from models/cards.py, kept entries too.
    for name, entry in models.items():
        if name == "sensor_anomaly":
            entry["card"] = checked(sensor_anomaly_card(entry["version"], entry["threshold"]))
        elif name == "part_defect":
            entry["card"] = checked(part_defect_card(entry["version"], entry["threshold"]))

    manifest = {
        "schema": MANIFEST_SCHEMA,
        "generated_by": "models/train.py",
        "seed": args.seed,
        "tensorflow": tf.__version__,
        "runtime": f"{ModelRuntime.__module__} ai-edge-litert {runtime_version('ai-edge-litert')}",
        "machine": platform.machine(),
        "pruning": "own magnitude pruning with fine-tuning (tensorflow-model-optimization 0.8 rejects Keras 3 models)",
        "models": models,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"wrote {manifest_path}")


if __name__ == "__main__":
    main()
