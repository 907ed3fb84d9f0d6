"""Deciding whom to welcome, and keeping the record of greetings."""

from __future__ import annotations

import csv
import os
from typing import Iterable


class GreetingPolicy:
    """Greets a person once they are recognised in ``confirm`` consecutive processed
    frames (a still photo confirms on its own), and not again within ``cooldown``
    seconds of the source's time."""

    def __init__(self, confirm: int = 3, cooldown: float = 60.0) -> None:
        self.confirm = max(1, confirm)
        self.cooldown = cooldown
        self._streaks: dict[str, int] = {}
        self._greeted_at: dict[str, float] = {}

    def update(self, names: Iterable[str], time: float, still: bool = False) -> list[str]:
        """The names to welcome now, given those recognised in this frame at ``time``."""
        present = list(dict.fromkeys(names))
        # One frame without a person breaks their streak: one bad frame never greets.
        self._streaks = {name: self._streaks.get(name, 0) + 1 for name in present}
        due = []
        for name in present:
            confirmed = still or self._streaks[name] >= self.confirm
            last = self._greeted_at.get(name)
            if confirmed and (last is None or time - last >= self.cooldown):
                self._greeted_at[name] = time
                due.append(name)
        return due


class GreetingLog:
    """Appends ``time,frame,name,distance`` rows to a CSV file, flushed row by row.

    The header is written only when the file is new or empty; a new file is
    readable by its owner only (greetings are a record of who came when).
    """

    HEADER = ("time", "frame", "name", "distance")

    def __init__(self, path: str) -> None:
        self.path = path
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file = os.fdopen(descriptor, "a", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        if self._file.tell() == 0:
            self._writer.writerow(self.HEADER)
            self._file.flush()

    def write(self, time_utc: str, frame: int, name: str, distance: float) -> None:
        """Append one greeting and flush it to the operating system at once."""
        self._writer.writerow((time_utc, frame, name, f"{distance:.4f}"))
        self._file.flush()

    def close(self) -> None:
        self._file.close()
