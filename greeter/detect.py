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

# Detection runs on every frame and on every photo, so it is tuned for speed:
# faces at a door, and in a photo of one person, are large. The cascade's cost
# grows with the pixels searched and with the number of face sizes tried, so
# it runs on a copy no wider than DETECT_WIDTH, for faces from
# MIN_FACE_FRACTION of that width up, in steps of SCALE_STEP. Against 640,
# 1/20 and 1.1: a frame of bench/make_video.py's 640x360 video 37 -> 15 ms
# (93% as many face boxes found; a frame that misses one is made up by the
# next), a 12-megapixel photo 63 -> 18 ms, and accuracy on
# ../shared/faces/people unchanged (balanced 1.000 at 0.6).
DETECT_WIDTH = 480
MIN_FACE_FRACTION = 1 / 16
SCALE_STEP = 1.2
# The cascade's own smallest window.
_SMALLEST_WINDOW = 20


class DetectorError(RuntimeError):
    """The Haar cascade file is missing or unreadable."""


def load_face_detector(path: str = CASCADE_PATH) -> cv2.CascadeClassifier:
    """The Haar cascade at ``path``; DetectorError names the file if it cannot be read."""
    if not os.path.isfile(path):
        raise DetectorError(f"face detector file {path} is missing; restore it from the "
                            "repository (git checkout -- haarcascade_frontalface_default.xml)")
    try:
        detector = cv2.CascadeClassifier(path)
    except (cv2.error, SystemError):  # OpenCV raises on XML it cannot parse
        detector = None
    if detector is None or detector.empty():
        raise DetectorError(f"face detector file {path} is corrupt; restore it from the "
                            "repository (git checkout -- haarcascade_frontalface_default.xml)")
    return detector


def face_locations(detector: cv2.CascadeClassifier, image: np.ndarray,
                   detect_width: int = DETECT_WIDTH,
                   min_face_fraction: float = MIN_FACE_FRACTION,
                   scale_step: float = SCALE_STEP) -> list[Box]:
    """Boxes ``(x, y, w, h)`` of the faces in a BGR (or greyscale) image, largest first.

    Detection runs on a copy scaled down to at most ``detect_width`` pixels wide;
    the boxes are scaled back to ``image``'s pixels. Faces narrower than
    ``min_face_fraction`` of that width are not looked for. ``scale_step`` is
    the cascade's step between face sizes: larger is faster, coarser.
    """
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    scale = min(1.0, detect_width / gray.shape[1])
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    min_size = max(_SMALLEST_WINDOW, int(round(min_face_fraction * gray.shape[1])))
    found = detector.detectMultiScale(gray, scaleFactor=scale_step, minNeighbors=5,
                                      minSize=(min_size, min_size))
    boxes = [tuple(int(round(v / scale)) for v in box) for box in found]
    return sorted(boxes, key=lambda box: box[2] * box[3], reverse=True)
