"""Errors of the inference component."""

from __future__ import annotations

# Defined once for both model-hosting components; re-exported for this component's callers.
from components.common.exceptions import ModelSwapRejected

__all__ = ["ModelSwapRejected"]
