"""What the page reads and changes: the people in images/ and the visitors list.

Every write goes the way ``enroll`` writes: a name through enroll.find_target
(which refuses ``../``, slashes and names the greeter would read otherwise),
a photo through enroll.save_new_photo or files.write_new_file (a new file
under a free name, never replacing one, 0600). Nothing here builds a path
from a request: a photo or a visitor is named by what the page listed, and
looked up among the files and visitors there are.

The running PhotoLibrary sees the changes at its next scan (watch_library),
as it sees a photo copied into images/ by hand. The visitors list belongs to
the frame loop, which writes it as visitors come: changes to it run in the
frame loop (LiveView.run_in_loop), between two frames.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import cv2
import numpy as np

from greeter.database import PhotoLibrary, person_name, scan_images
from greeter.enroll import (BadNameError, Target, candidate_names, copy_fit_photos,
                            find_target, save_new_photo)
from greeter.files import write_new_file
from greeter.photos import PhotoError, decode_photo
from greeter.visits import VisitorBook
from greeter.web.live import LiveView

# A larger photo is no photo a phone or a camera takes for a face.
MAX_UPLOAD_BYTES = 20 * 2**20
# Removed photos go here, not away: the greeter skips hidden folders.
REMOVED = ".removed"
THUMB_SIDE = 240


class WebError(ValueError):
    """A request that cannot be done; the message says what is wrong and what to do.
    ``status``: the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Person:
    """A known person: their photos (paths in images/) and those the greeter skipped."""

    name: str
    photos: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def too_large(filename: str, size: int) -> WebError:
    return WebError(f"{filename} is {size / 2**20:.1f} MB; photos up to "
                    f"{MAX_UPLOAD_BYTES // 2**20} MB are taken: send a smaller one "
                    "(a phone's \"medium\" size is plenty)", 413)


def target_for(images_dir: str, name: str) -> Target:
    """find_target, with a bad name as a WebError."""
    try:
        return find_target(images_dir, name)
    except BadNameError as error:
        raise WebError(str(error)) from None


class People:
    """The people of a running PhotoLibrary, and the writes the page makes to images/."""

    def __init__(self, library: PhotoLibrary, live: LiveView) -> None:
        self.library = library
        self.images_dir = library.images_dir
        self.live = live

    def listing(self) -> list[Person]:
        """Everyone with a photo on disk now, sorted by name; photos the greeter
        could not use are listed with the reason (its last scan's)."""
        people: dict[str, Person] = {}
        photos, _ = scan_images(self.images_dir)
        skipped = self.library.skipped
        for photo in photos:
            name = person_name(self.images_dir, photo.path)
            person = people.setdefault(name, Person(name))
            if photo.path in skipped:
                person.skipped[photo.path] = skipped[photo.path]
            else:
                person.photos.append(photo.path)
        return [people[name] for name in sorted(people, key=str.lower)]

    def find(self, name: str) -> Person:
        person = next((p for p in self.listing() if p.name == name), None)
        if person is None:
            raise WebError(f"nobody called {name!r} in {self.images_dir}; the People page "
                           "lists who there is", 404)
        return person

    def photo_path(self, relative: str) -> str:
        """The photo ``relative`` (to images/) if it is one of the listed photos."""
        for person in self.listing():
            for path in person.photos + list(person.skipped):
                if os.path.relpath(path, self.images_dir) == relative:
                    return path
        raise WebError(f"no photo {relative!r} in {self.images_dir}", 404)

    def add_photo(self, name: str, filename: str, data: bytes, encoder) -> str:
        """Save the uploaded photo ``data`` for ``name``; returns its path in images/.

        Refused (WebError) when too large, not an image, or without a face.
        """
        target = target_for(self.images_dir, name)
        if len(data) > MAX_UPLOAD_BYTES:
            raise too_large(filename, len(data))
        raw = np.frombuffer(data, np.uint8)
        try:
            reduced = decode_photo(raw, filename)
        except PhotoError as error:
            raise WebError(f"{filename}: {error.reason}") from None
        result = encoder.encode_photo_image(reduced, filename)
        if result.encoding is None:
            raise WebError(f"{filename}: {result.note}; nothing was saved")
        # Saved re-encoded in full, upright, and without the phone's metadata (GPS...).
        image = cv2.imdecode(raw, cv2.IMREAD_COLOR)
        return self._save(target, image)

    def add_from_live(self, name: str, track: int) -> str:
        """Save the face followed as ``track`` in the live picture as a photo of ``name``."""
        target = target_for(self.images_dir, name)
        crop = self.live.crop_of(track=track)
        if crop is None:
            raise WebError("that face is no longer in the live picture; choose one that is",
                           409)
        return self._save(target, crop)

    @staticmethod
    def _save(target: Target, image: np.ndarray) -> str:
        try:
            return save_new_photo(target, image)
        except OSError as error:
            raise WebError(f"cannot save the photo in {target.folder} "
                           f"({getattr(error, 'strerror', None) or error}); make the folder "
                           "writable", 500) from None

    def remove_photo(self, relative: str) -> str:
        """Move the photo ``relative`` into images/.removed/ (kept, not read); returns
        where it went."""
        path = self.photo_path(relative)
        kept = self._move(path, os.path.join(self.images_dir, REMOVED),
                          [os.path.basename(path)] + [
                              f"{number}-{os.path.basename(path)}" for number in range(2, 1000)])
        _remove_empty_folder(os.path.dirname(path), self.images_dir)
        return kept

    def rename(self, name: str, new_name: str) -> list[str]:
        """Give every photo of ``name`` to ``new_name`` (moved, never over a file);
        returns the new paths."""
        person = self.find(name)
        target = target_for(self.images_dir, new_name)
        if target.person == person.name:
            raise WebError(f"{new_name!r} is already what the greeter calls them")
        moved = []
        for path in person.photos + list(person.skipped):
            extension = os.path.splitext(path)[1].lower() or ".jpg"
            names = [candidate[:-4] + extension for candidate in candidate_names(target)]
            moved.append(self._move(path, target.folder, names))
            _remove_empty_folder(os.path.dirname(path), self.images_dir)
        return moved

    @staticmethod
    def _move(path: str, folder: str, names: list[str]) -> str:
        try:
            with open(path, "rb") as file:
                data = file.read()
            new = write_new_file(folder, names, data, prefix=".web-")
            os.remove(path)
        except OSError as error:
            raise WebError(f"cannot move {path} ({error.strerror or error}); check that "
                           f"{folder} is writable", 500) from None
        return new


