"""The cloud description localcore's cloud tests run with (``cloud.yaml`` beside this file)."""

from __future__ import annotations

from pathlib import Path

from localcore.cloud.description import CloudDescription, load_cloud_description

DESCRIPTION_FILE = Path(__file__).with_name("cloud.yaml")
DESCRIPTION: CloudDescription = load_cloud_description(DESCRIPTION_FILE)
ALERTS_TABLE = DESCRIPTION.tables[0].name
