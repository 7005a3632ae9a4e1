"""Synthetic grayscale part images with and without defects (numpy only, deterministic, fast).

A part is a machined washer seen from above on a darker conveyor: a bright ring with a hole,
placed off-centre by a few pixels, under a tilted light with varying brightness, with sensor
noise. A defective part carries one of :data:`DEFECT_KINDS`:

* ``scratch``: a thin straight line, darker or brighter than the metal;
* ``spot``: a small dark blob (pitting, a drop of oil);
* ``crack``: a thin dark jagged line running across part of the ring.

Image ``index`` of stream ``seed`` is always the same picture, whatever order images are asked
in (each uses its own ``numpy.random.default_rng([seed, index])``), so a camera source, the
training set and a test's held-out set can each be regenerated exactly. One image takes a few
hundred microseconds, well above the 100 frames/s a camera source needs.

Example::

    gen = PartGenerator(seed=3, defect_rate=0.2)
    part = gen.next()        # Part(index=0, image=uint8 (64, 64), defect=None or "scratch"...)
    images, labels, kinds = part_dataset(seed=9, count=2000)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from components.common.preprocessing import IMAGE_SIZE

DefectKind = Literal["scratch", "spot", "crack"]
DEFECT_KINDS: tuple[DefectKind, ...] = ("scratch", "spot", "crack")
#: Integer codes used by :func:`part_dataset` (0 means a good part).
DEFECT_CODES: dict[DefectKind | None, int] = {None: 0, "scratch": 1, "spot": 2, "crack": 3}

_Y, _X = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32)
_CENTRE = (IMAGE_SIZE - 1) / 2.0


@dataclass(frozen=True, slots=True)
class Part:
    """One rendered part with its ground truth."""

    index: int
    image: np.ndarray  # (64, 64) uint8
    defect: DefectKind | None

    @property
    def defective(self) -> bool:
        """True when the part carries a defect."""
        return self.defect is not None


def _segment_distance(ax: float, ay: float, bx: float, by: float) -> np.ndarray:
    """Distance of every pixel to the segment A-B."""
    dx, dy = bx - ax, by - ay
    length2 = max(dx * dx + dy * dy, 1e-6)
    t = np.clip(((_X - ax) * dx + (_Y - ay) * dy) / length2, 0.0, 1.0)
    return np.hypot(_X - (ax + t * dx), _Y - (ay + t * dy))


def _point_on_ring(
    rng: np.random.Generator, cx: float, cy: float, r_in: float, r_out: float
) -> tuple[float, float]:
    angle = rng.uniform(0.0, 2.0 * np.pi)
    radius = rng.uniform(r_in, r_out)
    return cx + radius * np.cos(angle), cy + radius * np.sin(angle)


def render_part(seed: int, index: int, defect: DefectKind | None) -> np.ndarray:
    """Render image ``index`` of stream ``seed`` with the given defect (or none); ``(64, 64)`` uint8."""
    if defect is not None and defect not in DEFECT_KINDS:
        raise ValueError(f"defect must be one of {DEFECT_KINDS} or None, got {defect!r}")
    rng = np.random.default_rng([seed, index])
    cx = _CENTRE + rng.uniform(-6.0, 6.0)
    cy = _CENTRE + rng.uniform(-6.0, 6.0)
    r_out = rng.uniform(19.0, 24.0)
    r_in = rng.uniform(5.0, 8.0)
    dist = np.hypot(_X - cx, _Y - cy)
    ring = np.clip(r_out - dist + 0.5, 0.0, 1.0) - np.clip(r_in - dist + 0.5, 0.0, 1.0)

    background = rng.uniform(35.0, 90.0)
    metal = rng.uniform(150.0, 215.0)
    # Machined metal has a faint radial texture; it is what a naive brightness test trips on.
    texture = 6.0 * np.sin(dist * rng.uniform(1.5, 3.0) + rng.uniform(0, 6.3))
    image = background + ring * (metal - background + texture)

    if defect is not None:
        depth = rng.uniform(55.0, 100.0)
        if defect == "spot":
            px, py = _point_on_ring(rng, cx, cy, r_in + 3.0, r_out - 3.0)
            radius = rng.uniform(1.6, 3.5)
            mark = np.exp(-((_X - px) ** 2 + (_Y - py) ** 2) / (2.0 * radius * radius)) * -depth
        elif defect == "scratch":
            ax, ay = _point_on_ring(rng, cx, cy, r_in + 3.0, r_out - 3.0)
            angle = rng.uniform(0.0, 2.0 * np.pi)
            length = rng.uniform(9.0, 18.0)
            d = _segment_distance(ax, ay, ax + length * np.cos(angle), ay + length * np.sin(angle))
            sign = -1.0 if rng.uniform() < 0.7 else 0.6
            mark = np.clip(1.2 - d, 0.0, 1.0) * depth * sign
        else:  # crack: a jagged polyline, mostly radial, from the hole or the rim inwards
            angle = rng.uniform(0.0, 2.0 * np.pi)
            start, end = (r_in + 1.0, r_in + rng.uniform(8.0, 13.0))
            if rng.uniform() < 0.5:
                start, end = r_out - 1.0, r_out - rng.uniform(8.0, 13.0)
            steps = 5
            radii = np.linspace(start, end, steps + 1)
            angles = angle + np.concatenate([[0.0], np.cumsum(rng.normal(0.0, 0.12, steps))])
            xs = cx + radii * np.cos(angles)
            ys = cy + radii * np.sin(angles)
            d = np.min([_segment_distance(xs[i], ys[i], xs[i + 1], ys[i + 1]) for i in range(steps)], axis=0)
            mark = np.clip(1.1 - d, 0.0, 1.0) * -depth
        image = image + mark * ring

    # Light from one side, overall exposure, sensor noise.
    tilt = rng.uniform(0.0, 0.35)
    light_angle = rng.uniform(0.0, 2.0 * np.pi)
    gain = rng.uniform(0.75, 1.2) * (
        1.0
        + tilt * ((_X - _CENTRE) * np.cos(light_angle) + (_Y - _CENTRE) * np.sin(light_angle)) / IMAGE_SIZE
    )
    image = image * gain + rng.normal(0.0, rng.uniform(2.0, 8.0), image.shape)
    return np.clip(image, 0.0, 255.0).astype(np.uint8)


def defect_for(seed: int, index: int, defect_rate: float) -> DefectKind | None:
    """The ground truth of image ``index`` of stream ``seed`` at ``defect_rate`` (deterministic)."""
    rng = np.random.default_rng([seed, index, 0xDEF])
    if rng.uniform() >= defect_rate:
        return None
    return DEFECT_KINDS[int(rng.integers(len(DEFECT_KINDS)))]


class PartGenerator:
    """An endless, deterministic stream of parts, ``defect_rate`` of them defective.

    Args:
        seed: the stream; the same seed gives the same parts in the same order.
        defect_rate: probability that a part is defective, in [0, 1].
        start: the first image index.
    """

    def __init__(self, seed: int = 0, defect_rate: float = 0.1, start: int = 0) -> None:
        if not 0.0 <= defect_rate <= 1.0:
            raise ValueError(f"defect_rate must be in [0, 1], got {defect_rate!r}")
        self.seed = seed
        self.defect_rate = defect_rate
        self.index = start

    def part(self, index: int) -> Part:
        """Part number ``index`` of this stream (does not move the stream)."""
        defect = defect_for(self.seed, index, self.defect_rate)
        return Part(index, render_part(self.seed, index, defect), defect)

    def next(self) -> Part:
        """The next part of the stream."""
        part = self.part(self.index)
        self.index += 1
        return part


def part_dataset(
    seed: int, count: int, defect_rate: float = 0.5, start: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` parts as arrays: images ``(n, 64, 64)`` uint8, labels ``(n,)`` int8 (1 defective),
    and defect codes ``(n,)`` int8 (:data:`DEFECT_CODES`)."""
    gen = PartGenerator(seed, defect_rate, start)
    images = np.empty((count, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    codes = np.empty(count, dtype=np.int8)
    for i in range(count):
        part = gen.next()
        images[i] = part.image
        codes[i] = DEFECT_CODES[part.defect]
    return images, (codes > 0).astype(np.int8), codes
