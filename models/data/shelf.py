"""Synthetic 96x96 RGB shelf images for the product classifier and the product detector (numpy only).

A shelf is a lit, noisy, slightly tilted-gradient background in a warm grey. Products are drawn
on it in flat colours with a shading ramp and a label band, each kind with its own silhouette
and colour family, so a small CNN must use shape and colour together:

* ``can``: a red/orange upright rectangle with rounded top and bottom (ellipse caps);
* ``box``: a blue/teal wide rectangle with a darker outline;
* ``bottle``: a green narrow body with a narrower neck on top.

:func:`classification_dataset` renders one product (or none: ``empty``) per image, placed
and scaled at random; :func:`detection_dataset` renders zero to three products of the
detector's classes that do not overlap, with their boxes ``(ymin, xmin, ymax, xmax)`` in [0, 1].
Image ``index`` of stream ``seed`` is always the same picture (``default_rng([seed, index])``).

Example::

    images, labels = classification_dataset(seed=3, count=100)   # (100, 96, 96, 3) uint8, (100,)
    images, boxes, classes = detection_dataset(seed=4, count=10) # boxes[i]: (k, 4), classes[i]: (k,)
"""

from __future__ import annotations

import numpy as np

SIZE = 96
PRODUCT_LABELS: tuple[str, ...] = ("empty", "can", "box", "bottle")
DETECTOR_LABELS: tuple[str, ...] = ("can", "box")

_Y, _X = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)


def _background(rng: np.random.Generator) -> np.ndarray:
    base = rng.uniform(90, 170)
    tint = rng.uniform(-12, 12, 3)
    gx, gy = rng.uniform(-0.4, 0.4, 2)
    image = base + tint[None, None, :] + (gx * (_X - SIZE / 2) + gy * (_Y - SIZE / 2))[..., None]
    # Shelf edges: a darker horizontal band near the bottom or top.
    band = int(rng.integers(0, SIZE))
    image[max(band - 3, 0) : band + 3] *= rng.uniform(0.55, 0.8)
    return image


def _colour(kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "can":
        return np.array([rng.uniform(170, 240), rng.uniform(20, 110), rng.uniform(10, 60)])
    if kind == "box":
        return np.array([rng.uniform(10, 60), rng.uniform(60, 150), rng.uniform(150, 240)])
    return np.array([rng.uniform(20, 80), rng.uniform(130, 220), rng.uniform(30, 90)])


def _mask(kind: str, cy: float, cx: float, h: float, w: float) -> np.ndarray:
    """The product's silhouette centred at (cy, cx) inside an h x w box."""
    inside = (np.abs(_Y - cy) <= h / 2) & (np.abs(_X - cx) <= w / 2)
    if kind == "can":
        cap = w / 4
        top, bottom = cy - h / 2 + cap, cy + h / 2 - cap
        body = (np.abs(_X - cx) <= w / 2) & (top <= _Y) & (bottom >= _Y)
        ends = (((_X - cx) / (w / 2)) ** 2 + ((_Y - top) / cap) ** 2 <= 1) | (
            ((_X - cx) / (w / 2)) ** 2 + ((_Y - bottom) / cap) ** 2 <= 1
        )
        return body | ends
    if kind == "bottle":
        neck_h = h * 0.35
        body = (np.abs(_X - cx) <= w / 2) & (cy - h / 2 + neck_h <= _Y) & (cy + h / 2 >= _Y)
        neck = (np.abs(_X - cx) <= w / 5) & (cy - h / 2 <= _Y) & (cy - h / 2 + neck_h > _Y)
        return body | neck
    return inside


def _size(kind: str, rng: np.random.Generator) -> tuple[float, float]:
    scale = rng.uniform(0.7, 1.25)
    if kind == "can":
        return 30 * scale, 18 * scale
    if kind == "box":
        return 22 * scale, 34 * scale
    return 36 * scale, 14 * scale


def _draw(
    image: np.ndarray, kind: str, cy: float, cx: float, h: float, w: float, rng: np.random.Generator
) -> None:
    mask = _mask(kind, cy, cx, h, w)
    colour = _colour(kind, rng)
    shade = 1.0 + 0.35 * ((_X - cx) / max(w, 1.0))  # light from one side
    painted = colour[None, None, :] * shade[..., None]
    band = mask & (np.abs(_Y - (cy + rng.uniform(-0.1, 0.1) * h)) <= h * 0.12)
    image[mask] = painted[mask]
    image[band] = image[band] * 0.5 + 110
    if kind == "box":
        edge = mask & ~_mask(kind, cy, cx, h - 3, w - 3)
        image[edge] *= 0.55


def _finish(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    image = image * rng.uniform(0.8, 1.15) + rng.normal(0.0, rng.uniform(2.0, 8.0), image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def render_product(seed: int, index: int) -> tuple[np.ndarray, int]:
    """Image ``index`` of stream ``seed``: a shelf with one product (or none) and its label index."""
    rng = np.random.default_rng([seed, index])
    label = int(rng.integers(0, len(PRODUCT_LABELS)))
    image = _background(rng)
    if label:
        kind = PRODUCT_LABELS[label]
        h, w = _size(kind, rng)
        cy = rng.uniform(h / 2 + 2, SIZE - h / 2 - 2)
        cx = rng.uniform(w / 2 + 2, SIZE - w / 2 - 2)
        _draw(image, kind, cy, cx, h, w, rng)
    return _finish(image, rng), label


def classification_dataset(seed: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` product images ``(count, 96, 96, 3)`` uint8 and their label indices into :data:`PRODUCT_LABELS`."""
    images = np.empty((count, SIZE, SIZE, 3), dtype=np.uint8)
    labels = np.empty(count, dtype=np.int64)
    for i in range(count):
        images[i], labels[i] = render_product(seed, i)
    return images, labels


def render_scene(seed: int, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scene ``index`` of stream ``seed``: the image, its boxes ``(k, 4)`` in [0, 1] and classes ``(k,)``."""
    rng = np.random.default_rng([seed, index])
    image = _background(rng)
    boxes: list[tuple[float, float, float, float]] = []
    classes: list[int] = []
    for _ in range(int(rng.integers(0, 4))):
        cls = int(rng.integers(0, len(DETECTOR_LABELS)))
        h, w = _size(DETECTOR_LABELS[cls], rng)
        for _attempt in range(10):
            cy = rng.uniform(h / 2 + 1, SIZE - h / 2 - 1)
            cx = rng.uniform(w / 2 + 1, SIZE - w / 2 - 1)
            box = (cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2)
            if all(
                box[2] + 2 < b[0] or b[2] + 2 < box[0] or box[3] + 2 < b[1] or b[3] + 2 < box[1]
                for b in boxes
            ):
                _draw(image, DETECTOR_LABELS[cls], cy, cx, h, w, rng)
                boxes.append(box)
                classes.append(cls)
                break
    array = np.array(boxes, dtype=np.float32).reshape(-1, 4) / SIZE
    return _finish(image, rng), np.clip(array, 0.0, 1.0), np.array(classes, dtype=np.int64)


def detection_dataset(seed: int, count: int) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """``count`` scenes: images ``(count, 96, 96, 3)`` uint8, per image its boxes and classes."""
    images = np.empty((count, SIZE, SIZE, 3), dtype=np.uint8)
    boxes: list[np.ndarray] = []
    classes: list[np.ndarray] = []
    for i in range(count):
        images[i], b, c = render_scene(seed, i)
        boxes.append(b)
        classes.append(c)
    return images, boxes, classes
