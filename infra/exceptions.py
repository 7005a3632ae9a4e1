"""Errors of the CDK app: each names what is wrong and what was expected."""

from __future__ import annotations


class InfraError(Exception):
    """Base of the CDK app's errors."""


class RecipeError(InfraError):
    """A recipe in ``recipes/`` cannot become a component version (bad YAML, missing field, artifact)."""


class SettingsError(InfraError):
    """The stack's settings contradict each other (for example configuration for an unknown component)."""


class DeviceConfigError(InfraError):
    """A device's identity cannot be assembled (stack, thing, certificate, secret or endpoint missing)."""
