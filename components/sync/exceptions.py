"""The sync component's exceptions: each name says what went wrong."""

from __future__ import annotations


class SyncError(Exception):
    """Base class of every sync component error."""


class StoreError(SyncError):
    """The offline store could not do what was asked."""


class StoreUnusableError(StoreError):
    """The database file is corrupt or locked by another process; it is moved aside and replaced."""


class EncodingError(SyncError):
    """A batch could not be encoded or a blob is not a batch this reader understands."""


class UploadError(SyncError):
    """An upload failed; ``link_down`` says whether it looks like a lost link (worth backing off)."""

    def __init__(self, message: str, *, link_down: bool) -> None:
        super().__init__(message)
        self.link_down = link_down
