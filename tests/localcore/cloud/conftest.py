"""Fixtures: one provisioned moto cloud for the module's tests (moto starts in about a second)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcore.cloud.moto_server import MotoCloud
from tests.localcore.cloud.description import DESCRIPTION


@pytest.fixture(scope="module")
def moto_cloud() -> Iterator[MotoCloud]:
    """GIVEN a moto server provisioned from the tests' cloud description (cloud.yaml)."""
    cloud = MotoCloud(DESCRIPTION)
    cloud.start()
    yield cloud
    cloud.stop()
