"""The image spool contract (docs/spool.md): entries the inspection component writes are the ones
the sync component reads, uploads and removes, through the one module defining the format."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from components.common.exceptions import SpoolEntryError
from components.common.image_spool import (
    complete_entries,
    entry_stem,
    image_file_name,
    leftovers,
    metadata_document,
    read_entry,
    remove_uploaded_entry,
    write_entry,
)
from components.inspection.spool import ImageSpool, SpoolWriter

IMAGE = (np.arange(32 * 48 * 3) % 251).astype(np.uint8).reshape(32, 48, 3)


def test_spool_stems_sort_by_capture_time_and_are_safe_file_names() -> None:
    a = entry_stem(1_790_000_000.001, "L1/../../etc passwd", 1_790_000_000_000_123)
    b = entry_stem(1_790_000_000.5, "L1", 1)
    assert a == "1790000000001-L1_.._.._etc_passwd-000123"
    assert a < b and "/" not in a


@given(
    st.floats(1_000_000_000, 9_999_999_999),
    st.floats(1_000_000_000, 9_999_999_999),
    st.text(max_size=80),
    st.integers(0, 2**40),
)
def test_stems_are_file_names_in_capture_order(first: float, second: float, part: str, seq: int) -> None:
    a, b = entry_stem(first, part, seq), entry_stem(second, part, seq)
    assert Path(a).name == a and not a.startswith(".")
    if int(first * 1000) < int(second * 1000):
        assert a < b


def test_an_entry_the_inspection_spool_writes_is_one_the_sync_reader_reads_and_removes(
    tmp_path: Path,
) -> None:
    # GIVEN the inspection component's writer thread spooling a decision's image
    spool = ImageSpool(tmp_path, max_bytes=10**8, max_entries=100, min_free_bytes=0)
    writer = SpoolWriter(spool)
    stem = entry_stem(1764331200.25, "part-9", 3)
    decision = {"schema": "edgebundle.inspection.v1", "partId": "part-9", "image": image_file_name(stem)}
    assert writer.submit(stem, IMAGE, {**decision, "ts": 1764331200.25})
    assert writer.drain()
    writer.close()
    # WHEN the sync component lists the spool
    (entry,) = complete_entries(tmp_path)
    # THEN it finds the image the decision message named, the capture time and the decision itself
    assert entry.image_path == tmp_path / decision["image"]
    assert entry.captured_ts == 1764331200.25
    assert json.loads(entry.metadata)["partId"] == "part-9"
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(entry.image_path.read_bytes()))), IMAGE)
    # and once uploaded and removed, the writer no longer counts it against its bounds
    remove_uploaded_entry(entry)
    assert list(tmp_path.iterdir()) == []
    spool.rescan()
    assert spool.entries == 0 and spool.bytes == 0


def test_an_entry_is_complete_only_once_its_metadata_is_in_place(tmp_path: Path) -> None:
    # GIVEN an image written and its metadata still in a temporary file (a crash mid-write)
    stem = entry_stem(1764331200.0, "p", 1)
    (tmp_path / image_file_name(stem)).write_bytes(b"png")
    (tmp_path / f".{stem}.json.tmp").write_bytes(metadata_document(stem, {"ts": 1764331200.0}))
    # THEN the reader sees no entry, and the writer's clean-up finds both files
    assert complete_entries(tmp_path) == []
    assert sorted(p.name for p in leftovers(tmp_path)) == sorted([image_file_name(stem), f".{stem}.json.tmp"])


def test_a_failed_write_leaves_neither_file(tmp_path: Path) -> None:
    # GIVEN a folder where the metadata cannot be renamed into place (a directory is in the way)
    stem = entry_stem(1764331200.0, "p", 1)
    (tmp_path / f"{stem}.json").mkdir()
    # WHEN the entry is written THEN the write fails and the image is not left behind
    with pytest.raises(OSError):
        write_entry(tmp_path, stem, b"png", metadata_document(stem, {}))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{stem}.json"]


def test_metadata_written_by_the_format_names_its_image(tmp_path: Path) -> None:
    stem = entry_stem(1764331200.0, "p", 1)
    size = write_entry(tmp_path, stem, b"png", metadata_document(stem, {"ts": 1764331200.0, "partId": "p"}))
    entry = read_entry(tmp_path / f"{stem}.json")
    assert size == sum(p.stat().st_size for p in tmp_path.iterdir())
    assert json.loads(entry.metadata) == {"ts": 1764331200.0, "partId": "p", "image": image_file_name(stem)}


def test_a_reader_without_image_or_ts_takes_the_sibling_and_the_file_time(tmp_path: Path) -> None:
    # GIVEN a producer other than ours: any image extension, metadata naming neither image nor time
    (tmp_path / "a.jpg").write_bytes(b"jpeg")
    (tmp_path / "a.json").write_text("{}")
    entry = read_entry(tmp_path / "a.json")
    assert entry.image_path == tmp_path / "a.jpg"
    assert entry.captured_ts == (tmp_path / "a.json").stat().st_mtime


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"image": "../../etc/passwd"}', "'image' must be a file name in the spool, got '../../etc/passwd'"),
        ("not json", "metadata is not JSON"),
        ("[1, 2]", "metadata must be a JSON object"),
    ],
)
def test_unreadable_metadata_is_refused_by_name_and_skipped_by_the_lister(
    tmp_path: Path, content: str, expected: str
) -> None:
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(SpoolEntryError, match=re.escape(expected)):
        read_entry(tmp_path / "bad.json")
    assert complete_entries(tmp_path) == []


def test_a_missing_spool_folder_has_no_entries(tmp_path: Path) -> None:
    assert complete_entries(tmp_path / "absent") == []
