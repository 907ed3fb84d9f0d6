"""Reading the user's photos: any format, size, orientation or file name.

Photos are decoded with OpenCV from bytes read by Python, so file names with
accents, non-Latin letters or emoji open on every platform, and EXIF
orientation is applied the way a phone's gallery shows the photo.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import cv2
import numpy as np

PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".webp",
                              ".tif", ".tiff", ".jp2", ".pgm", ".ppm", ".pbm"})

# Faces are encoded from 150-pixel chips, so decoding a 12-megapixel photo at
# full size buys nothing but time: JPEGs are decoded at 1/2, 1/4 or 1/8 scale
# as long as the longest side stays at least this long.
MIN_DECODED_SIDE = 1000

# No photo is this large (a 100-megapixel JPEG is about 50 MB); a file that is
# would only fill the memory of the machine by the door.
MAX_PHOTO_BYTES = 512 * 2**20

# How the formats OpenCV reads begin, to tell a damaged photo from a file that
# is no photo at all, whatever its name says.
_IMAGE_SIGNATURES = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG", b"BM": "BMP",
                     b"II*\x00": "TIFF", b"MM\x00*": "TIFF", b"\x00\x00\x00\x0cjP  ": "JPEG 2000"}


class PhotoError(ValueError):
    """A photo cannot be used: ``reason`` says why and what to do; the message names the file."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def photo_stem(name: str) -> str:
    """A photo's file name without its extension and without the query a download
    leaves on it: ``jessica.png?w=620`` -> ``jessica``."""
    base = name.split("?", 1)[0]
    stem, extension = os.path.splitext(base)
    return stem if extension.lower() in PHOTO_EXTENSIONS else base


def is_photo_file(path: str) -> bool:
    """True when ``path``'s extension (before any ``?w=620`` a download left) is one of
    PHOTO_EXTENSIONS (any case)."""
    name = os.path.basename(path).split("?", 1)[0]
    return os.path.splitext(name)[1].lower() in PHOTO_EXTENSIONS


def has_photo_content(path: str) -> bool:
    """True when the file at ``path`` begins as an image OpenCV reads does, whatever its
    name: a photo saved without an extension, or with one that is not a photo's."""
    try:
        with open(path, "rb") as file:
            head = file.read(16)
    except OSError:
        return False
    return (any(head.startswith(signature) for signature in _IMAGE_SIGNATURES)
            or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"))


def list_photos(paths: list[str]) -> list[str]:
    """Photo files named in ``paths``, folders walked recursively, in sorted path order.

    Files named directly are kept whatever their extension, so that a wrong
    one gets a clear message rather than being ignored.
    """
    found = []
    for path in paths:
        if os.path.isdir(path):
            for folder, _, files in os.walk(path):
                found += [os.path.join(folder, name) for name in files if is_photo_file(name)]
        else:
            found.append(path)
    return sorted(found)


def read_photo(path: str) -> np.ndarray:
    """The photo at ``path`` as a BGR uint8 image, upright per its EXIF orientation.

    Greyscale, 16-bit and transparent images come back as ordinary 8-bit BGR.
    Large JPEGs are decoded at a reduced scale (see MIN_DECODED_SIDE).
    Raises PhotoError naming the file when it cannot be read or decoded.
    """
    return decode_photo(read_photo_bytes(path), path)


def read_photo_bytes(path: str) -> np.ndarray:
    """The bytes of the file at ``path`` (uint8 array); PhotoError says why not."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            # Reading a pipe or a device would never end.
            raise PhotoError(path, "not a regular file (a folder, pipe or device); "
                             "remove it, or put a photo there instead")
        if info.st_size > MAX_PHOTO_BYTES:
            raise PhotoError(path, f"{info.st_size / 2**20:.0f} MB is too large for a photo; "
                             "use a JPEG or PNG photo of at most a few MB")
        data = np.fromfile(path, dtype=np.uint8)
    except PermissionError:
        raise PhotoError(path, "permission denied; make the file readable "
                         "(chmod a+r) or remove it") from None
    except FileNotFoundError:
        raise PhotoError(path, "no such file (a broken link?)") from None
    except OSError as error:
        raise PhotoError(path, f"cannot be read ({error.strerror or error})") from None
    if data.size == 0:
        raise PhotoError(path, "the file is empty (0 bytes); replace it with a photo")
    return data


def decode_photo(data: np.ndarray, path: str) -> np.ndarray:
    """The photo in ``data`` (the bytes of ``path``) as in :func:`read_photo`."""
    image = _decode(data, cv2.IMREAD_REDUCED_COLOR_8)
    if image is None:
        raise PhotoError(path, _undecodable_reason(data, path))
    # A first decode at 1/8 scale is cheap and tells how large the photo is.
    longest_at_eighth = max(image.shape[:2])
    reduction = 8
    while reduction > 1 and longest_at_eighth * 8 // reduction < MIN_DECODED_SIDE:
        reduction //= 2
    if reduction < 8:
        image = _decode(data, _DECODE_FLAGS[reduction])
        if image is None:
            raise PhotoError(path, _undecodable_reason(data, path))
    return image


_DECODE_FLAGS = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
                 4: cv2.IMREAD_REDUCED_COLOR_4}


def as_bgr(image: np.ndarray) -> np.ndarray:
    """``image`` (BGR, greyscale or BGRA uint8) as 3-channel BGR: the networks and
    the chip cutter work on three channels, whatever the caller was given."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def _decode(data: np.ndarray, flags: int) -> np.ndarray | None:
    """cv2.imdecode, None for any failure; OpenCV's own warnings (which name its
    source files, not the photo) are kept quiet: the caller says what is wrong."""
    try:
        with opencv_quiet():
            image = cv2.imdecode(data, flags)
    except (cv2.error, MemoryError):  # e.g. a header claiming gigapixels
        return None
    return image if image is not None and image.size else None


def _undecodable_reason(data: np.ndarray, path: str) -> str:
    """Why the bytes ``data`` of ``path`` decode to no image, and what to do."""
    head = data[:64].tobytes()
    extension = os.path.splitext(path)[1] or "photo"
    for signature, name in _IMAGE_SIGNATURES.items():
        if head.startswith(signature):
            return (f"cannot be decoded: the {name} image is damaged or cut short (an "
                    "interrupted copy or download?); copy the photo again, or replace it")
    if head[4:8] == b"ftyp":
        return ("cannot be decoded: an HEIC or AVIF photo (as phones take), which "
                "OpenCV cannot read; save it as JPEG and replace it")
    start = data[:4096].tobytes()
    try:
        start.decode("utf-8")
        looks_like_text = b"\x00" not in start
    except UnicodeDecodeError as error:  # a character cut in two at the end is still text
        looks_like_text = error.start >= len(start) - 3 and b"\x00" not in start
    what = "text" if looks_like_text else "something else"
    return (f"cannot be decoded: not an image but {what}, although it is named "
            f"{extension}; replace it with a JPEG or PNG photo")


_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_log_level = 0


@contextmanager
def opencv_quiet() -> Iterator[None]:
    """Silence OpenCV's log for the duration: callers report failures in words.

    The log level is process-wide, so nested and concurrent uses are
    counted and the level is restored when the last one ends.
    """
    global _quiet_depth, _saved_log_level
    with _quiet_lock:
        if _quiet_depth == 0:
            _saved_log_level = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                cv2.utils.logging.setLogLevel(_saved_log_level)