def _remove_empty_folder(folder: str, images_dir: str) -> None:
    """A person's folder left empty goes; images/ itself stays."""
    if os.path.abspath(folder) != os.path.abspath(images_dir):
        try:
            os.rmdir(folder)
        except OSError:
            pass  # not empty: the user's other files


def thumbnail(path: str) -> bytes:
    """A JPEG of the image at ``path``, at most THUMB_SIDE pixels on its longer side."""
    try:
        with open(path, "rb") as file:
            image = decode_photo(np.frombuffer(file.read(), np.uint8), path)
    except (OSError, PhotoError) as error:
        raise WebError(f"cannot read {path}: {error}", 404) from None
    scale = THUMB_SIDE / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


class Visitors:
    """The visitors list the frame loop keeps: read here, changed in the frame loop."""

    def __init__(self, book: VisitorBook, live: LiveView, images_dir: str,
                 in_loop: bool) -> None:
        self.book = book
        self.live = live
        self.images_dir = images_dir
        self._in_loop = in_loop  # False: no frame loop writes it (--no-visitors)

    def _run(self, job):
        return self.live.run_in_loop(job) if self._in_loop else job()

    def listing(self) -> list[dict]:
        """The visitors, newest first, each with their visits (best crop first)."""
        rows = []
        for visitor in sorted(list(self.book.visitors), key=lambda v: -v.last_seen):
            visits = visitor.best_visits(len(visitor.visits))
            rows.append({"id": visitor.id, "first_seen": visitor.first_seen,
                         "last_seen": visitor.last_seen, "visits": len(visits),
                         "enrolled_as": visitor.enrolled_as,
                         "crops": [index for index in range(len(visits))],
                         "times": [(visit.start, visit.end) for visit in visits]})
        return rows

    def _visitor(self, visitor_id: int):
        visitor = self.book.find(visitor_id)
        if visitor is None:
            raise WebError(f"no visitor {visitor_id}: forgotten or merged meanwhile; reload "
                           "the Visitors page", 404)
        return visitor

    def crop_path(self, visitor_id: int, number: int) -> str:
        """The ``number``-th best crop of visitor ``visitor_id``."""
        visits = self._visitor(visitor_id).best_visits(number + 1)
        if not 0 <= number < len(visits):
            raise WebError(f"visitor {visitor_id} has no photo {number}", 404)
        return self.book.path(visits[number])

    def name(self, visitor_id: int, name: str, encoder) -> tuple[str, list[str], list[str]]:
        """As ``enroll NAME --from-visitor ID``: (the person, the photos saved, the
        ones skipped and why)."""
        target = target_for(self.images_dir, name)
        crops = self._run(lambda: [self.book.path(visit) for visit in
                                   self._visitor(visitor_id).best_visits(10_000)])
        skipped: list[str] = []
        try:
            saved = copy_fit_photos(encoder, crops, target, skipped.append)
        except OSError as error:
            raise WebError(f"cannot save the photo in {target.folder} "
                           f"({error.strerror or error}); make the folder writable", 500) from None
        if not saved:
            raise WebError(f"no photo of visitor {visitor_id} is fit to greet from (one sharp, "
                           "near-frontal face): nothing was saved. Add a photo of them on the "
                           "People page, or enrol them at the camera", 422)

        def mark() -> None:
            self._visitor(visitor_id).enrolled_as = target.person
            self.book.save()
        self._run(mark)
        return target.person, saved, skipped

    def merge(self, visitor_id: int, into: int) -> int:
        """Move every visit of ``visitor_id`` to visitor ``into``; the visits ``into`` has now."""
        if visitor_id == into:
            raise WebError("a visitor cannot be merged with themselves; choose another")

        def move() -> int:
            source, kept = self._visitor(visitor_id), self._visitor(into)
            kept.visits.extend(source.visits)
            self.book.visitors.remove(source)
            self.book.save()
            return len(kept.visits)
        return self._run(move)

    def forget(self, visitor_id: int) -> int:
        """Delete the visitor, every visit and photo; the visits deleted."""
        def forget() -> int:
            self._visitor(visitor_id)
            return self.book.forget(visitor_id)
        return self._run(forget)
