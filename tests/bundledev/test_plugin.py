"""The bundle is localcore's first plugin: registered by entry point, it gives `make run` its
source zip, its live view and bundle.yaml's cloud, and prints that cloud as a description file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bundledev.cloud_description import describe_bundle
from bundledev.live_view import BundleLiveView
from bundledev.plugin import EdgeBundlePlugin
from bundledev.source_zip import SourceZipSource
from bundlespec import load_spec
from localcore.cli import main
from localcore.cloud.description import parse_cloud_description
from localcore.plugins import load_plugins

REPO = Path(__file__).resolve().parents[2]


def test_the_bundle_is_registered_as_a_plugin() -> None:
    (loaded,) = [p for p in load_plugins({}) if p.name == "edge-bundle"]
    assert isinstance(loaded.plugin, EdgeBundlePlugin)
    assert [type(s) for s in loaded.plugin.artifact_sources()] == [SourceZipSource]
    assert isinstance(loaded.plugin.views()["bundle"](), BundleLiveView)


def test_the_default_cloud_is_bundle_yamls_only_for_this_project(tmp_path: Path) -> None:
    plugin = EdgeBundlePlugin()
    assert plugin.cloud_description(REPO, "dev-3") == describe_bundle(load_spec(), "dev-3")
    assert plugin.cloud_description(tmp_path, "dev-3") is None  # a stranger's project: not ours


def test_bundle_cloud_prints_a_description_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("LOCALCORE_PLUGINS", "edge-bundle")
    assert main(["bundle-cloud", "--thing-name", "dev-4"]) == 0
    printed = parse_cloud_description(json.loads(capsys.readouterr().out))
    assert printed == describe_bundle(load_spec(), "dev-4")


def test_bundle_cloud_names_a_missing_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCALCORE_PLUGINS", "edge-bundle")
    assert main(["bundle-cloud", "--spec", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err
