"""The known people: the photos in images/, their names, and their cached encodings.

A photo ``images/NAME.jpg`` or a folder ``images/NAME/`` of photos names a
person; a trailing ``_2``, ``_3``... is a further photo of the same person, and
underscores and dashes are spaces. Encodings are cached by the photo's
content and by the encoder that made them, so a restart encodes nothing
again and a changed photo is never served stale. Nothing in images/ is ever
written, renamed or deleted.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
import platformdirs

from greeter.files import make_private_folders, write_npz_atomically
from greeter.match import Gallery
from greeter.photos import (PhotoError, decode_photo, has_photo_content, is_photo_file,
                            photo_stem, read_photo_bytes)

if TYPE_CHECKING:  # the greeter imports TensorFlow only once its source is open
    from greeter.encode import FaceEncoder

# Files that operating systems leave in folders; not worth a message.
SYSTEM_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
# "alice_2": a further photo of Alice (the number is dropped from the name).
PHOTO_NUMBER = re.compile(r"_(\d+)$")
# The running number other tools put first: 0008_jessica.png is Jessica's.
LEADING_NUMBER = re.compile(r"^\d+[\s_\-.]+(?=\D)")


def default_cache_dir() -> str:
    """The user's cache folder for facenet (per platform conventions)."""
    return platformdirs.user_cache_dir("facenet", appauthor=False)


def person_name(images_dir: str, path: str) -> str:
    """The name shown and spoken for the photo at ``path`` inside ``images_dir``.

    ``alice.jpg`` -> "Alice", ``alice_2.jpg`` -> "Alice", ``mary-jane/x.jpg`` ->
    "Mary Jane", ``0008_jessica.png?w=620`` -> "Jessica". Lower-case words are
    capitalised; other spellings are kept.
    """
    parts = os.path.relpath(path, images_dir).split(os.sep)
    raw = parts[0] if len(parts) > 1 else photo_stem(parts[0])
    words = re.split(r"[\s_\-]+", PHOTO_NUMBER.sub("", LEADING_NUMBER.sub("", raw)))
    return " ".join(word[:1].upper() + word[1:] if word.islower() else word
                    for word in words if word)


@dataclass(frozen=True)
class PhotoFile:
    """A photo in images/ as last seen on disk."""

    path: str
    size: int
    mtime_ns: int


def scan_images(images_dir: str) -> tuple[list[PhotoFile], list[str]]:
    """The photo files under ``images_dir`` (sorted by path), and notes on files ignored.

    Hidden and system files are ignored silently; other non-photo files get a note.
    """
    photos, notes = [], []
    for folder, subfolders, files in os.walk(images_dir):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in files:
            path = os.path.join(folder, name)
            if name.startswith(".") or name.lower() in SYSTEM_FILES:
                continue
            if not is_photo_file(name) and not has_photo_content(path):
                notes.append(f"{path}: not a photo (JPEG, PNG, ...); ignored")
                continue
            try:
                stat = os.stat(path)
            except OSError:
                notes.append(f"{path}: cannot be read (a broken link?); ignored")
                continue
            photos.append(PhotoFile(path, stat.st_size, stat.st_mtime_ns))
    return sorted(photos, key=lambda photo: photo.path), notes


class EncodingCache:
    """Encodings by the sha256 of a photo's bytes, in one .npz per encoder.

    A photo whose path, size and modification time are unchanged keeps its
    digest without being read again; that makes a restart with a thousand
    photos take milliseconds. A corrupt cache file is rebuilt, never fatal.
    """

    def __init__(self, cache_dir: str | None, encoder_key: str,
                 on_message: Callable[[str], None], width: int = 128) -> None:
        self.path = (os.path.join(cache_dir, f"encodings-{encoder_key}.npz")
                     if cache_dir else None)
        self.on_message = on_message
        self.width = width  # numbers per encoding
        self.digests: dict[PhotoFile, str] = {}
        self.entries: dict[str, tuple[np.ndarray | None, str]] = {}
        self.changed = False
        if self.path and os.path.exists(self.path):
            self._load()

    def _load(self) -> None:
        try:
            with np.load(self.path, allow_pickle=False) as data:
                columns = [data[key] for key in ("paths", "sizes", "mtimes", "digests",
                                                 "encodings", "notes")]
            paths, sizes, mtimes, digests, encodings, notes = columns
            if (encodings.ndim != 2 or encodings.shape[1] != self.width
                    or len({len(column) for column in columns}) != 1):
                raise ValueError("its arrays do not fit together")
            files = zip(paths, sizes, mtimes, digests)
            self.digests = {PhotoFile(str(p), int(s), int(m)): str(d) for p, s, m, d in files}
            self.entries = {str(d): (None if np.isnan(e[0]) else e, str(n))
                            for d, e, n in zip(digests, encodings, notes)}
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as error:
            self.on_message(f"encoding cache {self.path} is unreadable ({error}); rebuilding it")
            self.digests, self.entries = {}, {}

    def save(self, photos: list[PhotoFile]) -> None:
        """Write the entries of ``photos`` (others are dropped), if anything changed."""
        if not self.path or not self.changed:
            return
        kept = [photo for photo in photos if photo in self.digests]
        digests = [self.digests[photo] for photo in kept]
        encodings = np.full((len(kept), self.width), np.nan, np.float32)
        for row, digest in enumerate(digests):
            if self.entries[digest][0] is not None:
                encodings[row] = self.entries[digest][0]
        try:
            make_private_folders(os.path.dirname(self.path))
            write_npz_atomically(
                self.path, paths=np.array([p.path for p in kept], dtype=str),
                sizes=np.array([p.size for p in kept], np.int64),
                mtimes=np.array([p.mtime_ns for p in kept], np.int64),
                digests=np.array(digests, dtype=str), encodings=encodings,
                notes=np.array([self.entries[d][1] for d in digests], dtype=str))
            self.changed = False
        except OSError as error:
            self.on_message(f"cannot write the encoding cache {self.path} ({error}); "
                            "photos will be encoded again at the next start")
            self.path = None


