"""Events that wait for their destination, kept in a file so that a restart, a
reboot or a ``kill -9`` loses none of them.

The file is a journal, one JSON object a line, only ever appended to while
the program runs: ``{"id": 7, "sink": "webhook http://ha/hook", "event": {...}}``
when an event is queued for a destination, ``{"done": 7}`` once it was sent
(or given up: a failure that waiting cannot mend, or dropped from a full
queue). The events still waiting are the queued lines without their done
line, in the order they were queued. A cut last line (the program killed
while writing it) is ignored. The file is private (0600), and rewritten
atomically with the waiting events alone at start, at exit and whenever the
done lines pile up, so it stays small.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable

from greeter.files import make_private_folders, open_private_log, write_atomically

# Per destination: past this many waiting events the oldest are dropped.
OUTBOX_LIMIT = 10_000
# Done lines that may pile up before the journal is rewritten.
REWRITE_AFTER = 10_000


def read_waiting(path: str) -> tuple[dict[int, tuple[str, dict]], int]:
    """The events waiting in the journal at ``path``, {id: (sink, event fields)} in
    queued order, and the number of lines that could not be read (a cut last line
    among them). Nothing waits when the file does not exist."""
    waiting: dict[int, tuple[str, dict]] = {}
    unreadable = 0
    try:
        with open(path, "rb") as file:
            lines = file.read().splitlines()
    except FileNotFoundError:
        return waiting, 0
    for line in lines:
        try:
            entry = json.loads(line)
            if "done" in entry:
                waiting.pop(int(entry["done"]), None)
            else:
                waiting[int(entry["id"])] = (str(entry["sink"]), dict(entry["event"]))
        except (ValueError, KeyError, TypeError):
            unreadable += 1
    return waiting, unreadable


class Outbox:
    """The journal of the events waiting to be sent, at ``path``.

    Safe to use from several threads. ``on_warning`` is told once when events
    had to be dropped because more than OUTBOX_LIMIT waited for one destination.
    """

    def __init__(self, path: str, on_warning: Callable[[str], None] = print,
                 limit: int = OUTBOX_LIMIT) -> None:
        self.path = path
        self._on_warning = on_warning
        self._limit = limit
        self._lock = threading.Lock()
        self._waiting, _ = read_waiting(path)
        self._drop_past_limit()
        self._next_id = max(self._waiting, default=-1) + 1
        self._fd = -1
        self._rewrite()

    def _drop_past_limit(self) -> None:
        counts: dict[str, int] = {}
        for ident, (sink, _) in reversed(list(self._waiting.items())):
            counts[sink] = counts.get(sink, 0) + 1
            if counts[sink] > self._limit:
                del self._waiting[ident]
        dropped = {sink: count - self._limit for sink, count in counts.items()
                   if count > self._limit}
        for sink, count in dropped.items():
            self._on_warning(f"warning: {count} events waiting for the {sink} were dropped, "
                             f"the oldest: more than {self._limit} waited")

    def _rewrite(self) -> None:
        """Replace the journal by the waiting events alone (under the lock or in __init__)."""
        lines = "".join(json.dumps({"id": ident, "sink": sink, "event": event},
                                   ensure_ascii=False) + "\n"
                        for ident, (sink, event) in self._waiting.items())
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        make_private_folders(os.path.dirname(os.path.abspath(self.path)))
        write_atomically(self.path, lambda file: file.write(lines.encode()), suffix=".jsonl")
        self._fd = open_private_log(self.path)
        self._done_lines = 0

    def waiting(self, sink: str) -> list[tuple[int, dict]]:
        """The events waiting for ``sink``, oldest first: (id, event fields)."""
        with self._lock:
            return [(ident, event) for ident, (name, event) in self._waiting.items()
                    if name == sink]

    def others(self, sinks: set[str]) -> dict[str, int]:
        """How many events wait for each destination not in ``sinks``."""
        counts: dict[str, int] = {}
        with self._lock:
            for name, _ in self._waiting.values():
                if name not in sinks:
                    counts[name] = counts.get(name, 0) + 1
        return counts

    def add(self, sink: str, event: dict) -> int:
        """Keep ``event`` (its fields) as waiting for ``sink``; returns its id."""
        with self._lock:
            ident = self._next_id
            self._next_id += 1
            self._waiting[ident] = (sink, event)
            self._append({"id": ident, "sink": sink, "event": event})
            return ident

    def done(self, ident: int) -> None:
        """The event ``ident`` no longer waits (sent, failed for good, or dropped)."""
        with self._lock:
            if self._waiting.pop(ident, None) is None:
                return
            self._append({"done": ident})
            self._done_lines += 1
            if self._done_lines >= REWRITE_AFTER:
                self._rewrite()

    def _append(self, entry: dict) -> None:
        # One write of a whole line: a kill can cut only the last line.
        os.write(self._fd, (json.dumps(entry, ensure_ascii=False) + "\n").encode())

    def close(self) -> None:
        """Rewrite the journal with what still waits, and close it."""
        with self._lock:
            self._rewrite()
            os.close(self._fd)
            self._fd = -1
