"""Reading the user's photos: any format, size, orientation or file name.

Photos are decoded with OpenCV from bytes read by Python, so file names with
accents, non-Latin letters or emoji open on every platform, and EXIF
orientation is applied the way a phone's gallery shows the photo.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".webp",
                              ".tif", ".tiff", ".jp2", ".pgm", ".ppm", ".pbm"})

# Faces are encoded from 150-pixel chips, so decoding a 12-megapixel photo at
# full size buys nothing but time: JPEGs are decoded at 1/2, 1/4 or 1/8 scale
# as long as the longest side stays at least this long.
MIN_DECODED_SIDE = 1280


class PhotoError(ValueError):
    """A photo cannot be used: ``reason`` says why and what to do; the message names the file."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def is_photo_file(path: str) -> bool:
    """True when ``path``'s extension is one of PHOTO_EXTENSIONS (any case)."""
    return os.path.splitext(path)[1].lower() in PHOTO_EXTENSIONS


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
    image = cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_8)
    if image is None:
        raise PhotoError(path, "not an image that can be decoded (corrupt, or not "
                         "really a photo); replace it with a JPEG or PNG photo")
    # A first decode at 1/8 scale is cheap and tells how large the photo is.
    longest_at_eighth = max(image.shape[:2])
    reduction = 8
    while reduction > 1 and longest_at_eighth * 8 // reduction < MIN_DECODED_SIDE:
        reduction //= 2
    if reduction < 8:
        image = cv2.imdecode(data, _DECODE_FLAGS[reduction])
        if image is None:
            raise PhotoError(path, "the image is corrupt; replace it with a JPEG or PNG photo")
    return image


_DECODE_FLAGS = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
                 4: cv2.IMREAD_REDUCED_COLOR_4}
