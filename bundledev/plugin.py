"""The bundle's :class:`localcore.plugins.Plugin`, registered as the ``edge-bundle`` entry point."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from localcore.cloud.description import CloudDescription
from localcore.plugins import ArtifactSource, Plugin, ReporterFactory, RunReporter

SPEC_FILE = "bundle.yaml"


class EdgeBundlePlugin(Plugin):
    """The source-zip artifact source, the ``bundle`` live view, ``bundle.yaml``'s cloud and the
    ``bundle-cloud`` command that prints it as a cloud description file."""

    def __init__(self) -> None:
        from bundledev.source_zip import SourceZipSource

        self._sources = (SourceZipSource(),)

    def artifact_sources(self) -> Sequence[ArtifactSource]:
        """``edgebundle.zip`` built from the working tree."""
        return self._sources

    def views(self) -> Mapping[str, ReporterFactory]:
        """``--view bundle`` (``--view`` alone picks it: it is the only plugin view)."""

        def bundle() -> RunReporter:
            from bundledev.console.server import console_enabled
            from bundledev.live_view import BundleLiveView

            # Read here, before the core starts: a misspelt BUNDLE_CONSOLE is a usage error.
            return BundleLiveView(web_console=console_enabled())

        return {"bundle": bundle}

    def add_commands(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """``localcore bundle-cloud [--thing-name T]``: bundle.yaml as a cloud description file."""
        command = subparsers.add_parser(
            "bundle-cloud", help="print bundle.yaml's cloud as a --cloud-description file (JSON)"
        )
        command.add_argument("--spec", type=Path, default=Path(SPEC_FILE), help="default: ./bundle.yaml")
        command.add_argument("--thing-name", default=None, help="the core's thing, added to the fleet group")
        command.set_defaults(func=_print_bundle_cloud)

    def cloud_description(self, project_root: Path, thing_name: str) -> CloudDescription | None:
        """``bundle.yaml``'s cloud, when the project being run is this bundle (it has the file)."""
        path = project_root / SPEC_FILE
        if not path.is_file():
            return None
        from bundledev.cloud_description import describe_bundle
        from bundlespec import load_spec

        return describe_bundle(load_spec(path), thing_name)


def _print_bundle_cloud(args: argparse.Namespace) -> int:
    from bundledev.cloud_description import describe_bundle
    from bundlespec import SpecError, load_spec
    from localcore.cloud.description import dump_cloud_description

    try:
        spec = load_spec(args.spec.resolve())
    except (OSError, SpecError) as err:
        print(f"localcore bundle-cloud: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(dump_cloud_description(describe_bundle(spec, args.thing_name)))
    return 0


plugin = EdgeBundlePlugin()
