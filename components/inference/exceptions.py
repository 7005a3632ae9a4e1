"""Errors of the inference component."""

from __future__ import annotations

from components.common.live_config import ConfigError


class ModelSwapRejected(ConfigError):
    """A configured model failed validation; the running model keeps serving.

    A :class:`ConfigError`, so :class:`~components.common.live_config.LiveConfig` reports the
    reason in the ``inference-config`` shadow and keeps the previous configuration.
    """
