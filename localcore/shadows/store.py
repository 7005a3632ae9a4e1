"""ShadowStore: ShadowManager's local shadow service (implements ``contracts.ShadowService``).

Thread-safe and synchronous. Every accepted change is persisted (one JSON file per shadow, see
``persistence.py``) before anyone hears of it; then the local ``$aws/things/...`` topics are
published (``publish(topic, json_bytes)``) and the listeners called, in commit order.

Example::

    store = ShadowStore(root, publish=ipc_server_publish)
    store.update("dev-1", "config", b'{"state": {"desired": {"rate": 5}}}')
    json.loads(store.get("dev-1", "config"))["state"]["delta"]  # {"rate": 5}
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcore.contracts import ShadowListener, TopicPublisher, Unsubscribe
from localcore.logfmt import kv
from localcore.outbox import OrderedOutbox
from localcore.shadows import document as doc
from localcore.shadows import payloads
from localcore.shadows.errors import (
    ShadowError,
    ShadowInternalError,
    ShadowInvalidRequestError,
    ShadowNotFoundError,
    ShadowRateLimitedError,
)
from localcore.shadows.jsonvalues import dump_json
from localcore.shadows.persistence import ShadowFiles
from localcore.shadows.ratelimit import InboundRateLimiter, RateLimits
from localcore.shadows.request import parse_update_request, validate_shadow_name, validate_thing_name
from localcore.shadows.topics import ShadowTopicRequest, parse_request_topic, shadow_topic

log = logging.getLogger("localcore.shadows")

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100

Publication = tuple[str, dict[str, Any]]
Notification = tuple[str, str, dict[str, Any] | None, str]
Delivery = tuple[list[Publication], Notification | None]


class ShadowStore:
    """Local named and classic shadows under ``<root>/shadows``, surviving restarts.

    ``max_document_size`` is ShadowManager's ``shadowDocumentSizeLimitBytes`` (default 8192, at
    most 30720). ``rate_limits`` applies to device-side requests only (``source="local"``); pass
    ``None`` to switch it off (cloud sync writes are never limited).
    """

    def __init__(
        self,
        root: Path,
        publish: TopicPublisher | None = None,
        clock: Callable[[], float] = time.time,
        *,
        max_document_size: int = doc.DEFAULT_DOCUMENT_SIZE,
        rate_limits: RateLimits | None = RateLimits(),  # noqa: B008 - frozen, shared safely
    ) -> None:
        if not isinstance(max_document_size, int) or not 0 < max_document_size <= doc.MAX_DOCUMENT_SIZE:
            raise ValueError(
                f"max_document_size must be an integer in 1..{doc.MAX_DOCUMENT_SIZE}, got {max_document_size!r}"
            )
        self._files = ShadowFiles(root)
        self._publish = publish
        self._clock = clock
        self._max_size = max_document_size
        self._limiter = InboundRateLimiter(rate_limits, clock) if rate_limits else None
        self._lock = threading.Lock()
        # Publications and notifications wait here in commit order; one thread at a time drains them,
        # outside the lock, so a listener may call back into the store without deadlocking.
        self._outbox: OrderedOutbox[Delivery] = OrderedOutbox(self._lock)
        self._listeners: list[ShadowListener] = []
        self._docs: dict[tuple[str, str], doc.ShadowDocument] = {
            (thing, shadow): loaded for thing, shadow, loaded in self._files.load_all()
        }

    # --- wiring ------------------------------------------------------------------------------------
    def set_publisher(self, publish: TopicPublisher | None) -> None:
        """Set where topic publications go (the IPC server exists only after the store)."""
        self._publish = publish

    def add_listener(self, listener: ShadowListener) -> Unsubscribe:
        """``listener(thing, shadow, document_or_None, source)`` after each accepted update/delete."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    # --- ShadowService ------------------------------------------------------------------------------
    def get(self, thing: str, shadow: str) -> bytes:
        """GetThingShadow; also publishes to ``get/accepted`` or ``get/rejected``."""
        return self._get(thing, shadow or "", None)

    def update(self, thing: str, shadow: str, payload: bytes, *, source: str = "local") -> bytes:
        """UpdateThingShadow: merge, persist, publish delta/documents/accepted; return the accepted payload."""
        return self._update(thing, shadow or "", payload, source)

    def delete(self, thing: str, shadow: str, *, source: str = "local") -> bytes:
        """DeleteThingShadow: remove the document; returns ``b""`` as ShadowManager's IPC response does."""
        return self._delete(thing, shadow or "", source, None)

    def list_named(self, thing: str, page_size: int | None, next_token: str | None) -> dict[str, Any]:
        """ListNamedShadowsForThing: ``{"results", "timestamp"}`` plus ``nextToken`` after a full page."""
        validate_thing_name(thing)
        size = DEFAULT_PAGE_SIZE if page_size is None else page_size
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
            raise ShadowInvalidRequestError(f"pageSize argument must be between 1 and {MAX_PAGE_SIZE}")
        offset = _decode_token(next_token, thing) if next_token else 0
        with self._lock:
            names = sorted(name for (owner, name) in self._docs if owner == thing and name)
        page = names[offset : offset + size]
        result: dict[str, Any] = {"results": page, "timestamp": int(self._clock())}
        if len(page) == size:
            result["nextToken"] = _encode_token(offset + size, thing)
        return result

    # --- extras for the cloud sync and the CLI --------------------------------------------------------
    def document(self, thing: str, shadow: str) -> dict[str, Any] | None:
        """The stored ``{"state", "metadata", "version"}`` without publishing anything, or None."""
        with self._lock:
            found = self._docs.get((thing, shadow or ""))
        return found.to_json() if found else None

    def shadows(self) -> list[tuple[str, str]]:
        """Every stored ``(thing, shadow)``, classic as ``""``."""
        with self._lock:
            return sorted(self._docs)

    def handle_topic_request(self, topic: str, payload: bytes) -> bool:
        """Serve a request published on ``$aws/things/{thing}/shadow[/name/{n}]/{get|update|delete}``.

        Answers go only to the ``accepted``/``rejected``/``delta``/``documents`` topics. Returns
        False (and does nothing) for any other topic; never raises for a bad request.
        """
        request = parse_request_topic(topic)
        if request is None:
            return False
        try:
            self._serve_topic_request(request, payload)
        except ShadowError:
            pass  # already answered on .../rejected
        except Exception as err:  # a bad request must never take the publisher's loop down
            log.exception(kv(event="shadow_topic_request_failed", topic=topic, error=repr(err)))
        return True

    # --- internals ------------------------------------------------------------------------------------
    def _serve_topic_request(self, request: ShadowTopicRequest, payload: bytes) -> None:
        if request.operation == "update":
            self._update(request.thing, request.shadow, payload, "local")
            return
        token = _client_token(payload)
        if request.operation == "get":
            self._get(request.thing, request.shadow, token)
        else:
            self._delete(request.thing, request.shadow, "local", token)

    def _now(self) -> int:
        return int(self._clock())

    def _admit(self, thing: str, source: str) -> None:
        if source == "local" and self._limiter is not None and not self._limiter.try_acquire(thing):
            raise ShadowRateLimitedError()

    def _get(self, thing: str, shadow: str, client_token: str | None) -> bytes:
        try:
            validate_thing_name(thing)
            validate_shadow_name(shadow)
            with self._lock:
                self._admit(thing, "local")
                found = self._docs.get((thing, shadow))
                if found is None:
                    raise ShadowNotFoundError(shadow)
                payload = payloads.get_response(found, self._now())
                if client_token is not None:
                    payload["clientToken"] = client_token
                self._outbox.append(([(shadow_topic(thing, shadow, "get/accepted"), payload)], None))
        except ShadowError as err:
            self._reject(thing, shadow, "get", err, client_token)
            raise
        self._drain()
        return dump_json(payload)

    def _update(self, thing: str, shadow: str, payload: bytes, source: str) -> bytes:
        client_token: str | None = None
        try:
            validate_thing_name(thing)
            validate_shadow_name(shadow)
            request = parse_update_request(payload)
            client_token = request.client_token
            with self._lock:
                self._admit(thing, source)
                outcome = doc.apply_update(
                    self._docs.get((thing, shadow)), request, self._now(), max_size=self._max_size
                )
                self._persist(thing, shadow, outcome.current)
                self._docs[(thing, shadow)] = outcome.current
                now = self._now()
                accepted = payloads.accepted_response(outcome, request, now)
                publications: list[Publication] = []
                delta = payloads.delta_message(outcome.current, client_token, now)
                if delta is not None:
                    publications.append((shadow_topic(thing, shadow, "update/delta"), delta))
                publications.append(
                    (
                        shadow_topic(thing, shadow, "update/documents"),
                        payloads.documents_message(outcome, client_token, now),
                    )
                )
                publications.append((shadow_topic(thing, shadow, "update/accepted"), accepted))
                self._outbox.append((publications, (thing, shadow, outcome.current.to_json(), source)))
        except ShadowError as err:
            self._reject(thing, shadow, "update", err, client_token)
            log.info(
                kv(
                    event="shadow_update_rejected",
                    thing=thing,
                    shadow=shadow,
                    code=err.code,
                    error=err.message,
                )
            )
            raise
        self._drain()
        log.debug(
            kv(
                event="shadow_updated",
                thing=thing,
                shadow=shadow,
                version=outcome.current.version,
                source=source,
            )
        )
        return dump_json(accepted)

    def _delete(self, thing: str, shadow: str, source: str, client_token: str | None) -> bytes:
        try:
            validate_thing_name(thing)
            validate_shadow_name(shadow)
            with self._lock:
                self._admit(thing, source)
                found = self._docs.get((thing, shadow))
                if found is None:
                    raise ShadowNotFoundError(shadow)
                try:
                    self._files.remove(thing, shadow)
                except OSError as err:
                    raise ShadowInternalError(f"could not delete the shadow file: {err}") from err
                del self._docs[(thing, shadow)]
                accepted = payloads.delete_accepted(found, client_token, self._now())
                publication = (shadow_topic(thing, shadow, "delete/accepted"), accepted)
                self._outbox.append(([publication], (thing, shadow, None, source)))
        except ShadowError as err:
            self._reject(thing, shadow, "delete", err, client_token)
            raise
        self._drain()
        log.debug(
            kv(event="shadow_deleted", thing=thing, shadow=shadow, version=found.version, source=source)
        )
        return b""

    def _persist(self, thing: str, shadow: str, document: doc.ShadowDocument) -> None:
        try:
            self._files.write(thing, shadow, document, self._clock())
        except OSError as err:
            log.error(kv(event="shadow_persist_failed", thing=thing, shadow=shadow, error=str(err)))
            raise ShadowInternalError(f"could not write the shadow file: {err}") from err

    def _reject(
        self, thing: str, shadow: str, operation: str, err: ShadowError, client_token: str | None
    ) -> None:
        if not (_topic_safe(thing) and (not shadow or _topic_safe(shadow))):
            return  # no well-formed topic to answer on
        payload = payloads.rejected_message(err.code, err.rejected_message, client_token, self._now())
        with self._lock:
            self._outbox.append(([(shadow_topic(thing, shadow, f"{operation}/rejected"), payload)], None))
        self._drain()

    def _drain(self) -> None:
        self._outbox.drain(lambda delivery: (delivery, list(self._listeners)), self._deliver)

    def _deliver(self, prepared: tuple[Delivery, list[ShadowListener]]) -> None:
        (publications, notification), listeners = prepared
        for topic, payload in publications:
            self._send(topic, payload)
        if notification is None:
            return
        for listener in listeners:
            try:
                listener(*notification)
            except Exception as err:  # one broken listener must not starve the others
                log.exception(kv(event="shadow_listener_failed", listener=repr(listener), error=repr(err)))

    def _send(self, topic: str, payload: dict[str, Any]) -> None:
        publish = self._publish
        if publish is None:
            return
        try:
            publish(topic, dump_json(payload))
        except Exception as err:  # the change is committed; a publish failure only loses the notice
            log.exception(kv(event="shadow_publish_failed", topic=topic, error=repr(err)))


def _topic_safe(name: str) -> bool:
    return bool(name) and not any(ch in name for ch in "/+#")


def _client_token(payload: bytes) -> str | None:
    # get/delete requests on topics may carry {"clientToken": "..."}; anything else is ignored.
    if not payload:
        return None
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return None
    token = body.get("clientToken") if isinstance(body, dict) else None
    return token if isinstance(token, str) else None


def _encode_token(offset: int, thing: str) -> str:
    raw = json.dumps({"thing": thing, "offset": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str, thing: str) -> int:
    try:
        body = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise ShadowInvalidRequestError("Invalid nextToken") from err
    if not isinstance(body, dict) or body.get("thing") != thing:
        raise ShadowInvalidRequestError("Invalid nextToken")
    offset = body.get("offset")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ShadowInvalidRequestError("Invalid nextToken")
    return offset
