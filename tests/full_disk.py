"""A small real file system for full-disk tests: a tmpfs mounted on a folder of the test's own
(root only; the test is skipped otherwise), filled to the last byte, unmounted after."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_filesystem(folder: Path, size: str = "2m") -> Iterator[Path]:
    """Mount a ``size`` tmpfs on ``folder`` (created), yield it, unmount it."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"needs a tmpfs mount (root): {err}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


def fill(fs: Path) -> Path:
    """Write a file until ``fs`` is full to the last byte; returns it (remove it to free the space)."""
    junk = fs / "junk"
    fd = os.open(junk, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        while True:
            for size in (65536, 512, 1):
                try:
                    os.write(fd, b"\0" * size)
                    break
                except OSError as err:
                    assert err.errno == errno.ENOSPC
            else:
                break
    finally:
        os.close(fd)
    return junk
