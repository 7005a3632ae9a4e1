"""The payloads ShadowManager answers with and publishes on its local topics (reference 6.2-6.5)."""

from __future__ import annotations

import copy
from typing import Any

from localcore.shadows.document import ShadowDocument, UpdateOutcome, compute_delta, delta_metadata
from localcore.shadows.request import UpdateRequest


def get_response(document: ShadowDocument, now: int) -> dict[str, Any]:
    """GetThingShadow payload: state (with delta when non-empty), metadata, version, timestamp."""
    state = copy.deepcopy(document.state)
    delta = compute_delta(document.state)
    if delta:
        state["delta"] = delta
    return {
        "state": state,
        "metadata": copy.deepcopy(document.metadata),
        "version": document.version,
        "timestamp": now,
    }


def _with_token(payload: dict[str, Any], client_token: str | None) -> dict[str, Any]:
    if client_token is not None:
        payload["clientToken"] = client_token
    return payload


def accepted_response(outcome: UpdateOutcome, request: UpdateRequest, now: int) -> dict[str, Any]:
    """``update/accepted`` and the IPC response: the request's state as sent, its metadata patch."""
    payload: dict[str, Any] = {"state": copy.deepcopy(request.state), "metadata": outcome.metadata_patch}
    payload = _with_token(payload, request.client_token)
    payload.update(version=outcome.current.version, timestamp=now)
    return payload


def delta_message(document: ShadowDocument, client_token: str | None, now: int) -> dict[str, Any] | None:
    """``update/delta`` payload, or None when desired and reported agree."""
    delta = compute_delta(document.state)
    if not delta:
        return None
    payload: dict[str, Any] = {
        "version": document.version,
        "timestamp": now,
        "state": delta,
        "metadata": delta_metadata(delta, document.metadata.get("desired")),
    }
    return _with_token(payload, client_token)


def documents_message(outcome: UpdateOutcome, client_token: str | None, now: int) -> dict[str, Any]:
    """``update/documents`` payload; ``previous`` is left out for a new document (SHM passes null)."""
    payload: dict[str, Any] = {}
    if outcome.previous is not None:
        payload["previous"] = outcome.previous.to_json()
    payload["current"] = outcome.current.to_json()
    payload = _with_token(payload, client_token)
    payload["timestamp"] = now
    return payload


def rejected_message(code: int, message: str, client_token: str | None, now: int) -> dict[str, Any]:
    """``.../rejected`` payload: ``{"code", "message", "timestamp", "clientToken"?}``."""
    return _with_token({"code": code, "message": message, "timestamp": now}, client_token)


def delete_accepted(document: ShadowDocument, client_token: str | None, now: int) -> dict[str, Any]:
    """``delete/accepted`` payload: the deleted document's version and a timestamp."""
    return _with_token({"version": document.version, "timestamp": now}, client_token)
