"""The sync component's exceptions: each name says what went wrong."""

from __future__ import annotations


class SyncError(Exception):
    """Base class of every sync component error."""


class StoreError(SyncError):
    """The offline store could not do what was asked."""


class StoreUnusableError(StoreError):
    """The database file is corrupt or locked by another process; it is moved aside and replaced."""


class StoreFullError(StoreError):
    """No space left on the store's file system: the file is fine and stays; wait for space."""


class EncodingError(SyncError):
    """A batch could not be encoded or a blob is not a batch this reader understands."""


class UploadError(SyncError):
    """An upload failed; ``link_down`` says whether it looks like a lost link (worth backing off)."""

    def __init__(self, message: str, *, link_down: bool) -> None:
        super().__init__(message)
        self.link_down = link_down


class AwsLinkError(SyncError):
    """No answer from AWS: the connection failed, timed out or closed, or credentials are unreachable."""


class CredentialsUnavailableError(AwsLinkError):
    """No credentials: the token exchange service did not answer with any, or none are configured."""


class AwsServiceError(SyncError):
    """AWS answered with an error: ``status`` (HTTP) and ``code`` (e.g. ``NoSuchBucket``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}" if message else f"HTTP {status} {code}")
        self.status = status
        self.code = code
