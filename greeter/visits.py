"""Who came by: the unknown faces, kept for a week, grouped by person.

A face that stays unknown for ``--confirm`` frames is a visitor. The same
unknown person seen again within ``--visit-gap`` seconds of the last sight
is the same visit; across visits, a stranger whose encoding is within the
threshold of an earlier visit's joins that visitor's group, so one person
who came three times is one visitor with three visits. Grouping is as strict
as a greeting: the same model, the same threshold, a real look of the face
(not a mean of looks, which is nearer to everyone); visits whose encodings
another model made are never merged with.

Of each visit one photo is kept: the square crop (as ``enroll`` saves) of
the frame where the face scored best by crops.crop_quality: the product of
its size, its sharpness (as ``enroll`` measures it) and how frontal it is
(how alike the face and its mirror image are).

Everything lives in one private folder (0700, files 0600): ``visitors.json``
(the groups, their visits and encodings) and ``<id>/<time>.jpg`` crops. It is
``$FACENET_VISITORS_DIR`` if set, else ``visitors`` in the user data folder.
Visits older than ``--keep-visitors`` days are deleted at start and once a day.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np

from greeter.crops import crop_around, crop_quality
from greeter.files import make_private_folders, write_atomically
from greeter.frames import Frame
from greeter.match import face_distance
from greeter.paths import data_dir
from greeter.report import Trouble, warn

FOLDER_VARIABLE = "FACENET_VISITORS_DIR"
INDEX = "visitors.json"
JPEG_QUALITY = 95
PURGE_EVERY = 24 * 3600.0
SAVE_EVERY = 10.0


def default_visitors_dir() -> str:
    """$FACENET_VISITORS_DIR, else the ``visitors`` folder in the user's data folder."""
    return os.environ.get(FOLDER_VARIABLE) or os.path.join(data_dir(), "visitors")


@dataclass
class Visit:
    """One visit: wall-clock ``start`` and ``end`` (Unix seconds), the crop file
    (relative to the visitors folder), its quality and the face's encoding."""

    start: float
    end: float
    crop: str
    quality: float
    encoding: np.ndarray
    # The source's time when last seen, for visits of this run only (not saved).
    seen_at: float | None = field(default=None, compare=False)


@dataclass
class Visitor:
    """One unknown person: an id for ``enroll --from-visitor``, and their visits."""

    id: int
    visits: list[Visit] = field(default_factory=list)
    enrolled_as: str | None = None

    @property
    def first_seen(self) -> float:
        return min(visit.start for visit in self.visits)

    @property
    def last_seen(self) -> float:
        return max(visit.end for visit in self.visits)

    def best_visits(self, count: int) -> list[Visit]:
        """The ``count`` visits with the best crops, best first."""
        return sorted(self.visits, key=lambda visit: -visit.quality)[:count]


