"""Shared pieces of the inspection tests: the shipped defect model, loaded once."""

from __future__ import annotations

import pytest

from components.inspection.config import ModelConfig
from components.inspection.model import DefectModel, load_defect_model


@pytest.fixture(scope="session")
def int8_model() -> DefectModel:
    return load_defect_model(ModelConfig())