def is_note_on(message: str, paths: list[str]) -> bool:
    """True when ``message`` (from PhotoLibrary's on_message) is a note on one of ``paths``."""
    return any(message.startswith(path + ": ") for path in paths)


class PhotoLibrary:
    """The people in an images folder, kept up to date by :meth:`refresh`."""

    def __init__(self, images_dir: str, encoder: "FaceEncoder",
                 cache_dir: str | None = None,
                 on_message: Callable[[str], None] | None = None) -> None:
        self.images_dir = images_dir
        self.encoder = encoder
        self.on_message = on_message or (lambda text: print(text, file=sys.stderr))
        self.cache = EncodingCache(cache_dir if cache_dir is not None else default_cache_dir(),
                                   encoder.cache_key, self.on_message, encoder.width)
        self.gallery = Gallery.empty()
        self.photo_counts: dict[str, int] = {}
        self.skipped: dict[str, str] = {}
        self.photo_paths: tuple[str, ...] = ()  # the photo of each gallery row
        self._seen: tuple[PhotoFile, ...] | None = None
        self._told: set[str] = set()

    def refresh(self, on_progress: Callable[[int, int], None] | None = None) -> bool:
        """Re-read images/ if anything in it changed; True when the gallery changed.

        ``on_progress(done, total)`` is called in this thread after each photo
        is encoded or taken from the cache.
        """
        photos, notes = scan_images(self.images_dir)
        if tuple(photos) == self._seen:
            return False
        names, encodings, skipped = [], [], {}
        # Reading, decoding and finding faces release the GIL: photos are
        # prepared on every core at once while the networks take turns.
        results = []
        pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
        try:
            for result in pool.map(self._encoding, photos):
                results.append(result)
                if on_progress is not None:
                    on_progress(len(results), len(photos))
        finally:
            # On Ctrl+C the photos not yet started are dropped, not encoded first.
            pool.shutdown(wait=True, cancel_futures=True)
        paths = []
        for photo, (encoding, note) in zip(photos, results):
            name = person_name(self.images_dir, photo.path)
            if not name:
                encoding, note = None, "no name in the file name; rename it after the person"
            if encoding is None:
                skipped[photo.path] = note
            else:
                names.append(name)
                paths.append(photo.path)
                encodings.append(encoding)
                if note:
                    notes.append(f"{photo.path}: {note}")
        self.cache.save(photos)
        for note in notes + [f"skipped {path}: {reason}" for path, reason in skipped.items()]:
            if note not in self._told:
                self._told.add(note)
                self.on_message(note)
        self.skipped = skipped
        self.photo_counts = dict(sorted(Counter(names).items()))
        self.photo_paths = tuple(paths)
        self.gallery = Gallery(tuple(names), np.array(encodings, np.float32).reshape(-1, self.encoder.width))
        self._seen = tuple(photos)
        return True

    def _encoding(self, photo: PhotoFile) -> tuple[np.ndarray | None, str]:
        """The encoding of ``photo`` and a note, from the cache when it is there."""
        digest = self.cache.digests.get(photo)
        if digest is None or digest not in self.cache.entries:
            try:
                data = read_photo_bytes(photo.path)
            except PhotoError as error:  # may be fixed (chmod) without a change of content
                return None, error.reason
            digest = hashlib.sha256(data.tobytes()).hexdigest()
            if digest not in self.cache.entries:
                try:
                    result = self.encoder.encode_photo_image(decode_photo(data, photo.path),
                                                             photo.path)
                    self.cache.entries[digest] = (result.encoding, result.note)
                except PhotoError as error:
                    self.cache.entries[digest] = (None, error.reason)
            self.cache.digests[photo] = digest
            self.cache.changed = True
        return self.cache.entries[digest]


def watch_library(library: PhotoLibrary, stop: threading.Event,
                  interval: float = 2.0) -> threading.Thread:
    """Start a thread that refreshes ``library`` every ``interval`` s until ``stop`` is set.

    The frame loop keeps reading ``library.gallery``: a new Gallery replaces the
    old one whole, so a frame never sees a half-updated one.
    """
    def refresh_until_stopped() -> None:
        while not stop.wait(interval):
            try:
                library.refresh()
            except Exception as error:  # the greeter goes on with the people it has
                library.on_message(f"cannot re-read {library.images_dir}: {error}")

    thread = threading.Thread(target=refresh_until_stopped, name="photo-library", daemon=True)
    thread.start()
    return thread
