"""Finding faces: boxes ``(x, y, w, h)`` of ints in the pixels of the image given.

Two detectors, chosen with ``--detector``:

- ``faceboxes`` (the default): a neural network trained on WIDER FACE
  (greeter/faceboxes.py). It finds faces down to MIN_FACE_PX wide, turned
  ones and people looking down included, in real time.
- ``haar``: OpenCV's Haar cascade, the classic FaceNet demo's detector: fast,
  but it finds only large frontal faces.

Measured on the real footage in ../shared/videos and on group photos with
``bench/detection.py``: see README.md.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod

import cv2
import numpy as np

from greeter.paths import PROJECT_DIR

Box = tuple[int, int, int, int]

DETECTORS = ("faceboxes", "haar")
DEFAULT_DETECTOR = "faceboxes"

# The narrowest face looked for, in the image's pixels: a face 40 pixels wide
# is a person 4-5 m from a 1080p door camera, or a forty-eighth of its width.
MIN_FACE_PX = 40

CASCADE_PATH = os.path.join(PROJECT_DIR, "haarcascade_frontalface_default.xml")


class DetectorError(RuntimeError):
    """A detector's file is missing or unreadable, or its name is unknown."""


class FaceDetector(ABC):
    """Finds the faces in images; load once with :func:`load_face_detector`."""

    name: str
    # How the landmark network's square is made from this detector's boxes:
    # side SQUARE_SCALE * box size, centred SQUARE_SHIFT * size below the box's
    # centre (detectors differ in how much forehead and chin a box holds).
    square_scale: float
    square_shift: float

    @abstractmethod
    def face_locations(self, image: np.ndarray, min_face: int = MIN_FACE_PX) -> list[Box]:
        """Boxes of the faces at least ``min_face`` pixels wide in a BGR image, largest first."""


def load_face_detector(name: str = DEFAULT_DETECTOR) -> FaceDetector:
    """The detector called ``name`` (one of DETECTORS), loaded.

    Raises DetectorError for an unknown name or a broken cascade file, and
    WeightsError naming the file when a network's weights cannot be loaded.
    """
    if name == "faceboxes":
        return FaceBoxesDetector()
    if name == "haar":
        return HaarDetector()
    raise DetectorError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")


def photo_min_face(image: np.ndarray) -> int:
    """The narrowest face looked for in a photo, in pixels: a twentieth of its
    shorter side, at least 20. The person a photo is of is no speck in it,
    and a large photo is then searched at a fraction of its size."""
    return max(20, min(image.shape[:2]) // 20)


# ---------------------------------------------------------------------------
# FaceBoxes

# FaceBoxes finds faces from about this many pixels of its input up; the image
# is scaled so that the smallest face wanted is that wide. It is never scaled
# below DETECT_MIN_WIDTH, where the network costs little anyway (11 ms for
# 640x360), nor above DETECT_MAX_WIDTH (a 12-megapixel photo).
SMALLEST_FACE_SEEN_PX = 24
DETECT_MIN_WIDTH = 640
DETECT_MAX_WIDTH = 1920
# Scores of real faces are mostly above 0.9; below 0.5 the boxes are on
# hands, patterns and the backs of heads.
MIN_SCORE = 0.5


class FaceBoxesDetector(FaceDetector):
    """FaceBoxes on a copy of the image scaled for the smallest face wanted."""

    name = "faceboxes"
    # Its boxes reach from the brows to the chin. Chosen on ../shared/faces (92
    # faces) against dlib's 68-point predictor: mean error 0.055 eye-corner
    # distances as the box is, 0.046 here; 1.0-1.1 x 0.1-0.15 all within 0.002.
    square_scale, square_shift = 1.05, 0.15

    def __init__(self, weights: str | None = None) -> None:
        from greeter.faceboxes import DEFAULT_WEIGHTS, load_faceboxes
        self._network = load_faceboxes(weights or DEFAULT_WEIGHTS)

    def face_locations(self, image: np.ndarray, min_face: int = MIN_FACE_PX) -> list[Box]:
        """Boxes of the faces at least ``min_face`` pixels wide in a BGR image, largest first."""
        height, width = image.shape[:2]
        scale = SMALLEST_FACE_SEEN_PX / max(min_face, 1)
        scale = min(max(scale, DETECT_MIN_WIDTH / width), DETECT_MAX_WIDTH / width)
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)
        if small.ndim == 2:
            rgb = cv2.cvtColor(small, cv2.COLOR_GRAY2RGB)
        elif small.shape[2] == 4:
            rgb = cv2.cvtColor(small, cv2.COLOR_BGRA2RGB)
        else:
            rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        corners, scores = self._network(rgb)
        corners = corners[scores >= MIN_SCORE] / scale
        boxes = [(int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0)))
                 for x0, y0, x1, y1 in corners]
        boxes = [box for box in boxes if box[2] >= min_face * 0.8 and box[3] > 0]
        return sorted(boxes, key=lambda box: box[2] * box[3], reverse=True)


