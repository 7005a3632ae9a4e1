"""Errors of the local shadow store, carrying ShadowManager's error ``code`` and ``message``.

The IPC layer maps ``code`` to the client's modelled errors (400/413 -> InvalidArgumentsError,
404 -> ResourceNotFoundError, 409 -> ConflictError, anything else -> ServiceError). The same code
and message go into the ``.../rejected`` topic payload; where ShadowManager words the topic message
differently from the IPC error (404), ``rejected_message`` holds the topic wording.
"""

from __future__ import annotations


class ShadowError(Exception):
    """A shadow request failed; ``code`` is the HTTP-like ShadowManager code."""

    def __init__(self, code: int, message: str, *, rejected_message: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.rejected_message = rejected_message if rejected_message is not None else message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r})"


class ShadowInvalidRequestError(ShadowError):
    """400: a bad thing/shadow name, payload, schema, depth or version (InvalidArgumentsError)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


class ShadowNotFoundError(ShadowError):
    """404: no (non-deleted) shadow with that name (ResourceNotFoundError "No shadow found")."""

    def __init__(self, shadow: str) -> None:
        # SHM: the IPC error says "No shadow found"; the rejected topic names the shadow.
        super().__init__(
            404,
            "No shadow found",
            rejected_message=f"No shadow exists with name: {shadow or 'Unnamed Shadow'}",
        )


class ShadowConflictError(ShadowError):
    """409: the request's ``version`` is not the shadow's current version (ConflictError)."""

    def __init__(self) -> None:
        super().__init__(409, "Version conflict")


class ShadowTooLargeError(ShadowError):
    """413: the merged desired+reported state exceeds the document size limit."""

    def __init__(self) -> None:
        super().__init__(413, "The payload exceeds the maximum size allowed")


class ShadowRateLimitedError(ShadowError):
    """429: more requests than ShadowManager's per-thing or total rate limit (ServiceError)."""

    def __init__(self) -> None:
        super().__init__(429, "Too Many Requests")


class ShadowInternalError(ShadowError):
    """500: the store could not persist or read a document (ServiceError)."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            500, f"Internal service failure: {detail}", rejected_message="Internal service failure"
        )