class VisitorBook:
    """The visitors folder: the groups in memory, saved to disk on save().

    Reading a missing folder gives an empty book and creates nothing; a
    visitors.json that cannot be read is set aside (renamed .bad) with a
    message, and the book starts empty.
    """

    def __init__(self, folder: str, on_message: Callable[[str], None] = warn) -> None:
        self.folder = folder
        self.on_message = on_message
        self.visitors: list[Visitor] = []
        self.next_id = 1
        path = os.path.join(folder, INDEX)
        try:
            with open(path, encoding="utf-8") as file:
                data = json.load(file)
            self.next_id = int(data["next_id"])
            self.visitors = [Visitor(int(entry["id"]),
                                     [Visit(float(v["start"]), float(v["end"]), str(v["crop"]),
                                            float(v["quality"]),
                                            np.array(v["encoding"], np.float32))
                                      for v in entry["visits"]],
                                     entry.get("enrolled_as"))
                             for entry in data["visitors"]]
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as error:
            os.replace(path, path + ".bad")
            on_message(f"warning: the visitors list {path} cannot be read ({error}); it is "
                       f"set aside as {path}.bad and a new one is started")

    def path(self, visit: Visit) -> str:
        """The crop file of ``visit``."""
        return os.path.join(self.folder, visit.crop)

    def find(self, visitor_id: int) -> Visitor | None:
        return next((v for v in self.visitors if v.id == visitor_id), None)

    def nearest(self, encoding: np.ndarray, threshold: float,
                visits: list[tuple[Visitor, Visit]] | None = None
                ) -> tuple[Visitor, Visit] | None:
        """The (visitor, visit) among ``visits`` (default: all) whose encoding is nearest
        to ``encoding``, if within ``threshold``."""
        if visits is None:
            visits = [(visitor, visit) for visitor in self.visitors for visit in visitor.visits]
        # Visits kept by another model (another width) cannot be compared: as
        # strict as a greeting, a visitor is then a new one, never merged.
        visits = [pair for pair in visits if pair[1].encoding.shape == np.shape(encoding)]
        if not visits:
            return None
        distances = face_distance(np.array([visit.encoding for _, visit in visits]), encoding)
        # A part one network did not compute (NaN) decides nothing: no merge.
        distances = np.where(np.isnan(distances), np.inf, distances)
        best = int(np.argmin(distances))
        return visits[best] if distances[best] <= threshold else None

    def new_visit(self, encoding: np.ndarray, threshold: float, now: float,
                  crop: np.ndarray, quality: float) -> tuple[Visitor, Visit]:
        """Record a new visit (in the group of the nearest earlier visit, else a new
        group), write its crop, and save the list."""
        found = self.nearest(encoding, threshold)
        if found is None:
            visitor = Visitor(self.next_id)
            self.next_id += 1
            self.visitors.append(visitor)
        else:
            visitor = found[0]
        stamp = datetime.fromtimestamp(now).strftime("%Y%m%d-%H%M%S")
        names = {visit.crop for visit in visitor.visits}
        crop_name = next(name for number in range(1, 10000)
                         if (name := f"{visitor.id}/{stamp}{'' if number == 1 else f'-{number}'}.jpg")
                         not in names)
        visit = Visit(now, now, crop_name, quality, np.asarray(encoding, np.float32))
        visitor.visits.append(visit)
        self.write_crop(visit, crop)
        self.save()
        return visitor, visit

    def write_crop(self, visit: Visit, crop: np.ndarray) -> None:
        """Write (or replace) the crop file of ``visit``."""
        path = self.path(visit)
        make_private_folders(os.path.dirname(path))
        ok, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if ok:
            write_atomically(path, lambda file: file.write(data.tobytes()), suffix=".jpg")

    def save(self) -> None:
        """Write visitors.json (atomically, 0600)."""
        make_private_folders(self.folder)
        data = {"next_id": self.next_id, "visitors": [
            {"id": visitor.id, "enrolled_as": visitor.enrolled_as, "visits": [
                {"start": visit.start, "end": visit.end, "crop": visit.crop,
                 "quality": round(visit.quality, 4),
                 "encoding": [round(float(value), 6) for value in visit.encoding]}
                for visit in visitor.visits]}
            for visitor in self.visitors]}
        text = json.dumps(data).encode()
        write_atomically(os.path.join(self.folder, INDEX), lambda file: file.write(text))

    def purge(self, keep_days: float, now: float) -> int:
        """Delete the visits that ended more than ``keep_days`` days before ``now``, their
        crops, and visitors left without visits; returns the number of visits deleted."""
        oldest = now - keep_days * 86400
        return self._delete(lambda visitor, visit: visit.end < oldest)

    def forget(self, visitor_id: int) -> int:
        """Delete visitor ``visitor_id``: every visit and photo; returns the visits deleted."""
        return self._delete(lambda visitor, visit: visitor.id == visitor_id)

    def _delete(self, doomed) -> int:
        """Delete each visit for which ``doomed(visitor, visit)``, with its crop, and the
        visitors left without visits; save the list if anything went."""
        deleted = 0
        for visitor in self.visitors:
            for visit in [v for v in visitor.visits if doomed(visitor, v)]:
                try:
                    os.remove(self.path(visit))
                except FileNotFoundError:
                    pass
                visitor.visits.remove(visit)
                deleted += 1
            if not visitor.visits:
                try:
                    os.rmdir(os.path.join(self.folder, str(visitor.id)))
                except OSError:
                    pass  # already gone, or holds a file of the user's
        self.visitors = [visitor for visitor in self.visitors if visitor.visits]
        if deleted:
            self.save()
        return deleted


@dataclass
class _Track:
    """An unknown face followed from frame to frame."""

    frames: int = 0
    best: tuple[float, np.ndarray, np.ndarray] | None = None  # quality, crop, encoding
    visit: Visit | None = None


@dataclass(frozen=True)
class NewVisit:
    """A visit that began in this frame: the visitor's id, how many visits they have
    made now, the crop file, and the distance to the nearest known person."""

    visitor: int
    visits: int
    crop: str
    distance: float


