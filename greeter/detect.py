"""Finding faces: boxes ``(x, y, w, h)`` of ints in the pixels of the image given.

Three detectors, chosen with ``--detector``:

- ``yunet`` (the default for frames): OpenCV Zoo's YuNet (greeter/yunet.py),
  trained on WIDER FACE. It finds faces of about 17 pixels of its input, so
  a frame is searched at well under half the width that keeps faces from
  MIN_FACE_PX wide: the cheapest of the networks for the faces it finds.
- ``faceboxes``: a neural network trained on WIDER FACE
  (greeter/faceboxes.py). It finds faces down to MIN_FACE_PX wide, turned
  ones and people looking down included, at several times YuNet's cost.
  It finds the face of every photo of images/ (PHOTO_DETECTOR).
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
from greeter.photos import as_bgr

Box = tuple[int, int, int, int]

DETECTORS = ("yunet", "faceboxes", "haar")
# What finds the faces of frames: YuNet finds as many of HOG's faces as
# FaceBoxes and more of the smallest, greets the people of every clip of
# ../shared/videos at the same frame or earlier, at under half the cost
# (README, Finding faces).
DEFAULT_DETECTOR = "yunet"
# What finds the face of a photo of images/, whatever --detector says: on a
# tight face crop YuNet can box the lower half of the face alone (a photo of
# ../shared/faces/people encoded 0.68 from the same photo's FaceBoxes
# encoding), and a photo is encoded only once.
PHOTO_DETECTOR = "faceboxes"

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
    # side square_scale * box size, centred square_shift * size below the box's
    # centre (detectors differ in how much forehead and chin a box holds).
    square_scale: float
    square_shift: float

    @abstractmethod
    def face_locations(self, image: np.ndarray, min_face: int = MIN_FACE_PX) -> list[Box]:
        """Boxes of the faces at least ``min_face`` pixels wide in a BGR image, largest first."""

    def frames_per_scan(self, image_shape: tuple[int, ...], min_face: int = MIN_FACE_PX) -> int:
        """How often a video of frames of ``image_shape`` needs a whole-frame search
        (every Nth frame); faces already found are followed with :meth:`faces_near`
        in between. 1: search every frame."""
        return 1

    def faces_near(self, image: np.ndarray, boxes: list[Box]) -> list[Box | None]:
        """For each of ``boxes`` (faces of an earlier frame), the face in a BGR image
        that is nearest to it within twice its size around it, or None."""
        height, width = image.shape[:2]
        corners, regions = [], []
        for x, y, w, h in boxes:
            side = int(NEAR_SIDE * max(w, h))
            left = min(max(int(x + w / 2 - side / 2), 0), max(width - side, 0))
            top = min(max(int(y + h / 2 - side / 2), 0), max(height - side, 0))
            corners.append((left, top))
            regions.append(image[top:top + side, left:left + side])
        found: list[Box | None] = []
        sizes = [max(w, h) for _, _, w, h in boxes]
        for (x, y, w, h), (left, top), faces in zip(boxes, corners,
                                                    self._faces_in_regions(regions, sizes)):
            centre = (x + w / 2 - left, y + h / 2 - top)
            near = sorted(faces, key=lambda b: abs(b[0] + b[2] / 2 - centre[0])
                          + abs(b[1] + b[3] / 2 - centre[1]))
            found.append((near[0][0] + left, near[0][1] + top, near[0][2], near[0][3])
                         if near else None)
        return found

    def _faces_in_regions(self, regions: list[np.ndarray], sizes: list[int]) -> list[list[Box]]:
        """The faces in each of ``regions``, each cut around a face about ``sizes``
        pixels wide."""
        return [self.face_locations(region, max(MIN_FACE_PX, size // 2))
                for region, size in zip(regions, sizes)]


# A followed face is looked for in a square this many times its size around it:
# room for a person walking at a brisk pace between two frames.
NEAR_SIDE = 2.0


def load_face_detector(name: str = DEFAULT_DETECTOR) -> FaceDetector:
    """The detector called ``name`` (one of DETECTORS), loaded.

    Raises DetectorError for an unknown name or a broken cascade file, and
    WeightsError naming the file when a network's weights cannot be loaded.
    """
    if name == "yunet":
        return YuNetDetector()
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


def _scaled_copy(image: np.ndarray, x_scale: float, y_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """A BGR copy of ``image`` scaled by about these factors, and the exact factors
    (x, y, x, y) of its size, to bring boxes found in it back."""
    height, width = image.shape[:2]
    size = (max(int(round(width * x_scale)), 1), max(int(round(height * y_scale)), 1))
    interpolation = cv2.INTER_AREA if x_scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(as_bgr(image), size, interpolation=interpolation)
    return small, np.array([size[0] / width, size[1] / height] * 2, np.float32)


def _boxes_in_image(boxes: np.ndarray, factors: np.ndarray) -> list[Box]:
    """Boxes (N, 4) (x, y, w, h) of a copy scaled by ``factors``, in the image's
    pixels as ints; empty ones left out."""
    found = [tuple(int(round(v)) for v in box) for box in boxes.reshape(-1, 4) / factors]
    return [box for box in found if box[2] > 0 and box[3] > 0]


class ScaledNetworkDetector(FaceDetector):
    """A network run on a copy of the image scaled so that the smallest face
    wanted is ``smallest_face_px`` wide, the copy ``min_width`` to
    ``max_width`` pixels wide."""

    smallest_face_px: int
    min_width: int
    max_width: int

    def face_locations(self, image: np.ndarray, min_face: int = MIN_FACE_PX) -> list[Box]:
        """Boxes of the faces at least ``min_face`` pixels wide in a BGR image, largest first."""
        scale = self._scale(image.shape, min_face)
        boxes = self._detect(image, scale, scale)
        boxes = [box for box in boxes if box[2] >= min_face * 0.8]
        return sorted(boxes, key=lambda box: box[2] * box[3], reverse=True)

    def _scale(self, image_shape: tuple[int, ...], min_face: int) -> float:
        """The scale of the copy searched for faces from ``min_face`` pixels up."""
        width = image_shape[1]
        scale = self.smallest_face_px / max(min_face, 1)
        return min(max(scale, self.min_width / width), self.max_width / width)

    @abstractmethod
    def _detect(self, image: np.ndarray, x_scale: float, y_scale: float) -> list[Box]:
        """The face boxes the network finds in a copy of ``image`` scaled by these factors."""


# ---------------------------------------------------------------------------
# FaceBoxes

# FaceBoxes finds faces from about this many pixels of its input up (faces
# shrunk to 24 / 32 / 40 px, of 80 that HOG finds: 15 / 56 / 75 found); the
# image is scaled so that the smallest face wanted is that wide. It is never
# scaled below DETECT_MIN_WIDTH, where the network costs little anyway
# (11 ms for 640x360), nor above DETECT_MAX_WIDTH (a 12-megapixel photo).
SMALLEST_FACE_SEEN_PX = 40
DETECT_MIN_WIDTH = 640
DETECT_MAX_WIDTH = 1920
# A face followed from frame to frame is looked for in a square of
# NEAR_SIDE times its size scaled to this many pixels, where it is 64 pixels
# wide: large enough to be found for sure, small enough to cost little
# (4 ms). One size for every face also keeps TensorFlow from setting up
# (and keeping memory for) the network for each new size.
FOLLOWED_SQUARE_PX = 128
# The pixels of its input FaceBoxes searches per frame on average: a whole
# 640x360 frame (11 ms). A larger one is searched whole every few frames,
# at most every MAX_FRAMES_PER_SCAN (a new face is found within that many,
# a fifth of a second at 30 fps): 1280x720 every 3rd, 1920x1080 every 6th.
SCAN_PIXELS_PER_FRAME = 640 * 360 * 1.5
MAX_FRAMES_PER_SCAN = 6
# Scores of real faces are mostly above 0.9; below 0.5 the boxes are on
# hands, patterns and the backs of heads.
MIN_SCORE = 0.5


class FaceBoxesDetector(ScaledNetworkDetector):
    """FaceBoxes on a copy of the image scaled for the smallest face wanted."""

    name = "faceboxes"
    smallest_face_px, min_width, max_width = SMALLEST_FACE_SEEN_PX, DETECT_MIN_WIDTH, DETECT_MAX_WIDTH
    # Its boxes reach from the brows to the chin. Chosen on ../shared/faces (92
    # faces) against dlib's 68-point predictor: mean error 0.055 eye-corner
    # distances as the box is, 0.046 here; 1.0-1.1 x 0.1-0.15 all within 0.002.
    square_scale, square_shift = 1.05, 0.15

    def __init__(self, weights: str | None = None) -> None:
        from greeter.faceboxes import DEFAULT_WEIGHTS, load_faceboxes
        self._network = load_faceboxes(weights or DEFAULT_WEIGHTS)

    def frames_per_scan(self, image_shape: tuple[int, ...], min_face: int = MIN_FACE_PX) -> int:
        scale = self._scale(image_shape, min_face)
        pixels = image_shape[0] * image_shape[1] * scale * scale
        return int(min(max(np.ceil(pixels / SCAN_PIXELS_PER_FRAME), 1), MAX_FRAMES_PER_SCAN))

    def _faces_in_regions(self, regions: list[np.ndarray], sizes: list[int]) -> list[list[Box]]:
        if not regions:
            return []
        # Each region scaled to one square: the network runs once for them all.
        squares, factors = zip(*(_scaled_copy(region, FOLLOWED_SQUARE_PX / region.shape[1],
                                              FOLLOWED_SQUARE_PX / region.shape[0])
                                 for region in regions))
        return [_corner_boxes(corners, factor) for (corners, _), factor in zip(
            self._network(_rgb(np.stack(squares)), MIN_SCORE), factors)]

    def _detect(self, image: np.ndarray, x_scale: float, y_scale: float) -> list[Box]:
        small, factors = _scaled_copy(image, x_scale, y_scale)
        corners, _ = self._network(_rgb(small[None]), MIN_SCORE)[0]
        return _corner_boxes(corners, factors)


def _rgb(images_bgr: np.ndarray) -> np.ndarray:
    """BGR images (N, H, W, 3) as RGB, contiguous, as the network takes them."""
    return np.ascontiguousarray(images_bgr[..., ::-1])


def _corner_boxes(corners: np.ndarray, factors: np.ndarray) -> list[Box]:
    """(x0, y0, x1, y1) corners (N, 4) of a copy scaled by ``factors`` as boxes in
    the image's pixels."""
    return _boxes_in_image(np.column_stack([corners[:, :2], corners[:, 2:] - corners[:, :2]]),
                           factors)


