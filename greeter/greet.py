"""Deciding whom to welcome, and keeping the record of greetings."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable

from greeter.files import open_private_log
from greeter.report import Trouble, warning


class GreetingPolicy:
    """Greets a person once they are recognised in ``confirm`` consecutive processed
    frames (a still photo confirms on its own), and not again within ``cooldown``
    seconds of the source's time."""

    def __init__(self, confirm: int = 3, cooldown: float = 60.0) -> None:
        self.confirm = max(1, confirm)
        self.cooldown = cooldown
        self._streaks: dict[str, tuple[int, object]] = {}  # name: (frames, face holding it)
        self._greeted_at: dict[str, float] = {}
        # Whether someone in the last frame is on the way to a greeting, not there yet:
        # a greeting due may wait for them, to greet both in one sentence.
        self.confirming = False

    def update(self, names: Iterable[str], time: float, still: bool = False,
               faces: Iterable[object] | None = None) -> list[str]:
        """The names to welcome now, given those recognised in this frame at ``time``.

        ``faces``, beside ``names``, says which face (a track number) holds each
        name: a streak then counts only frames in which the same face holds the
        name, so that two people taken for one in turn are not one confirmation.
        """
        holders = dict(zip(names, faces if faces is not None else [None] * len(names)))
        # One frame without a person breaks their streak: one bad frame never greets.
        self._streaks = {name: ((self._streaks[name][0] if name in self._streaks
                                 and self._streaks[name][1] == face else 0) + 1, face)
                         for name, face in holders.items()}
        due = []
        self.confirming = False
        for name in holders:
            confirmed = still or self._streaks[name][0] >= self.confirm
            last = self._greeted_at.get(name)
            if last is None or time - last >= self.cooldown:
                if confirmed:
                    self._greeted_at[name] = time
                    due.append(name)
                else:
                    self.confirming = True
        return due


class GreetingLogError(RuntimeError):
    """The greetings log cannot be opened; the message names the file and says what to do."""


class GreetingLog:
    """Appends ``time,frame,name,distance`` rows to a CSV file, each row one write.

    Every row reaches the operating system as it is written, so a crash or
    ``kill -9`` loses none and never leaves half a row. The header is written
    only when the file is new or empty. A new file is readable by its owner
    only (greetings are a record of who came when), and so are the folders
    created for it. Raises GreetingLogError when the file cannot be opened.
    A row that cannot be written (a full disk) costs one warning through
    ``on_warning``, not the greeter: later rows are tried again.
    """

    HEADER = ("time", "frame", "name", "distance")

    def __init__(self, path: str,
                 on_warning: Callable[[str], None] = warning) -> None:
        self.path = path
        self._trouble = Trouble(on_warning)
        self._fd: int | None = None
        try:
            self._fd = open_private_log(path)
            size = os.fstat(self._fd).st_size
            if size == 0:
                self._append(self._row(self.HEADER))
            else:
                os.lseek(self._fd, size - 1, os.SEEK_SET)
                if os.read(self._fd, 1) != b"\n":
                    # A row cut short (by a power cut, say): later rows start on a line
                    # of their own.
                    self._append(b"\r\n")
        except OSError as error:
            self.close()
            raise GreetingLogError(
                f"cannot write the greetings log {path} ({error.strerror or error}); "
                "choose another file with --log, or check the folder's permissions") from None

    @staticmethod
    def _row(values: Iterable[object]) -> bytes:
        text = io.StringIO()
        csv.writer(text).writerow(values)
        # A name from a file name that is not valid UTF-8 is written with "?"
        # in place of the bad bytes, so that the file stays valid UTF-8.
        return text.getvalue().encode("utf-8", errors="replace")

    def _append(self, data: bytes) -> None:
        size = os.fstat(self._fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
        except OSError:
            try:
                os.ftruncate(self._fd, size)  # no half row
            except OSError:
                pass
            raise

    def write(self, time_utc: str, frame: int, name: str, distance: float) -> None:
        """Append one greeting; it is in the file (the OS's cache) when this returns."""
        if self._fd is None:
            return
        try:
            self._append(self._row((time_utc, frame, name, f"{distance:.4f}")))
        except OSError as error:
            self._trouble.failed(f"cannot write to the greetings log {self.path} "
                                 f"({error.strerror or error}); greetings go on, and are "
                                 "written again once it can be")
        else:
            self._trouble.worked(f"the greetings log {self.path} is written again; "
                                 "greetings made meanwhile are not in it")

    def close(self) -> None:
        """Close the file; calling it again does nothing."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
