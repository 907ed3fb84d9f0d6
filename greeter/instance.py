"""One greeter per ``images/`` folder and source, and the files that belong to it.

A second greeter started by mistake on the same folder and camera would greet
everyone twice and double every row of a shared log. Each greeter holds an
exclusive lock on a file named after its folder and source, in the data
folder's ``running/``; the operating system lets go of it when the process
ends, however it ends (``kill -9`` included), so a stale lock never blocks a
restart. The same name keys the greeter's outbox (``outbox/``): the events it
could not send yet, sent first when it starts again.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass

from greeter.files import make_private_folders, open_private_log
from greeter.paths import data_dir


class AlreadyRunning(RuntimeError):
    """Another greeter watches the same source for the same folder; the message names it."""


def instance_name(images_dir: str, source: str) -> str:
    """A file name that stands for this folder and source: 16 hex digits."""
    if os.path.exists(source):
        source = os.path.realpath(source)
    key = f"{os.path.realpath(images_dir)}\n{source}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def outbox_path(images_dir: str, source: str) -> str:
    """Where the greeter of this folder and source keeps the events that wait."""
    return os.path.join(data_dir(), "outbox", instance_name(images_dir, source) + ".jsonl")


def outbox_paths() -> list[str]:
    """Every greeter's outbox in the data folder."""
    folder = os.path.join(data_dir(), "outbox")
    try:
        return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                      if name.endswith(".jsonl"))
    except OSError:
        return []


@dataclass
class InstanceLock:
    """The lock a running greeter holds; :meth:`release` lets it go."""

    path: str
    descriptor: int

    def release(self) -> None:
        os.close(self.descriptor)


def claim_instance(images_dir: str, source: str, description: str) -> InstanceLock:
    """Take the lock of this folder and source; raises AlreadyRunning (naming that
    greeter's process id) when another greeter holds it."""
    folder = os.path.join(data_dir(), "running")
    make_private_folders(folder)
    path = os.path.join(folder, instance_name(images_dir, source) + ".lock")
    descriptor = open_private_log(path)
    if not _try_lock(descriptor):
        os.lseek(descriptor, 0, os.SEEK_SET)
        holder = os.read(descriptor, 200).decode(errors="replace").split("\n")[0] or "?"
        os.close(descriptor)
        raise AlreadyRunning(
            f"another greeter (process {holder}) already watches {description} for "
            f"{os.path.abspath(images_dir)}: stop it first (kill {holder}), or give this one "
            "another --source or --images")
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())
    return InstanceLock(path, descriptor)


def _try_lock(descriptor: int) -> bool:
    """Lock the whole file without waiting; False if another process holds it."""
    if sys.platform == "win32":
        import msvcrt
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True
