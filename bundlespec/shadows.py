"""ShadowManager's sync settings for the bundle: the one home of what the fleet deployment sets.

``infra/greengrass`` puts them into the fleet deployment's ShadowManager configuration; the
bundle's cloud description for localcore (``bundledev``) carries the same ``synchronize`` object,
so ``make run`` syncs what a real device syncs.
"""

from __future__ import annotations

from typing import Any

from components.common import topics

# The named shadows ShadowManager keeps in sync with the cloud (the classic shadow is unused).
SYNCED_SHADOWS = (
    topics.SHADOW_SENSING,
    topics.SHADOW_INFERENCE,
    topics.SHADOW_INSPECTION,
    topics.SHADOW_SYNC,
)


def shadow_manager_synchronize() -> dict[str, Any]:
    """ShadowManager's ``synchronize``: our named shadows of the core thing, both ways."""
    return {
        "coreThing": {"classic": False, "namedShadows": list(SYNCED_SHADOWS)},
        "direction": "betweenDeviceAndCloud",
    }
