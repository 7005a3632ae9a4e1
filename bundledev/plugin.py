"""The bundle's :class:`localcore.plugins.Plugin`, registered as the ``edge-bundle`` entry point."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from localcore.cloud.description import CloudDescription
from localcore.plugins import ArtifactSource, Plugin, ReporterFactory, RunReporter

SPEC_FILE = "bundle.yaml"


class EdgeBundlePlugin(Plugin):
    """The source-zip artifact source, the ``bundle`` live view and ``bundle.yaml``'s cloud."""

    def __init__(self) -> None:
        from bundledev.source_zip import SourceZipSource

        self._sources = (SourceZipSource(),)

    def artifact_sources(self) -> Sequence[ArtifactSource]:
        """``edgebundle.zip`` built from the working tree."""
        return self._sources

    def views(self) -> Mapping[str, ReporterFactory]:
        """``--view bundle`` (``--view`` alone picks it: it is the only plugin view)."""

        def bundle() -> RunReporter:
            from bundledev.live_view import BundleLiveView

            return BundleLiveView()

        return {"bundle": bundle}

    def cloud_description(self, project_root: Path, thing_name: str) -> CloudDescription | None:
        """``bundle.yaml``'s cloud, when the project being run is this bundle (it has the file)."""
        path = project_root / SPEC_FILE
        if not path.is_file():
            return None
        from bundledev.cloud_description import describe_bundle
        from bundlespec import load_spec

        return describe_bundle(load_spec(path), thing_name)


plugin = EdgeBundlePlugin()
