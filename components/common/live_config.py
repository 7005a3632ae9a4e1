"""Run-time configuration shared by every component: validated, applied live, reported in a shadow.

A component's effective configuration is its Greengrass configuration (recipe defaults merged
with the deployment's ``configurationUpdate``) overlaid with the ``desired.config`` of its named
shadow, so an operator can tune one device from the cloud console. Every change is validated
into the component's configuration model (a :class:`~components.common.structs.ConfigStruct`) first: a valid one is applied without a restart, an invalid
one is refused, the old configuration keeps running, and the shadow's ``reported`` state says
which configuration is in effect or why the change was refused.

A core that serves no shadows (nucleus lite answers every shadow operation with ``ServiceError``,
reference nucleus-lite.md) does not stop the component: it runs with its deployment's
configuration, still follows configuration updates, and the log says once which features are off
(``event=shadow_unavailable``). A later successful read turns them back on
(``event=shadow_available``).

Each desired version is evaluated once and reported once. The component follows the shadow's
``update/documents`` topic and acts only on a change of ``desired.config`` (its value or the
metadata ShadowManager stamps on every desired write), never on ``update/delta``: ShadowManager
publishes a delta after every update while desired and reported differ, the component's own
report included, so a refused desired configuration answered on the delta was refused again on
the delta its refusal produced (issue #17: 11-12 rejections in 100 ms). Removing
``desired.config`` shows only in ``update/documents`` (an empty desired has no delta) and brings
the deployment's configuration back.

Shadow layout (named shadow of the core device)::

    {"state": {"desired":  {"config": {...partial overrides...}},
               "reported": {"config": {...effective...}, "status": "applied" | "rejected",
                            "error": "rules.0.above: Expected `float` (got 'hot')" | null}}}
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from components.common.exceptions import ConfigError, ShadowUnavailableError, StructError
from components.common.ipc import Closeable, ComponentIpc
from components.common.logs import kv
from components.common.structs import ConfigStruct, convert, to_json_dict

log = logging.getLogger(__name__)

ConfigT = TypeVar("ConfigT", bound=ConfigStruct)

# Keys the nucleus keeps in a component's configuration that are not the component's own settings.
NUCLEUS_KEYS = frozenset({"accessControl"})
# What a component loses while its core serves no shadows (the shadow_unavailable log line).
SHADOW_FEATURES = (
    "per-device overrides from the shadow's desired.config; the reported config, status and error"
)


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``overlay`` merged in: maps merge key by key, anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def validate_config(model: type[ConfigT], raw: Any) -> ConfigT:
    """Validate a raw configuration mapping into ``model``.

    Raises:
        ConfigError: naming every key that is wrong and what was expected.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"<config>: expected an object, got {type(raw).__name__}")
    own = {key: value for key, value in raw.items() if key not in NUCLEUS_KEYS}
    try:
        return convert(own, model)
    except StructError as err:
        raise ConfigError(str(err)) from err


