"""A local core as its own process, whose cloud outlives it: ``kill -9`` of the core then loses
what a device would lose, never what AWS already holds.

    python tests/system/core_process.py --moto-url URL --root DIR --thing-name T \\
        --recipes recipes --recipes extra.json --deployment dep.yaml

It runs exactly what ``localcore run`` runs (``LocalCore`` + the embedded cloud: IoT Core broker,
topic rules, shadow sync, token exchange, fault proxy) except that the cloud's AWS is a moto server
the test started and keeps (``--moto-url``), provisioned once: a restarted core finds the S3
objects, DynamoDB items and cloud shadows of the previous run, as a real device would.
SIGTERM/SIGINT stop it cleanly (S3 and DynamoDB are dumped under ``<root>/cloud/`` as usual).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

if __package__ in (None, ""):  # run as a script: the repository's packages come first
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bundledev.cloud_description import describe_bundle
from bundledev.plugin import EdgeBundlePlugin
from bundlespec import load_spec
from localcore.cli import JsonReporter, run_core
from localcore.cloud.moto_server import MotoCloud
from localcore.cloud.options import CloudOptions
from localcore.cloud.service import EmbeddedCloud
from localcore.contracts import CloudContext
from localcore.core import LocalCore
from localcore.runner.supervisor import SupervisorSettings


class ExternalMoto(MotoCloud):
    """A :class:`MotoCloud` for a moto server someone else started and provisioned (kept as is)."""

    owns_state = False  # the server outlives each core: nothing to keep or load

    def __init__(self, cloud: MotoCloud, url: str) -> None:
        super().__init__(cloud.description, cloud.things)
        self._external_url = url

    def start(self) -> None:
        """Point at the running server; no reset, no provisioning (its state is the cloud's)."""
        self.url = self._external_url

    def stop(self, dump_to: Path | None = None) -> None:
        """Dump what reached the cloud (as ``localcore run`` does); the server keeps running."""
        if dump_to is not None and self.url:
            self.dump(dump_to)
        self.url = ""


def cloud_factory(moto_url: str, schedule: str | None) -> Any:
    """A ``LocalCore`` cloud factory: the embedded cloud with its AWS at ``moto_url``."""

    def make(context: CloudContext) -> EmbeddedCloud:
        options = CloudOptions.from_configuration(context.configuration, schedule=schedule)
        description = describe_bundle(load_spec(), context.thing_name)
        cloud = EmbeddedCloud(
            context.root,
            context.thing_name,
            description=description,
            options=options,
            shadows=context.shadows,
        )
        cloud.moto = ExternalMoto(cloud.moto, moto_url)
        return cloud

    return make


def main(argv: list[str] | None = None) -> int:
    """Run the core until SIGTERM/SIGINT; the exit code of ``localcore run``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moto-url", required=True)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--thing-name", required=True)
    parser.add_argument("--recipes", type=Path, action="append", required=True)
    parser.add_argument("--deployment", type=Path)
    parser.add_argument("--project-root", type=Path)
    parser.add_argument("--connectivity", help="a schedule, e.g. online:20,offline:10")
    parser.add_argument("--nucleus", default="classic", help="the localcore profile: classic or lite")
    args = parser.parse_args(argv)
    core = LocalCore(
        root=args.root,
        recipes=args.recipes,
        thing_name=args.thing_name,
        deployment=args.deployment,
        project_root=args.project_root,
        cloud=cloud_factory(args.moto_url, args.connectivity),
        artifact_sources=EdgeBundlePlugin().artifact_sources(),
        # The nucleus' back-off shortened (as localcore.testing does) so restarts fit a test.
        settings=SupervisorSettings(backoff_base=0.2, backoff_max=1.0, stop_grace=3.0),
        nucleus=args.nucleus,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return run_core(core, JsonReporter(), None, stop)


if __name__ == "__main__":
    sys.exit(main())
