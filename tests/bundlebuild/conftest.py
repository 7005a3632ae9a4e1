"""A device build of every component for amd64, made once per session (wheels from the shared cache)."""

from __future__ import annotations

import pytest

from bundlebuild import build as bb


@pytest.fixture(scope="session")
def amd64_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bb.BuiltComponent]:
    """``make build ARGS="--arch amd64"`` into a temporary folder, by component name.

    The first run on a machine downloads the wheels from PyPI; later runs take them from the
    wheel cache (``~/.cache/edge-bundle/wheels``, or ``$EDGEBUNDLE_WHEEL_CACHE``).
    """
    out = tmp_path_factory.mktemp("amd64-build") / "greengrass-build"
    return {component.name: component for component in bb.build(out=out, arches=["amd64"])}