class VisitWatcher:
    """Turns the unknown faces of each frame into visits in a VisitorBook.

    A face is followed by its track number; once unknown in ``confirm``
    consecutive frames (a still photo confirms on its own) it belongs to an
    open visit of the same person, else a new visit begins. A visit is open
    while its person was seen less than ``visit_gap`` seconds ago: of the
    source's time for visits of this run (a video's own time, which may pass
    faster than the clock's), of the clock's for visits from before. While
    the face stays the visit goes on, and when it leaves its best crop
    replaces the visit's if it is better. The list is saved at each new
    visit, at most every SAVE_EVERY seconds otherwise, and by close().
    """

    def __init__(self, book: VisitorBook, threshold: float, confirm: int = 3,
                 visit_gap: float = 600.0, keep_days: float = 7.0, clock=time.time) -> None:
        self.book = book
        self.threshold = threshold
        self.confirm = max(1, confirm)
        self.visit_gap = visit_gap
        self.keep_days = keep_days
        self.clock = clock
        self._tracks: dict[int, _Track] = {}
        self._trouble = Trouble(book.on_message)
        self._changed = False
        self._saved_at = self._purged_at = clock()
        self._saving(book.purge, keep_days, self._purged_at)

    def update(self, faces, frame: Frame) -> list[NewVisit]:
        """Follow the faces (recognise.Face values) of ``frame``; the visits that begin now."""
        now = self.clock()
        if now - self._purged_at >= PURGE_EVERY:
            self._purged_at = now
            self._saving(self.book.purge, self.keep_days, now)
        started = []
        seen = set()
        for face in faces:
            if face.match.known:
                continue
            seen.add(face.track)
            track = self._tracks.setdefault(face.track, _Track())
            track.frames += 1
            quality = crop_quality(frame.image, face.box)
            if track.best is None or quality > track.best[0]:
                track.best = (quality, crop_around(frame.image, face.box), face.encoding)
            if track.visit is None and (frame.still or track.frames >= self.confirm):
                found = self._saving(self._visit_for, track, frame.time, now)
                if found is not None:
                    track.visit, visitor = found
                    if visitor is not None:
                        started.append(NewVisit(visitor.id, len(visitor.visits),
                                                self.book.path(track.visit),
                                                face.match.distance))
            if track.visit is not None:
                track.visit.end, track.visit.seen_at = now, frame.time
                self._changed = True
        for number in [number for number in self._tracks if number not in seen]:
            self._saving(self._finish, self._tracks.pop(number))
        if self._changed and now - self._saved_at >= SAVE_EVERY:
            self._save(now)
        return started

    def _saving(self, write, *values):
        """``write(*values)``'s result, or None after a warning when the disk refuses
        (a full disk costs the visitors list, never the greeter)."""
        try:
            result = write(*values)
        except OSError as error:
            self._trouble.failed(f"warning: cannot save visitors in {self.book.folder} "
                                 f"({error.strerror or error}); greetings go on")
            return None
        self._trouble.worked()
        return result

    def _save(self, now: float) -> None:
        self._saved_at = now
        self._saving(self.book.save)
        self._changed = self._trouble.failing  # tried again later

    def _visit_for(self, track: _Track, at: float, now: float) -> tuple[Visit, Visitor | None]:
        """The open visit of the track's person, or a new one; and its visitor if new."""
        quality, crop, encoding = track.best
        open_visits = [(visitor, visit) for visitor in self.book.visitors
                       for visit in visitor.visits
                       if (at - visit.seen_at if visit.seen_at is not None
                           else now - visit.end) <= self.visit_gap]
        found = self.book.nearest(encoding, self.threshold, open_visits)
        if found is not None:
            return found[1], None
        visitor, visit = self.book.new_visit(encoding, self.threshold, now, crop, quality)
        self._saved_at = now
        return visit, visitor

    def _finish(self, track: _Track) -> None:
        """A face has left: keep its best crop if it beats the visit's (unless the visit
        was forgotten while the face was in view: its photo must not come back)."""
        if track.visit is None or not any(track.visit is visit for visitor in self.book.visitors
                                          for visit in visitor.visits):
            return
        quality, crop, encoding = track.best
        if quality > track.visit.quality:
            track.visit.quality, track.visit.encoding = quality, np.asarray(encoding, np.float32)
            self.book.write_crop(track.visit, crop)
            self._changed = True

    def close(self) -> None:
        """Finish the visits of the faces still in view, and save the list."""
        for track in self._tracks.values():
            self._saving(self._finish, track)
        self._tracks.clear()
        if self._changed:
            self._save(self.clock())
