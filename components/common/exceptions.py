"""The errors of what the components share, each named for what went wrong.

Each component package has its own ``exceptions.py`` (``components/sensing/exceptions.py`` and so
on); these are the ones raised by ``components/common``. The model runtime's errors are in
:mod:`components.common.model_errors`, one family callers catch as :class:`ModelError`.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration was refused; the message names the key, the value and what was expected."""


class StructError(ValueError):
    """Raw data does not fit a model; the message names the key path, what was expected and the value."""


class MessageError(ValueError):
    """A message on a bundle topic does not match its schema."""


class IpcError(RuntimeError):
    """An IPC call failed; the message names the operation and the resource."""


class ShadowUnavailableError(IpcError):
    """The core answered a shadow operation with ``ServiceError``: it serves no shadows.

    Nucleus lite answers every shadow operation so (reference nucleus-lite.md, "IPC operations":
    "Everything else, shadows and GetSecretValue included, answers ``ServiceError``"); the classic
    nucleus' ShadowManager does for a throttled or failed request.
    """


class GpioUnavailableError(Exception):
    """Blinka (the ``device`` extra), the board support or the named pin cannot be used here."""


class SpoolEntryError(ValueError):
    """An image spool entry is unreadable: bad metadata, or an image named outside the spool."""


class ModelSwapRejected(ConfigError):
    """A configured model failed validation; the running model keeps serving.

    A :class:`ConfigError`, so :class:`~components.common.live_config.LiveConfig` reports the
    reason in the component's configuration shadow and keeps the previous configuration.
    """


class MessageTooLargeError(MessageError):
    """A message to publish is over the bundle's wire limit (``components.common.wire_limits``)."""
