"""The image spool: the layout the sync component reads, its bounds, the free-space floor, and
the PNG writer."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from components.common.image_spool import complete_entries
from components.inspection.png import encode_png
from components.inspection.spool import ImageSpool, SpoolWriter

from .fakes import FakeDisk

PLENTY = 10**12
IMAGE = (np.arange(64 * 64) % 251).astype(np.uint8).reshape(64, 64)


def spool(directory: Path, **bounds: int) -> ImageSpool:
    options = {"max_bytes": 10**9, "max_entries": 1000, "min_free_bytes": 0, "disk_usage": FakeDisk(PLENTY)}
    options.update(bounds)
    return ImageSpool(directory, **options)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 20), st.integers(1, 20)))
    | arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12), st.just(3)))
)
def test_png_round_trips_through_a_real_decoder(image: np.ndarray) -> None:
    decoded = np.asarray(Image.open(io.BytesIO(encode_png(image))))
    np.testing.assert_array_equal(decoded, image)


def test_png_refuses_what_it_cannot_encode() -> None:
    with pytest.raises(ValueError, match="expected \\(H, W\\) or \\(H, W, 3\\) uint8"):
        encode_png(np.zeros((4, 4), np.float32))


def test_entries_are_what_the_sync_component_reads(tmp_path: Path) -> None:
    s = spool(tmp_path)
    assert s.write("0001790000000123-part-7-000001", IMAGE, {"partId": "part-7", "ts": 1790000000.123})
    (entry,) = complete_entries(tmp_path)
    assert entry.image_path == tmp_path / "0001790000000123-part-7-000001.png"
    assert entry.captured_ts == 1790000000.123
    assert json.loads(entry.metadata)["image"] == "0001790000000123-part-7-000001.png"
    np.testing.assert_array_equal(np.asarray(Image.open(entry.image_path)), IMAGE)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_count_bound_removes_the_oldest_first(tmp_path: Path) -> None:
    s = spool(tmp_path, max_entries=3)
    for i in range(5):
        s.write(f"{i:013d}-p", IMAGE, {"ts": float(i)})
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [f"{i:013d}-p.json" for i in (2, 3, 4)]
    assert len(list(tmp_path.glob("*.png"))) == 3
    assert s.metrics()["evicted"] == 2 and s.entries == 3


def test_byte_bound_holds(tmp_path: Path) -> None:
    one = len(encode_png(IMAGE)) + 200
    s = spool(tmp_path, max_bytes=3 * one)
    for i in range(10):
        s.write(f"{i:013d}-p", IMAGE, {"ts": float(i)})
        assert sum(p.stat().st_size for p in tmp_path.iterdir()) <= 3 * one
    assert s.entries in (2, 3)


def test_free_space_floor_evicts_and_then_drops_rather_than_fill_the_disk(tmp_path: Path) -> None:
    one = len(encode_png(IMAGE)) + 150
    disk = FakeDisk(free=10 * one)
    s = spool(tmp_path, min_free_bytes=7 * one, disk_usage=disk)  # type: ignore[arg-type]
    for i in range(6):
        s.write(f"{i:013d}-p", IMAGE, {"ts": float(i)})
        assert disk(tmp_path).free >= 7 * one
    assert 1 <= s.entries <= 3 and s.dropped_low_disk == 0
    # Something else fills the disk: every entry of ours is removed, then new images are dropped.
    disk.base_free = 7 * one
    assert not s.write(f"{99:013d}-p", IMAGE, {"ts": 99.0})
    assert s.entries == 0 and s.dropped_low_disk == 1 and not list(tmp_path.iterdir())


def test_entries_the_uploader_removed_are_no_longer_counted(tmp_path: Path) -> None:
    s = spool(tmp_path, max_entries=3)
    for i in range(3):
        s.write(f"{i:013d}-p", IMAGE, {"ts": float(i)})
    for path in tmp_path.iterdir():  # the sync component uploaded everything
        path.unlink()
    s.write(f"{3:013d}-p", IMAGE, {"ts": 3.0})
    assert s.entries == 1 and s.evicted == 0


def test_leftovers_of_a_crash_are_cleaned_at_start(tmp_path: Path) -> None:
    (tmp_path / ".0000000000001-p.png.tmp").write_bytes(b"half")
    (tmp_path / "0000000000002-p.png").write_bytes(encode_png(IMAGE))  # image without metadata
    (tmp_path / "0000000000003-p.png").write_bytes(encode_png(IMAGE))
    (tmp_path / "0000000000003-p.json").write_text('{"ts": 3}')
    s = spool(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0000000000003-p.json", "0000000000003-p.png"]
    assert s.entries == 1


def test_a_write_error_leaves_no_half_entry(tmp_path: Path) -> None:
    s = spool(tmp_path)
    # The metadata's temporary name is taken by a folder: the image is written, the metadata
    # cannot be (an OSError, even for root), and the image must not stay behind alone.
    (tmp_path / ".0000000000001-p.json.tmp").mkdir()
    writer = SpoolWriter(s)
    writer.submit("0000000000001-p", IMAGE, {"ts": 1.0})
    assert writer.drain(5.0)
    metrics = writer.metrics()
    assert metrics["errors"] == 1 and "cannot write spool entry 0000000000001-p" in metrics["lastError"]
    assert [p.name for p in tmp_path.iterdir()] == [".0000000000001-p.json.tmp"]
    assert s.entries == 0
    writer.close()


def test_the_writer_queue_is_bounded(tmp_path: Path) -> None:
    s = spool(tmp_path)
    writer = SpoolWriter(s, max_queued=1)
    accepted = sum(writer.submit(f"{i:013d}-p", IMAGE, {"ts": float(i)}) for i in range(200))
    writer.close()
    assert accepted == s.written and writer.metrics()["droppedQueueFull"] == 200 - accepted