# ---------------------------------------------------------------------------
# Haar cascade

# The cascade's cost grows with the pixels searched and with the number of
# face sizes tried, so it runs on a copy no wider than HAAR_WIDTH, for faces
# from HAAR_MIN_FACE_FRACTION of that width up, in steps of HAAR_SCALE_STEP.
# Against 640, 1/20 and 1.1: a 640x360 frame 37 -> 15 ms, a 12-megapixel
# photo 63 -> 18 ms, at the price of faces under a sixteenth of the width.
HAAR_WIDTH = 480
HAAR_MIN_FACE_FRACTION = 1 / 16
HAAR_SCALE_STEP = 1.2
# The cascade's own smallest window.
_SMALLEST_WINDOW = 20


class HaarDetector(FaceDetector):
    """OpenCV's frontal-face Haar cascade, as the classic FaceNet demo uses it."""

    name = "haar"
    # Haar boxes run from mid-forehead to about the mouth; the landmark network
    # was made for boxes that reach below the chin. Chosen on ../shared/faces
    # against dlib's 68-point predictor (mean error 0.079 -> 0.048 eye-corner
    # distances).
    square_scale, square_shift = 1.25, 0.225

    def __init__(self, path: str = CASCADE_PATH) -> None:
        self.path = path
        # OpenCV's cascade classifier crashes when one is shared between
        # threads (the photo library encodes on several): one per thread.
        self._per_thread = threading.local()
        self._per_thread.cascade = self._load()

    def _load(self) -> cv2.CascadeClassifier:
        restore = "restore it from the repository (git checkout -- haarcascade_frontalface_default.xml)"
        if not os.path.isfile(self.path):
            raise DetectorError(f"face detector file {self.path} is missing; {restore}")
        try:
            cascade = cv2.CascadeClassifier(self.path)
        except (cv2.error, SystemError):  # OpenCV raises on XML it cannot parse
            cascade = None
        if cascade is None or cascade.empty():
            raise DetectorError(f"face detector file {self.path} is corrupt; {restore}")
        return cascade

    def face_locations(self, image: np.ndarray, min_face: int = MIN_FACE_PX) -> list[Box]:
        """Boxes of the faces in a BGR (or greyscale) image, largest first.

        The cascade looks on a copy at most HAAR_WIDTH wide, for faces from
        HAAR_MIN_FACE_FRACTION of the width up, as the classic demo's setting
        has always done; ``min_face`` is not used.
        """
        if not hasattr(self._per_thread, "cascade"):
            self._per_thread.cascade = self._load()
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        scale = min(1.0, HAAR_WIDTH / gray.shape[1])
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        min_size = max(_SMALLEST_WINDOW, int(round(HAAR_MIN_FACE_FRACTION * gray.shape[1])))
        found = self._per_thread.cascade.detectMultiScale(
            gray, scaleFactor=HAAR_SCALE_STEP, minNeighbors=5, minSize=(min_size, min_size))
        boxes = [tuple(int(round(v / scale)) for v in box) for box in found]
        return sorted(boxes, key=lambda box: box[2] * box[3], reverse=True)
