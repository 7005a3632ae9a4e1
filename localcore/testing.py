"""Run components from their recipes in a real local core, in-process, for integration tests.

Example (a component's integration test)::

    from localcore.testing import running_core

    def test_sensing_publishes(tmp_path):
        with running_core(tmp_path, Path("recipes/sensing.yaml"), thing_name="line-1") as core:
            core.wait_for_state("com.edgebundle.Sensing", "RUNNING")
            client = core.client_for("com.edgebundle.Sensing")   # a real GreengrassCoreIPCClientV2
            ...
            core.cloud.published                                  # RecordingCloudAdapter by default
            core.wait_for_log("com.edgebundle.Sensing", "event=reading")

What it gives:

- the core's root at ``tmp_path / "core"``: ``logs/<Component>.log``, ``work/<Component>/``, ...;
- the components started from ``recipes`` (a recipe file, a folder, or a list of either) with the
  real runner: Install, Run, environment, accessControl, configuration, exactly as ``localcore run``;
- ``deployment``: a deployment file or ``{"components": {name: {"configurationUpdate": {...}}}}``;
- ``cloud``: a factory ``cloud(context) -> CloudService``; default a ``RecordingCloudAdapter``
  (``core.cloud.published``, ``core.cloud.inject(message)``, ``core.cloud.set_connected(False)``);
- ``only``: run just these components (and what they depend on);
- ``artifact_sources``: as ``localcore run`` has them, the installed plugins' by default
  (``LOCALCORE_PLUGINS`` chooses which, see :mod:`localcore.plugins`);
- shortened restart back-off and stop grace so failure tests are quick (``settings=`` to change).

In tests, the ``local_core`` fixture of ``tests/conftest.py`` wraps this (one root per call).
Everything is stopped when the block exits (components get SIGTERM, then SIGKILL), clients closed.
A component that does not reach a state in time fails the test with the tail of its log.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from localcore.contracts import CloudFactory
from localcore.core import LocalCore
from localcore.ipc.client_pool import ClientPool
from localcore.plugins import ArtifactSource, load_plugins
from localcore.plugins import artifact_sources as plugin_artifact_sources
from localcore.runner.logs import log_path
from localcore.runner.supervisor import SupervisorSettings

TEST_SETTINGS = SupervisorSettings(backoff_base=0.1, backoff_max=1.0, stop_grace=2.0)
DEFAULT_TIMEOUT = 30.0


class CoreHarness:
    """What :func:`running_core` yields: the core, its parts, and helpers that wait on conditions."""

    def __init__(self, core: LocalCore) -> None:
        self.core = core
        self.root = core.root
        self._clients: ClientPool | None = None

    # The parts, for assertions.
    @property
    def runner(self) -> Any:
        """The :class:`localcore.runner.runner.Runner`."""
        return self.core.runner

    @property
    def ipc(self) -> Any:
        """The :class:`localcore.ipc.server.IpcServer` (``.metrics()``, ``.publish_local(...)``)."""
        return self.core.ipc

    @property
    def config(self) -> Any:
        """The :class:`localcore.config.store.ConfigStore`."""
        return self.core.config

    @property
    def shadows(self) -> Any:
        """The :class:`localcore.shadows.store.ShadowStore`."""
        return self.core.shadows

    @property
    def cloud(self) -> Any:
        """The cloud adapter (a ``RecordingCloudAdapter`` unless one was given)."""
        return self.core.cloud

    def state(self, name: str) -> str:
        """A component's current lifecycle state."""
        return str(self.core.runner.state(name))

    def wait_for_state(self, name: str, state: str | Iterable[str], timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until ``name`` is in ``state`` (one or several); fail with its log tail otherwise."""
        if not self.core.runner.wait_for_state(name, state, timeout):
            raise AssertionError(
                f"{name} is {self.state(name)}, not {state}, after {timeout:g}s; log tail:\n{self.log_tail(name)}"
            )

    def wait_for_log(self, name: str, text: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Wait until ``text`` appears in ``name``'s log; return the first line containing it."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log(name).splitlines():
                if text in line:
                    return line
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{text!r} not in {name}'s log after {timeout:g}s; log tail:\n{self.log_tail(name)}"
                )
            time.sleep(0.05)  # polling a file: there is no event to wait on

    def log(self, name: str) -> str:
        """Everything in ``<root>/logs/<name>.log`` (current file only)."""
        path = log_path(self.root, name)
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def log_tail(self, name: str, lines: int = 30) -> str:
        """The last ``lines`` lines of ``name``'s log."""
        return "\n".join(self.log(name).splitlines()[-lines:])

    def token(self, name: str) -> str:
        """The SVCUID token the core gave ``name``."""
        return str(self.core.runner.token(name))

    def client_for(self, name: str, *, timeout: float = 10.0) -> GreengrassCoreIPCClientV2:
        """A real ``GreengrassCoreIPCClientV2`` connected as component ``name`` (closed at exit)."""
        if self._clients is None:
            # The socket path is known once the core has started, so the pool is made late.
            self._clients = ClientPool(self.core.socket_path)
        return self._clients.connect(self.token(name), timeout=timeout)

    def close_clients(self) -> None:
        """Close every client handed out."""
        if self._clients is not None:
            self._clients.close_all()


@contextlib.contextmanager
def running_core(
    tmp_path: Path,
    recipes: Path | Sequence[Path],
    thing_name: str = "test-thing",
    deployment: Path | Mapping[str, Any] | None = None,
    cloud: CloudFactory | None = None,
    only: Iterable[str] | None = None,
    *,
    settings: SupervisorSettings | None = None,
    project_root: Path | None = None,
    control: bool = False,
    log_max_bytes: int = 10 * 1024 * 1024,
    artifact_sources: Sequence[ArtifactSource] | None = None,
    nucleus: str = "classic",
) -> Iterator[CoreHarness]:
    """Start a :class:`LocalCore` rooted at ``tmp_path / "core"``, yield a :class:`CoreHarness`, stop it after.

    ``control=True`` also opens ``<root>/control.sock`` (for tests of CLI commands).
    ``project_root`` is where artifact URIs are resolved (default: the current directory).
    ``log_max_bytes``: size at which each component log rotates (3 backups are kept).
    ``nucleus``: ``"classic"`` (default) or ``"lite"``, the nucleus the core holds components to
    (:mod:`localcore.profiles`).
    """
    core = LocalCore(
        root=Path(tmp_path) / "core",
        recipes=recipes,
        thing_name=thing_name,
        deployment=deployment,
        only=only,
        cloud=cloud,
        settings=settings or TEST_SETTINGS,
        project_root=project_root,
        control=control,
        log_max_bytes=log_max_bytes,
        artifact_sources=(
            plugin_artifact_sources(load_plugins()) if artifact_sources is None else artifact_sources
        ),
        nucleus=nucleus,
    )
    core.start()
    harness = CoreHarness(core)
    try:
        yield harness
    finally:
        harness.close_clients()
        core.stop()
