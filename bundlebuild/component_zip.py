"""One component's artifact: its own code, the project modules it imports, its own models, its wheels.

Entries sit at the zip root, as in ``edgebundle.zip`` (:mod:`bundlebuild.source_zip`), so the
nucleus unarchives them into ``{artifacts:decompressedPath}/edgebundle/`` and the recipes' paths
hold. What goes in:

- ``components/<package>/`` whole (its ``*.py`` and data files), and every other project module of
  its import closure (:mod:`bundlebuild.closure`), e.g. ``components/common/ipc.py`` or
  ``models/preprocessing.py``: never ``models/train.py`` or anything the component does not import;
- ``bundle.yaml`` when the closure includes ``bundlespec`` (which reads it);
- the models its recipe's ``DefaultConfiguration`` names (every variant of each, since the shadow
  may switch variants) and a ``models/manifest.json`` holding only those models;
- ``bundlebuild/install.py``, the Install step;
- for a device build, ``wheels/<cpXY>/`` per device Python, each with its ``requirements.txt``,
  and ``wheels/shared/`` with the wheels every Python takes (pure Python and ``abi3``), stored once.

Same inputs, same bytes: entries are sorted with a fixed timestamp and mode.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundlebuild.closure import Closure
from bundlebuild.source_zip import FIXED_TIME, PACKAGE_SUFFIXES, SKIPPED_PARTS

INSTALLER = Path("bundlebuild/install.py")
SHARED_WHEELS = "shared"  # must match bundlebuild/install.py
MODEL_MANIFEST = Path("models/manifest.json")
# Data files a package reads at run time, shipped whenever the package is in the closure.
PACKAGE_DATA: dict[str, tuple[Path, ...]] = {"bundlespec": (Path("bundle.yaml"),)}


@dataclass
class ComponentContents:
    """What one component's zip holds, before any wheels."""

    files: list[Path]
    models: list[str]
    model_manifest: dict[str, Any] | None = None


def component_contents(
    project_root: Path, package: str, closure: Closure, default_configuration: Mapping[str, Any]
) -> ComponentContents:
    """The files of ``package``'s artifact (relative to ``project_root``) and the models it ships.

    Raises:
        ValueError: the models manifest names a variant file that does not exist.
    """
    found: set[Path] = set(closure.files(project_root))
    own = project_root.joinpath(*package.split("."))
    found.update(_package_files(own, project_root))
    for top, data in PACKAGE_DATA.items():
        if any(name == top or name.startswith(f"{top}.") for name in closure.modules):
            found.update(path for path in data if (project_root / path).is_file())
    found.add(INSTALLER)
    models, manifest = _own_models(project_root, default_configuration)
    for model in manifest["models"].values() if manifest else ():
        for variant in model.get("variants", {}).values():
            model_file = MODEL_MANIFEST.parent / variant["file"]
            if not (project_root / model_file).is_file():
                raise ValueError(
                    f"{MODEL_MANIFEST}: variant file {model_file} does not exist; run `make models`"
                )
            found.add(model_file)
    return ComponentContents(sorted(found, key=Path.as_posix), models, manifest)


def _package_files(base: Path, project_root: Path) -> Iterator[Path]:
    for path in base.rglob("*"):
        relative = path.relative_to(project_root)
        if (
            path.is_file()
            and path.suffix in PACKAGE_SUFFIXES
            and not SKIPPED_PARTS.intersection(relative.parts[:-1])
        ):
            yield relative


def _own_models(
    project_root: Path, default_configuration: Mapping[str, Any]
) -> tuple[list[str], dict[str, Any] | None]:
    """The manifest's models named anywhere in the configuration, and the manifest cut down to them."""
    path = project_root / MODEL_MANIFEST
    if not path.is_file():
        return [], None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    known = set(manifest.get("models", {}))
    named = sorted(known.intersection(_strings(default_configuration)))
    if not named:
        return [], None
    return named, {**manifest, "models": {name: manifest["models"][name] for name in named}}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def write_component_zip(
    project_root: Path,
    contents: ComponentContents,
    dest_zip: Path,
    wheels: Mapping[str, tuple[Sequence[str], Sequence[Path]]] | None = None,
) -> Path:
    """Write the artifact (atomically); ``wheels`` maps a Python tag (``cp311``) to (requirements, wheel files)."""
    dest_zip.parent.mkdir(parents=True, exist_ok=True)
    partial = dest_zip.with_name(f".{dest_zip.name}.{os.getpid()}.partial")
    entries: dict[str, tuple[bytes, bool]] = {}
    for relative in contents.files:
        entries[relative.as_posix()] = ((project_root / relative).read_bytes(), relative.suffix != ".tflite")
    if contents.model_manifest is not None:
        text = json.dumps(contents.model_manifest, indent=2, sort_keys=True) + "\n"
        entries[MODEL_MANIFEST.as_posix()] = (text.encode(), True)
    per_python = dict(wheels or {})
    # A wheel every Python takes (py3-none-any, abi3) is stored once, in wheels/shared/.
    names = [{w.name for w in files} for _, files in per_python.values()]
    shared = set.intersection(*names) if len(names) > 1 else set()
    for tag, (requirements, files) in sorted(per_python.items()):
        entries[f"wheels/{tag}/requirements.txt"] = ("".join(f"{r}\n" for r in requirements).encode(), True)
        for wheel in files:
            folder = SHARED_WHEELS if wheel.name in shared else tag
            # Wheels are zips already: deflating them again costs time and saves nothing.
            entries[f"wheels/{folder}/{wheel.name}"] = (wheel.read_bytes(), False)
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in sorted(entries):
            data, deflate = entries[name]
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            archive.writestr(info, data)
    partial.replace(dest_zip)
    return dest_zip
