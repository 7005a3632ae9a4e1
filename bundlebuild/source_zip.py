"""``edgebundle.zip``: the project's source as one Greengrass artifact, fast and deterministic.

Entries sit at the zip ROOT (``components/...``, ``bundle.yaml``): the nucleus unarchives
``edgebundle.zip`` into ``{artifacts:decompressedPath}/edgebundle/``, so the code lands in
``{artifacts:decompressedPath}/edgebundle/components/...`` (see /work/briefs/recipes.md and the
recipe reference: "A ZIP extracts to a folder named after the archive").

Holds ``components/``, ``bundlebuild/``, ``bundlespec/`` (their ``*.py`` and data files),
``models/`` (``*.py``, ``*.tflite``, ``manifest.json``) and ``bundle.yaml``. ``localcore`` is a
development tool and never ships. Same tree in, same bytes out: entries are sorted and carry a
fixed timestamp and mode.

Example::

    build_source_zip(Path("."), Path("greengrass-build/edgebundle.zip"))
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

# Folders copied whole (minus caches), and what models/ contributes.
PACKAGE_FOLDERS = ("components", "bundlebuild", "bundlespec")
PACKAGE_SUFFIXES = (".py", ".json", ".yaml", ".yml", ".txt", ".typed")
MODEL_PATTERNS = ("*.py", "*.tflite", "manifest.json")
TOP_LEVEL_FILES = ("bundle.yaml",)
SKIPPED_PARTS = frozenset(("__pycache__", ".mypy_cache", ".pytest_cache", "tests", "test"))
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest timestamp a zip entry can carry


def source_files(project_root: Path) -> list[Path]:
    """The project files that go into the artifact, relative to ``project_root``, sorted."""
    found: set[Path] = set()
    for folder in PACKAGE_FOLDERS:
        base = project_root / folder
        if base.is_dir():
            found.update(_walk(base, project_root, PACKAGE_SUFFIXES))
    models = project_root / "models"
    if models.is_dir():
        for pattern in MODEL_PATTERNS:
            found.update(p.relative_to(project_root) for p in models.rglob(pattern) if _kept(p, project_root))
    for name in TOP_LEVEL_FILES:
        if (project_root / name).is_file():
            found.add(Path(name))
    return sorted(found, key=lambda p: p.as_posix())


def _walk(base: Path, project_root: Path, suffixes: tuple[str, ...]) -> Iterator[Path]:
    for path in base.rglob("*"):
        if path.is_file() and path.suffix in suffixes and _kept(path, project_root):
            yield path.relative_to(project_root)


def _kept(path: Path, project_root: Path) -> bool:
    return not SKIPPED_PARTS.intersection(path.relative_to(project_root).parts[:-1]) and path.suffix != ".pyc"


def build_source_zip(project_root: Path, dest_zip: Path) -> Path:
    """Write the source artifact to ``dest_zip`` (atomically) and return its path."""
    dest_zip.parent.mkdir(parents=True, exist_ok=True)
    partial = dest_zip.with_name(f".{dest_zip.name}.{os.getpid()}.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for relative in source_files(project_root):
            info = zipfile.ZipInfo(relative.as_posix(), date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_STORED if relative.suffix == ".tflite" else zipfile.ZIP_DEFLATED
            archive.writestr(info, (project_root / relative).read_bytes())
    partial.replace(dest_zip)
    return dest_zip
