"""Fixtures: one provisioned moto cloud for the module's tests (moto starts in about a second)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bundlespec import load_spec
from localcore.cloud.moto_server import MotoCloud


@pytest.fixture(scope="module")
def moto_cloud() -> Iterator[MotoCloud]:
    """GIVEN a moto server provisioned from bundle.yaml."""
    cloud = MotoCloud(load_spec())
    cloud.start()
    yield cloud
    cloud.stop()
