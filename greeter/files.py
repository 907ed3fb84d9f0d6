"""Writing files privately, and so that a crash never leaves a half-written one.

Photos, encodings and greeting logs are biometric data: every file the
program creates is readable by its owner only (0600), and every folder it
creates is too (0700). A file is written in full under a hidden temporary
name in the same folder, then renamed or linked into place.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from typing import BinaryIO

import numpy as np

# Not inherited by the speech worker; no newline translation on Windows.
_OPEN_FLAGS = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def make_private_folders(folder: str) -> None:
    """Create ``folder`` and any missing parents, each readable by its owner only (0700).

    (``os.makedirs`` gives the mode to the last folder only.)
    """
    missing = []
    folder = os.path.abspath(folder)
    while not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass


def open_private_log(path: str) -> int:
    """A file descriptor appending to ``path``, created (with its folders) for its owner
    only if missing; it can also be read. Raises OSError."""
    make_private_folders(os.path.dirname(os.path.abspath(path)))
    return os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | _OPEN_FLAGS, 0o600)


def write_atomically(path: str, write: Callable[[BinaryIO], None], suffix: str = "") -> None:
    """Replace ``path`` by the file that ``write(file)`` fills, in one rename."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def write_npz_atomically(path: str, **arrays: np.ndarray) -> None:
    """Write ``arrays`` to ``path`` (.npz) via a temporary file and a rename."""
    write_atomically(path, lambda file: np.savez(file, **arrays), suffix=".npz")


def write_new_file(folder: str, names: Iterable[str], data: bytes,
                   prefix: str = ".tmp-", suffix: str = "") -> str:
    """Write ``data`` under the first of ``names`` that is free in ``folder`` (created
    privately if missing); returns its path. Never replaces a file: a name taken
    meanwhile is skipped. The temporary file is hidden (``prefix`` starts with a dot)
    so that a scan of the folder ignores it. Raises OSError when nothing can be written.
    """
    make_private_folders(folder)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        for name in names:
            path = os.path.join(folder, name)
            try:
                link_new(temporary, path, data)
            except FileExistsError:
                continue  # someone else took this name since the names were listed
            return path
        raise OSError(f"no free file name in {folder}")
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def link_new(temporary: str, path: str, data: bytes) -> None:
    """Make ``path`` the complete file ``temporary`` (which holds ``data``);
    FileExistsError if ``path`` exists.

    A hard link is atomic and never replaces; where the file system has none
    (FAT, some network shares) the file is created exclusively instead.
    """
    try:
        os.link(temporary, path)
        return
    except FileExistsError:
        raise
    except OSError:
        pass
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        os.remove(path)  # ours, half written: a reader would take it for a corrupt file
        raise
