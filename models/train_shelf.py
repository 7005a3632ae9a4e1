"""Training the two shelf-camera models: a product classifier and a product detector (96x96 RGB).

Called by ``models/train.py`` (``make models``); each takes a few minutes on two cores.

* ``shelf_products``: four classes (:data:`~models.data.shelf.PRODUCT_LABELS`), a stride-2 CNN,
  softmax output, pixels to [-1, 1];
* ``shelf_detector``: a single-shot grid detector: a 12x12 grid (stride 8) of anchors, each
  predicting a box (decoded in the graph to ymin, xmin, ymax, xmax in [0, 1]) and a score per
  class (sigmoid). Two outputs, boxes ``[1, 144, 4]`` and scores ``[1, 144, 2]``; the host
  does non-maximum suppression (``components.common.detections``). An object is assigned to the
  anchor whose cell holds its centre.

Both are exported as ``float32`` and full-integer ``int8`` (no pruned variant: they exist to
exercise the generic host, not the pruning study).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from components.common.model_card import parse_card
from components.common.model_interpret import interpret
from components.common.model_runtime import ModelRuntime
from models.data.shelf import SIZE
from models.heldout import detector_batch_metrics

GRID = 12
STRIDE = SIZE // GRID
MAX_BOX = 0.6  # the largest box side the head can express, as a share of the image


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """uint8 images to float32 in [-1, 1] (the cards' ``range: [-1, 1]``)."""
    return images.astype(np.float32) * (2.0 / 255.0) - 1.0


def _conv_stack(keras: Any, x: Any, spec: tuple[tuple[int, int], ...]) -> Any:
    layers = keras.layers
    for filters, stride in spec:
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    return x


def build_classifier(keras: Any, classes: int) -> Any:
    """(96, 96, 3) in [-1, 1] -> softmax over ``classes``."""
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    x = _conv_stack(keras, inputs, ((12, 2), (24, 2), (32, 2), (32, 1)))
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="shelf_products")


def build_detector(keras: Any, classes: int) -> tuple[Any, Any]:
    """The detector for export (two outputs) and for training (the two concatenated)."""
    import tensorflow as tf

    ops = keras.ops
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    x = _conv_stack(keras, inputs, ((16, 2), (24, 2), (32, 2), (48, 1), (48, 1)))
    raw_box = keras.layers.Conv2D(4, 1, name="box_head")(x)
    raw_score = keras.layers.Conv2D(classes, 1, name="score_head")(x)
    rows, cols = np.mgrid[0:GRID, 0:GRID].astype(np.float32)
    offsets = np.stack([rows, cols], axis=-1).reshape(1, GRID * GRID, 2)

    class DecodeBoxes(keras.layers.Layer):
        def call(self, t: Any) -> Any:
            t = ops.reshape(t, (-1, GRID * GRID, 4))
            centre = (ops.sigmoid(t[..., :2]) + tf.constant(offsets)) / GRID
            half = ops.sigmoid(t[..., 2:]) * (MAX_BOX / 2)
            return ops.concatenate([centre - half, centre + half], axis=-1)

    boxes = DecodeBoxes(name="boxes")(raw_box)
    scores = keras.layers.Activation("sigmoid", name="scores")(
        keras.layers.Reshape((GRID * GRID, classes))(raw_score)
    )
    export = keras.Model(inputs, [boxes, scores], name="shelf_detector")
    train = keras.Model(
        inputs, keras.layers.Concatenate(axis=-1)([boxes, scores]), name="shelf_detector_train"
    )
    return export, train


def detector_targets(boxes: list[np.ndarray], classes: list[np.ndarray], n_classes: int) -> np.ndarray:
    """Per anchor ``[has object, ymin, xmin, ymax, xmax, one-hot classes]``: ``(n, 144, 5 + C)``."""
    target = np.zeros((len(boxes), GRID * GRID, 5 + n_classes), dtype=np.float32)
    for i, (b, c) in enumerate(zip(boxes, classes, strict=True)):
        for box, cls in zip(b, c, strict=True):
            cy, cx = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            cell = min(int(cy * GRID), GRID - 1) * GRID + min(int(cx * GRID), GRID - 1)
            target[i, cell, 0] = 1.0
            target[i, cell, 1:5] = box
            target[i, cell, 5 + int(cls)] = 1.0
    return target


def detector_loss(keras: Any) -> Any:
    """Weighted binary cross-entropy on every anchor's scores, L1 on the boxes of anchors with an object."""
    ops = keras.ops

    def loss(y_true: Any, y_pred: Any) -> Any:
        has = y_true[..., 0]
        box_true, cls_true = y_true[..., 1:5], y_true[..., 5:]
        box_pred, cls_pred = y_pred[..., :4], ops.clip(y_pred[..., 4:], 1e-6, 1 - 1e-6)
        weight = 1.0 + 9.0 * cls_true  # ~2 objects among 144 anchors: positives weigh more
        bce = -(cls_true * ops.log(cls_pred) + (1 - cls_true) * ops.log(1 - cls_pred)) * weight
        l1 = ops.sum(ops.abs(box_true - box_pred), axis=-1) * has
        return ops.mean(ops.sum(bce, axis=-1)) + 8.0 * ops.sum(l1) / (ops.sum(has) + 1.0)

    return loss


