"""Where a device's credentials are written, and how: outside any git work tree unless git ignores
the place, in a folder only the user can open, each file created with its final mode.

The default is ``~/.edge-bundle/provision/<thing>``: a private key has no business in a working
tree, where ``git add -A`` would commit it. ``--out`` may name another folder; one inside a git
work tree is refused unless git ignores it (``provision/`` is in the project's ``.gitignore``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from infra.exceptions import DeviceConfigError

DEFAULT_BASE = Path("~/.edge-bundle/provision")
FOLDER_MODE = 0o700


def default_out_dir(thing: str) -> Path:
    """``~/.edge-bundle/provision/<thing>``."""
    return DEFAULT_BASE.expanduser() / thing


def check_not_tracked(out_dir: Path) -> None:
    """Refuse ``out_dir`` if it lies in a git work tree and git does not ignore it.

    Raises:
        DeviceConfigError: naming the work tree and what to do instead.
    """
    git = shutil.which("git")
    if git is None:
        return  # no git here: nothing could commit the key by accident
    target = out_dir.expanduser().resolve()
    existing = next((p for p in (target, *target.parents) if p.is_dir()), None)
    if existing is None:
        return
    top = subprocess.run(
        [git, "-C", str(existing), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=False,
    )
    if top.returncode != 0:
        return  # not in a work tree
    ignored = subprocess.run(
        [git, "-C", top.stdout.strip(), "check-ignore", "-q", str(target / "private.pem.key")],
        capture_output=True,
        check=False,
    )
    if ignored.returncode != 0:
        raise DeviceConfigError(
            f"{out_dir}: inside the git work tree {top.stdout.strip()} and not ignored, so the private "
            f"key could be committed; leave out --out (default {DEFAULT_BASE}/<thing>), choose a "
            "folder outside the work tree, or one git ignores (such as provision/<thing>)"
        )


def prepare_out_dir(out_dir: Path) -> Path:
    """Create ``out_dir`` (and missing parents) with mode 0700; an existing one must be private.

    Raises:
        DeviceConfigError: the folder is not a directory, or others may open it.
    """
    out_dir = out_dir.expanduser()
    missing = [p for p in (out_dir, *out_dir.parents) if not p.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by someone else: checked below
            folder.mkdir(mode=FOLDER_MODE)
    if not out_dir.is_dir():
        raise DeviceConfigError(f"{out_dir}: expected a folder for the device's files")
    mode = stat.S_IMODE(out_dir.stat().st_mode)
    if mode & 0o077:
        raise DeviceConfigError(
            f"{out_dir}: expected a folder only its owner can open (mode 0700), got {mode:04o}; "
            f"run chmod 700 {out_dir} or choose another --out"
        )
    return out_dir


def write_file(path: Path, text: str, mode: int) -> Path:
    """Write ``path`` atomically, the file existing only ever with ``mode``.

    The temporary file is created exclusively with mode 0600 (``mkstemp``), set to ``mode`` before
    any byte is written, synced and renamed over ``path``: never readable by others while it holds
    part of a key, and never a half-written file under the final name.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path
