"""The page's history: every greeting, visit, arrival and departure, with a face crop.

The history is one more event destination (an events.Sink, in process): it
receives exactly the events the webhook and MQTT get, from the same
EventSender, so what the page lists is what the house was told, in the same
order, with the outbox's guarantee that an event of a crash or a restart is
not lost. A greeting's crop is cut from the frames the live view still holds
(its event comes a moment after its frame); a visit's is a copy of the
visitor's crop, so it outlives ``visitors --forget`` and the weekly purge of
the visitors list, as a log would.

It is kept in the data folder: ``web/history.jsonl`` (one event a line, with
its crop file) and ``web/crops/`` (0600, folders 0700). Entries older than
the ``--keep-visitors`` days are dropped at start, with their crops.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import cv2

from greeter.events import Event, EventType
from greeter.files import make_private_folders, open_private_log, write_atomically
from greeter.web.live import LiveView

HISTORY_FILE = "history.jsonl"
CROPS = "crops"
# The page and the API answer at most this many entries at once.
MOST_LISTED = 500


@dataclass(frozen=True)
class Entry:
    """One event as the history keeps it; ``crop``: a file in the crops folder, or None."""

    id: int
    type: str
    time: str
    source: str
    name: str | None
    visitor: int | None
    distance: float | None
    crop: str | None

    @property
    def day(self) -> str:
        """The local date of the event, YYYY-MM-DD (the page filters by it)."""
        return _parse_time(self.time).astimezone().strftime("%Y-%m-%d")


def _parse_time(text: str) -> datetime:
    # "+01:00" typed unquoted in a URL's query arrives as " 01:00".
    text = re.sub(r" (\d\d:?\d\d)$", r"+\1", text.strip())
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class History:
    """The history folder: entries in memory, appended to disk as they come."""

    def __init__(self, folder: str, keep_days: float, on_message=print) -> None:
        self.folder = folder
        self.on_message = on_message
        self.entries: list[Entry] = []
        self._lock = threading.Lock()
        self._load(keep_days)
        self._log = open_private_log(os.path.join(folder, HISTORY_FILE))

    def _load(self, keep_days: float) -> None:
        path = os.path.join(self.folder, HISTORY_FILE)
        oldest = time.time() - keep_days * 86400
        kept, dropped = [], 0
        try:
            with open(path, encoding="utf-8") as file:
                lines = file.read().splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                entry = Entry(**json.loads(line))
                stale = _parse_time(entry.time).timestamp() < oldest
            except (ValueError, TypeError):
                dropped += 1  # a line cut by a crash: the rest is still good
                continue
            if stale:
                self._remove_crop(entry)
            else:
                kept.append(entry)
        self.entries = kept
        if dropped:
            self.on_message(f"warning: {dropped} unreadable lines in {path} were dropped")
        if len(kept) != len(lines):
            text = "".join(json.dumps(asdict(entry)) + "\n" for entry in kept).encode()
            write_atomically(path, lambda file: file.write(text))

    def _remove_crop(self, entry: Entry) -> None:
        if entry.crop:
            try:
                os.remove(os.path.join(self.folder, CROPS, entry.crop))
            except OSError:
                pass

    def add(self, event: Event, crop_jpeg: bytes | None) -> Entry:
        """Keep ``event`` (and its crop); returns its entry."""
        with self._lock:
            ident = self.entries[-1].id + 1 if self.entries else 1
            crop = None
            if crop_jpeg is not None:
                crop = f"{ident}.jpg"
                folder = os.path.join(self.folder, CROPS)
                make_private_folders(folder)
                write_atomically(os.path.join(folder, crop),
                                 lambda file: file.write(crop_jpeg), suffix=".jpg")
            distance = event.distance if event.distance is not None and \
                math.isfinite(event.distance) else None  # nobody known yet: no distance
            entry = Entry(ident, event.type, event.time, event.source, event.name,
                          event.visitor, distance, crop)
            os.write(self._log, (json.dumps(asdict(entry)) + "\n").encode())
            self.entries.append(entry)
            return entry

    def crop_path(self, entry_id: int) -> str | None:
        """The crop file of entry ``entry_id``, or None."""
        entry = next((e for e in self.entries if e.id == entry_id), None)
        return os.path.join(self.folder, CROPS, entry.crop) if entry and entry.crop else None

    def select(self, name: str | None = None, day: str | None = None,
               since: str | None = None, types: tuple[str, ...] | None = None) -> list[Entry]:
        """The entries matching every filter given, newest first (at most MOST_LISTED).

        ``since``: an ISO 8601 time; only later entries. Raises ValueError for a bad one.
        """
        after = _parse_time(since) if since else None
        if after is not None and after.tzinfo is None:
            after = after.replace(tzinfo=timezone.utc)
        chosen = []
        for entry in reversed(self.entries):
            if ((name and entry.name != name) or (day and entry.day != day)
                    or (types and entry.type not in types)
                    or (after is not None and _parse_time(entry.time) <= after)):
                continue
            chosen.append(entry)
            if len(chosen) == MOST_LISTED:
                break
        return chosen

    def close(self) -> None:
        os.close(self._log)


class HistorySink:
    """The history as an events.Sink: never away, takes arrivals and departures too."""

    description = "web page's history"
    problem = ""
    presence = True

    def __init__(self, history: History, live: LiveView) -> None:
        self.history = history
        self.live = live

    def ready(self, wait: float) -> bool:
        return True

    def send(self, event: Event) -> None:
        try:
            self.history.add(event, self._crop(event))
        except OSError as error:
            raise RuntimeError(f"cannot write the history in {self.history.folder} "
                               f"({error.strerror or error})") from None

    def _crop(self, event: Event) -> bytes | None:
        if event.type == EventType.VISITOR and event.crop:
            try:
                with open(event.crop, "rb") as file:
                    return file.read()
            except OSError:
                return None  # forgotten meanwhile
        if event.type != EventType.GREETING:
            return None
        crop = self.live.crop_of(name=event.name, frame_index=event.frame)
        if crop is None:
            return None
        ok, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
        return data.tobytes() if ok else None

    def close(self) -> None:
        self.history.close()
