"""Finding faces: OpenCV's Haar cascade, as the classic FaceNet demo does.

Boxes are ``(x, y, w, h)`` tuples of ints in the pixels of the image given.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from greeter.paths import PROJECT_DIR

Box = tuple[int, int, int, int]

CASCADE_PATH = os.path.join(PROJECT_DIR, "haarcascade_frontalface_default.xml")

# The cascade's cost grows with the pixel count while faces at a door stay
# large, so detection runs on a copy no wider than this.
DETECT_WIDTH = 640
# Smaller faces are too far from the door to greet, and too small to encode well.
MIN_FACE_PIXELS = 40


class DetectorError(RuntimeError):
    """The Haar cascade file is missing or unreadable."""


def load_face_detector(path: str = CASCADE_PATH) -> cv2.CascadeClassifier:
    """The Haar cascade at ``path``; DetectorError names the file if it cannot be read."""
    if not os.path.isfile(path):
        raise DetectorError(f"face detector file {path} is missing; restore it from the "
                            "repository (git checkout -- haarcascade_frontalface_default.xml)")
    detector = cv2.CascadeClassifier(path)
    if detector.empty():
        raise DetectorError(f"face detector file {path} is corrupt; restore it from the "
                            "repository (git checkout -- haarcascade_frontalface_default.xml)")
    return detector


def face_locations(detector: cv2.CascadeClassifier, image: np.ndarray,
                   detect_width: int = DETECT_WIDTH,
                   min_face: int = MIN_FACE_PIXELS) -> list[Box]:
    """Boxes ``(x, y, w, h)`` of the faces in a BGR (or greyscale) image, largest first.

    Detection runs on a copy scaled down to at most ``detect_width`` pixels wide;
    the boxes are scaled back to ``image``'s pixels. Faces narrower than
    ``min_face`` pixels of the original image are not reported.
    """
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    scale = min(1.0, detect_width / gray.shape[1])
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    min_size = max(20, int(round(min_face * scale)))
    found = detector.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                      minSize=(min_size, min_size))
    boxes = [tuple(int(round(v / scale)) for v in box) for box in found]
    return sorted(boxes, key=lambda box: box[2] * box[3], reverse=True)
