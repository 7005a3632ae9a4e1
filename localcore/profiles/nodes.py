"""Nodes of a JSON value as nucleus lite's subscription decoder counts them.

``PAYLOAD_MAX_SUBOBJECTS`` (``LITE:modules/core-bus/src/client_subscribe.c``, line 36) bounds the
objects one decoded message may take: every value (a map or a list included) and every map key.
This count agrees with what was observed (nucleus-lite.md "Size limits"): a map of 20 keys (41
nodes) passed and one of 30 (61) did not; a list of 40 (41) passed and one of 60 (61) did not.
"""

from __future__ import annotations

from typing import Any


def count_nodes(value: Any) -> int:
    """Nodes of ``value``: 1 for itself, plus each key and the nodes of each item."""
    if isinstance(value, dict):
        return 1 + sum(1 + count_nodes(item) for item in value.values())
    if isinstance(value, list | tuple):
        return 1 + sum(count_nodes(item) for item in value)
    return 1