class LiveConfig(Generic[ConfigT]):
    """Keeps a component's configuration current and its shadow's ``reported`` state honest.

    Args:
        ipc: the component's IPC wrapper.
        model: the component's configuration model.
        shadow: the component's named shadow (e.g. ``sensing-config``).
        apply: called with each newly accepted configuration; may raise :class:`ConfigError` to
            refuse it (for checks that need the running component, such as loading a model).
    """

    def __init__(
        self,
        ipc: ComponentIpc,
        model: type[ConfigT],
        shadow: str,
        apply: Callable[[ConfigT], None],
    ) -> None:
        self._ipc = ipc
        self._model = model
        self._shadow = shadow
        self._apply = apply
        self._lock = threading.Lock()
        self._subscriptions: list[Closeable] = []
        self.current: ConfigT | None = None
        self.last_error: str | None = None
        # False while the core answers shadow operations with ServiceError (nucleus lite).
        self.shadow_available = True
        # The last report sent: a report equal to it is not sent again unless a new desired
        # version asks for an answer.
        self._last_report: tuple[str, str | None, Any] | None = None

    @property
    def model(self) -> type[ConfigT]:
        """The configuration model every change is validated into."""
        return self._model

    def start(self) -> ConfigT:
        """Load, validate and apply the configuration, then follow changes.

        Raises:
            ConfigError: the component's own (deployment) configuration is invalid and no
                previous configuration exists to fall back on.
        """
        self._subscriptions.append(self._ipc.subscribe_config(lambda _path: self.refresh()))
        self._subscriptions.append(self._ipc.subscribe_shadow_documents(self._shadow, self._on_documents))
        self.refresh()
        if self.current is None:
            # A bad shadow override must not stop the component: retry with the deployment's
            # configuration alone before giving up.
            self.refresh(ignore_shadow=True)
        if self.current is None:
            raise ConfigError(self.last_error or "configuration could not be loaded")
        return self.current

    def _on_documents(self, documents: Any) -> None:
        """An accepted shadow update: re-evaluate only when it wrote ``desired.config``."""
        if not isinstance(documents, dict):
            return
        if desired_config_write(documents.get("previous")) == desired_config_write(documents.get("current")):
            return  # reported only (our own report among them), or other desired keys
        self.refresh(new_desired=True)

    def refresh(self, ignore_shadow: bool = False, new_desired: bool = False) -> None:
        """Re-read configuration and shadow, and apply the result if it is valid and new.

        ``new_desired``: a new desired version arrived, so it is answered (reported) even when the
        answer equals the last one; otherwise an unchanged outcome is not reported again.
        """
        with self._lock:
            base = self._ipc.get_config() or {}
            desired: dict[str, Any] = {}
            if not ignore_shadow:
                desired = self._desired_config()
            raw = deep_merge(
                base if isinstance(base, dict) else {}, desired if isinstance(desired, dict) else {}
            )
            try:
                candidate = validate_config(self._model, raw)
                if self.current is not None and candidate == self.current:
                    # Nothing to apply; a desired config removed after a refusal still changes
                    # the answer (the configuration in effect is accepted again).
                    self.last_error = None
                    self._report("applied", None, force=new_desired)
                    return
                self._apply(candidate)
            except ConfigError as err:
                if self.last_error != str(err) or new_desired:
                    log.warning(kv(event="config_rejected", shadow=self._shadow, error=err))
                self.last_error = str(err)
                self._report("rejected", str(err), force=new_desired)
                return
            self.current = candidate
            self.last_error = None
            log.info(kv(event="config_applied", shadow=self._shadow))
            self._report("applied", None)

    def _desired_config(self) -> Any:
        """The shadow's ``desired.config``; ``{}`` (the deployment's configuration alone) if the core
        serves no shadows."""
        try:
            document = self._ipc.get_shadow(self._shadow) or {}
        except ShadowUnavailableError as err:
            self._shadow_lost(err)
            return {}
        if not self.shadow_available:
            self.shadow_available = True
            log.info(kv(event="shadow_available", shadow=self._shadow, on=SHADOW_FEATURES))
        return ((document.get("state") or {}).get("desired") or {}).get("config") or {}

    def _shadow_lost(self, err: ShadowUnavailableError) -> None:
        if self.shadow_available:
            self.shadow_available = False
            log.warning(
                kv(
                    event="shadow_unavailable",
                    shadow=self._shadow,
                    running_with="the deployment's configuration",
                    off=SHADOW_FEATURES,
                    error=err,
                )
            )

    def _report(self, status: str, error: str | None, force: bool = False) -> None:
        if not self.shadow_available:
            return  # said once in _shadow_lost; the log still has every applied or refused change
        effective = to_json_dict(self.current) if self.current is not None else None
        report = (status, error, effective)
        if report == self._last_report and not force:
            return
        self._last_report = report
        try:
            self._ipc.update_shadow(
                self._shadow, {"state": {"reported": {"config": effective, "status": status, "error": error}}}
            )
        except Exception as err:  # the shadow is a report; failing to write it must not stop the component
            log.warning(kv(event="shadow_report_failed", shadow=self._shadow, error=repr(err)))

    def stop(self) -> None:
        """Stop following changes."""
        for subscription in self._subscriptions:
            try:
                subscription.close()
            except Exception as err:
                log.debug(kv(event="close_failed", error=repr(err)))
        self._subscriptions.clear()


def desired_config_write(document: Any) -> tuple[Any, Any]:
    """``desired.config`` of a shadow document with its metadata (the time of each write).

    Two documents with equal results had no write of ``desired.config`` between them; a write of
    the same value still differs (ShadowManager stamps its metadata on every desired update).
    """
    if not isinstance(document, dict):
        return (None, None)
    state = (document.get("state") or {}).get("desired") or {}
    metadata = (document.get("metadata") or {}).get("desired") or {}
    if not isinstance(state, dict) or not isinstance(metadata, dict):
        return (None, None)
    return (state.get("config"), metadata.get("config"))