def detector_indices(runtime: ModelRuntime) -> tuple[int, int]:
    """(boxes, scores) output indices of the converted detector, found by their shapes."""
    boxes = [i for i, t in enumerate(runtime.outputs) if t.shape[-1] == 4]
    scores = [i for i, t in enumerate(runtime.outputs) if t.shape[-1] != 4]
    if len(boxes) != 1 or len(scores) != 1:
        raise RuntimeError(f"detector outputs {[t.shape for t in runtime.outputs]}: expected one [1, 144, 4]")
    return boxes[0], scores[0]


def detector_metrics(
    runtime: ModelRuntime,
    card: dict[str, Any],
    x: np.ndarray,
    boxes: list[np.ndarray],
    classes: list[np.ndarray],
) -> dict[str, float]:
    """Held-out figures of a converted detector through the host's own decoding and NMS."""
    loaded = parse_card(card, "train")
    predictions = interpret(loaded, runtime.predict_all(x))
    return detector_batch_metrics(predictions, boxes, classes)


Export = Any  # train.export_file: (name, variant, content, score, extra) -> manifest entry


def _convert(tf: Any, model: Any, representative: np.ndarray | None) -> bytes:
    from models.train import convert

    return convert(tf, model, representative)


def train_products(tf: Any, keras: Any, seed: int, export: Export, version: str) -> dict[str, Any]:
    """Train, convert and score the product classifier; its manifest entry."""
    from models.cards import checked, shelf_products_card
    from models.data.shelf import PRODUCT_LABELS, classification_dataset
    from models.heldout import SHELF_PRODUCTS_HELDOUT, classification_metrics

    images, labels = classification_dataset(seed + 1000, 4000)
    x = to_unit_range(images)
    model = build_classifier(keras, len(PRODUCT_LABELS))
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, labels, epochs=8, batch_size=64, shuffle=True, verbose=2)
    held_images, held_labels = classification_dataset(**SHELF_PRODUCTS_HELDOUT)
    held_x = to_unit_range(held_images)

    def score(runtime: ModelRuntime) -> dict[str, float]:
        predicted = np.argmax(runtime.predict(held_x), axis=1)
        return classification_metrics(predicted, held_labels, len(PRODUCT_LABELS))

    representative = x[np.random.default_rng(seed).choice(len(x), 300, replace=False)]
    name = "shelf_products"
    return {
        "version": version,
        "task": "classification: which product (or none) is on a 96x96 RGB shelf image",
        "card": checked(shelf_products_card(version, PRODUCT_LABELS)),
        "heldout": SHELF_PRODUCTS_HELDOUT,
        "train_images": len(labels),
        "variants": {
            "float32": export(name, "float32", _convert(tf, model, None), score, {}),
            "int8": export(name, "int8", _convert(tf, model, representative), score, {}),
        },
    }


def train_detector(tf: Any, keras: Any, seed: int, export: Export, version: str) -> dict[str, Any]:
    """Train, convert and score the product detector; its manifest entry."""
    from models.cards import checked, detector_card
    from models.data.shelf import DETECTOR_LABELS, detection_dataset
    from models.heldout import SHELF_DETECTOR_HELDOUT

    images, boxes, classes = detection_dataset(seed + 2000, 4000)
    x = to_unit_range(images)
    y = detector_targets(boxes, classes, len(DETECTOR_LABELS))
    export_model, train_model = build_detector(keras, len(DETECTOR_LABELS))
    train_model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=detector_loss(keras))
    train_model.fit(x, y, epochs=14, batch_size=32, shuffle=True, verbose=2)
    held_images, held_boxes, held_classes = detection_dataset(**SHELF_DETECTOR_HELDOUT)
    held_x = to_unit_range(held_images)
    score_threshold = 0.4
    representative = x[np.random.default_rng(seed).choice(len(x), 300, replace=False)]
    name = "shelf_detector"
    cards: dict[str, dict[str, Any]] = {}

    def scorer(variant: str) -> Any:
        def score(runtime: ModelRuntime) -> dict[str, float]:
            b, s = detector_indices(runtime)
            cards[variant] = detector_card(version, DETECTOR_LABELS, b, s, score_threshold)
            return detector_metrics(runtime, cards[variant], held_x, held_boxes, held_classes)

        return score

    variants = {
        "float32": export(name, "float32", _convert(tf, export_model, None), scorer("float32"), {}),
        "int8": export(name, "int8", _convert(tf, export_model, representative), scorer("int8"), {}),
    }
    if cards["float32"] != cards["int8"]:
        raise RuntimeError(f"the detector's variants order their outputs differently: {cards}")
    return {
        "version": version,
        "task": "detection: cans and boxes on a 96x96 RGB shelf image",
        "card": checked(cards["int8"]),
        "heldout": SHELF_DETECTOR_HELDOUT,
        "train_images": len(images),
        "variants": variants,
    }