# ---------------------------------------------------------------------------
# YuNet

# YuNet finds faces from about this many pixels of its input up (its smallest
# anchors are 10 px): the image is scaled so that the smallest face wanted is
# that wide, so a 1920x1080 frame is searched at 816x459 for faces from 40
# px. Of 60 real faces shrunk to 40 px in a 1080p frame (bench/detection.py)
# it finds 33 at 14 px, 55 at 17, 59 at 20 and 58 at 24 (FaceBoxes, at full
# size, 42). Never above YUNET_MAX_WIDTH (a 12-megapixel photo), never below
# YUNET_MIN_WIDTH: on the head-pose clip (faces about 90 px of 480), 97 of
# its 112 faces are found at 320 wide, all at 480 and 640.
YUNET_SMALLEST_FACE_PX = 17
YUNET_MIN_WIDTH = 640
YUNET_MAX_WIDTH = 1920
# A followed face is looked for in a square of NEAR_SIDE times its size
# scaled to this many pixels, where it is 48 wide: found for sure, at a
# fraction of a millisecond; one size, so the network is never reshaped.
YUNET_FOLLOWED_SQUARE_PX = 96
# Scores of real faces are mostly above 0.8; OpenCV Zoo's own setting is 0.9,
# 0.6 keeps small and turned faces (the boxes it adds on tops and backs of
# heads are refused by the landmark check before any encoding).
YUNET_MIN_SCORE = 0.6
# Whole-frame searches, at most one every this many frames: YuNet's search
# of the scaled frame costs 10-20 ms, up to two thirds of a frame's time at
# 30 fps; a new face is found within a tenth of a second.
YUNET_FRAMES_PER_SCAN = 3


