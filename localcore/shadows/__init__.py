"""ShadowManager's local shadows: document rules, persistence, topics and the ShadowStore."""

from localcore.shadows.errors import ShadowError
from localcore.shadows.store import ShadowStore

__all__ = ["ShadowError", "ShadowStore"]
