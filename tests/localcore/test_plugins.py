"""The plugin seam: a project's plugin, installed as a real distribution (a ``.dist-info`` with
``entry_points.txt`` on ``sys.path``), adds an artifact source, a view, a command and a cloud
description; bad plugins are refused with their name."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from localcore.cli import build_parser, choose_view, main
from localcore.cloud.cli import cloud_for_run
from localcore.contracts import CloudContext
from localcore.plugins import ENTRY_POINT_GROUP, Plugin, PluginError, load_plugins
from localcore.runner.errors import RunnerError

DEMO_PLUGIN = """
from pathlib import Path
from urllib.parse import urlparse

from localcore.cloud.description import CloudDescription
from localcore.plugins import Plugin

EVENTS = []


class DemoSource:
    def locate(self, recipe, artifact, context):
        if urlparse(artifact.uri).scheme != "demo":
            return None
        made = context.core_root / "demo" / artifact.file_name
        made.parent.mkdir(parents=True, exist_ok=True)
        made.write_text("made by the demo plugin")
        return made


class DemoView:
    def started(self, core):
        EVENTS.append(("started", core.thing_name))

    def state_changed(self, component, old, new):
        EVENTS.append(("state", component, new))

    def finished(self, core, exit_code):
        EVENTS.append(("finished", exit_code))


class DemoPlugin(Plugin):
    def artifact_sources(self):
        return [DemoSource()]

    def views(self):
        return {"demo": DemoView}

    def add_commands(self, subparsers):
        hello = subparsers.add_parser("hello", help="say hello")
        hello.add_argument("name")
        hello.set_defaults(func=lambda args: print(f"hello {args.name}") or 0)

    def cloud_description(self, project_root, thing_name):
        if not (project_root / "demo-project").exists():
            return None
        return CloudDescription(buckets=(f"demo-{thing_name}",))


plugin = DemoPlugin()
not_a_plugin = object()
"""

RECIPE = """\
RecipeFormatVersion: "2020-01-25"
ComponentName: demo.Reader
ComponentVersion: "1.0.0"
Manifests:
  - Lifecycle:
      Run: "cat {artifacts:path}/data.txt"
    Artifacts:
      - Uri: demo:data.txt
"""


def _install(where: Path, entries: dict[str, str]) -> None:
    """A distribution ``demo-localcore-plugin`` with ``entries`` in the plugin group."""
    (where / "demo_localcore_plugin.py").write_text(DEMO_PLUGIN)
    info = where / "demo_localcore_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-localcore-plugin\nVersion: 1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entries.items())
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}")


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """GIVEN the demo plugin installed (and chosen with LOCALCORE_PLUGINS, as the bundle is not)."""
    site = tmp_path / "site"
    site.mkdir()
    _install(site, {"demo": "demo_localcore_plugin:plugin", "broken": "demo_localcore_plugin:not_a_plugin"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("LOCALCORE_PLUGINS", "demo")
    return site


def test_an_installed_plugin_is_found_by_its_entry_point(demo: Path) -> None:
    (loaded,) = load_plugins()
    assert loaded.name == "demo" and isinstance(loaded.plugin, Plugin)
    assert load_plugins({"LOCALCORE_PLUGINS": ""}) == []


def test_a_bad_or_unknown_plugin_is_refused_by_name(demo: Path) -> None:
    with pytest.raises(PluginError, match=r"plugin broken \(demo_localcore_plugin:not_a_plugin\): expected"):
        load_plugins({"LOCALCORE_PLUGINS": "broken"})
    with pytest.raises(PluginError, match=r"names nope, not installed; expected some of: .*demo"):
        load_plugins({"LOCALCORE_PLUGINS": "nope"})


def test_the_cli_refuses_to_start_with_a_broken_plugin(
    demo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOCALCORE_PLUGINS", "broken")
    assert main(["status"]) == 2
    assert "plugin broken" in capsys.readouterr().err


def test_a_plugin_adds_a_command(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hello", "stranger"]) == 0
    assert capsys.readouterr().out == "hello stranger\n"


def test_a_plugin_view_and_artifact_source_serve_a_run(demo: Path, tmp_path: Path) -> None:
    import demo_localcore_plugin

    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "reader.yaml").write_text(RECIPE)
    root = tmp_path / "root"
    code = main(
        [
            *(
                "run",
                "--recipes",
                str(recipes),
                "--root",
                str(root),
                "--thing-name",
                "t-1",
                "--duration",
                "2",
            ),
            *("--view", "--cloud", "recording"),  # the only plugin view is the default of --view
        ]
    )
    assert code == 0
    events = demo_localcore_plugin.EVENTS
    # state changes may come before `started` (the protocol allows it); `finished` is last
    assert ("started", "t-1") in events and events[-1] == ("finished", 0)
    assert ("state", "demo.Reader", "FINISHED") in events
    assert "made by the demo plugin" in (root / "logs" / "demo.Reader.log").read_text()


def test_views_by_name_and_a_missing_one_named(demo: Path) -> None:
    offered = {"demo": load_plugins()[0].plugin.views()["demo"]}
    assert type(choose_view("demo", offered)).__name__ == "DemoView"
    assert type(choose_view("", {})).__name__ == "LiveView"  # localcore's own
    with pytest.raises(RunnerError, match="--view nope: no such view; expected one of demo, live"):
        choose_view("nope", offered)


def test_the_plugins_cloud_description_is_the_default(demo: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "demo-project").mkdir(parents=True)
    base = ["run", "--recipes", "r", "--thing-name", "t-9", "--project-root", str(project)]
    args = build_parser(load_plugins()).parse_args(base)
    cloud = cloud_for_run(args)(_context(tmp_path))
    assert cloud.description.buckets == ("demo-t-9",)
    given = tmp_path / "cloud.json"
    given.write_text(json.dumps({"buckets": ["mine"]}))
    args = build_parser(load_plugins()).parse_args([*base, "--cloud-description", str(given)])
    assert cloud_for_run(args)(_context(tmp_path)).description.buckets == ("mine",)


def _context(tmp_path: Path) -> CloudContext:
    from localcore.shadows.store import ShadowStore

    return CloudContext(
        root=tmp_path / "core",
        thing_name="t-9",
        region="us-east-1",
        configuration={},
        shadows=ShadowStore(tmp_path / "shadows", rate_limits=None),
    )


def test_the_cli_no_longer_calls_itself_the_bundles() -> None:
    parser = build_parser()
    assert isinstance(parser, argparse.ArgumentParser)
    assert "bundle" not in (parser.description or "")
    assert (parser.description or "").startswith("A local AWS IoT Greengrass v2 core: runs any component")


def test_without_the_cloud_extra_run_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """localcore without ``[cloud]`` (moto, boto3): the default embedded cloud cannot load."""
    monkeypatch.setitem(sys.modules, "localcore.cloud.service", None)  # what a missing moto/boto3 gives
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    code = main(["run", "--recipes", str(recipes), "--root", str(tmp_path / "root"), "--thing-name", "t"])
    assert code == 2
    assert "install localcore[cloud], or run with --cloud recording" in capsys.readouterr().err