class YuNetDetector(ScaledNetworkDetector):
    """YuNet on a copy of the image scaled for the smallest face wanted."""

    name = "yunet"
    smallest_face_px, min_width, max_width = YUNET_SMALLEST_FACE_PX, YUNET_MIN_WIDTH, YUNET_MAX_WIDTH
    # Its boxes reach from the brows to the chin, as FaceBoxes' do, a little
    # higher: matched to FaceBoxes' square on 55 faces of ../shared/faces/people
    # (median side 1.03, shift 0.135 of the side).
    square_scale, square_shift = 1.03, 0.135

    def __init__(self, weights: str | None = None) -> None:
        from greeter.yunet import DEFAULT_WEIGHTS, load_yunet
        self._load = lambda: load_yunet(YUNET_MIN_SCORE, weights or DEFAULT_WEIGHTS)
        # cv2.FaceDetectorYN keeps its input size, and the photo library
        # detects on several threads: each thread has its own, one for whole
        # images (resized when the size changes) and one for followed squares.
        self._per_thread = threading.local()
        self._networks()

    def frames_per_scan(self, image_shape: tuple[int, ...], min_face: int = MIN_FACE_PX) -> int:
        return YUNET_FRAMES_PER_SCAN

    def _faces_in_regions(self, regions: list[np.ndarray], sizes: list[int]) -> list[list[Box]]:
        followed = self._networks()[1]
        return [self._run(followed, region, YUNET_FOLLOWED_SQUARE_PX / region.shape[1],
                          YUNET_FOLLOWED_SQUARE_PX / region.shape[0]) for region in regions]

    def _detect(self, image: np.ndarray, x_scale: float, y_scale: float) -> list[Box]:
        return self._run(self._networks()[0], image, x_scale, y_scale)

    def _networks(self) -> tuple[cv2.FaceDetectorYN, cv2.FaceDetectorYN]:
        """This thread's (whole-image, followed-square) detectors."""
        if not hasattr(self._per_thread, "networks"):
            followed = self._load()
            followed.setInputSize((YUNET_FOLLOWED_SQUARE_PX, YUNET_FOLLOWED_SQUARE_PX))
            self._per_thread.networks = (self._load(), followed)
        return self._per_thread.networks

    @staticmethod
    def _run(network: cv2.FaceDetectorYN, image: np.ndarray, x_scale: float,
             y_scale: float) -> list[Box]:
        """The face boxes YuNet finds in a copy of ``image`` scaled by these factors."""
        small, factors = _scaled_copy(image, x_scale, y_scale)
        size = small.shape[1::-1]
        if tuple(network.getInputSize()) != size:
            network.setInputSize(size)
        rows = network.detect(small)[1]
        return [] if rows is None else _boxes_in_image(rows[:, :4], factors)


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
