"""Faces to encodings: landmarks, aligned chips, then one or two networks.

The ``--model`` choices:
- ``dlib+sface`` (the default, shipped): dlib's ResNet face descriptor on
  150x150 RGB chips and OpenCV Zoo's SFace on 112x112 ArcFace chips, both
  cut from the same landmarks. The encoding is 256 numbers: dlib's 128
  divided by DLIB_UNIT, then SFace's L2-normalised 128 divided by SFACE_UNIT,
  so that the plain L2 distance between two encodings is the fused score
  sqrt((dlib distance / DLIB_UNIT)^2 + (SFace distance / SFACE_UNIT)^2) and
  one threshold (FUSED_THRESHOLD) decides, as for one network. A part that was
  not computed (the recogniser skips SFace where it cannot change a decision)
  is NaN.
- ``dlib``: dlib's network alone, 128 numbers, not L2-normalised (face_recognition's).
- ``openface``: the classic demo's Keras Inception network with OpenFace's CSV
  weights, which the user supplies; 96x96 chips, L2-normalised encodings.
Every threshold is a plain L2 distance between two encodings of one model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np
import tensorflow as tf

from greeter import align, landmarks, resnet, sface, shape5
from greeter.detect import (DEFAULT_DETECTOR, Box, FaceDetector, load_face_detector,
                            photo_min_face)
from greeter.paths import WEIGHTS_DIR
from greeter.photos import PhotoError, as_bgr, read_photo

FUSED = "dlib+sface"
NETWORKS = (FUSED, "dlib", "openface")
DEFAULT_NETWORK = FUSED

# Grappler's remapper cannot fuse the landmark network's nested sums and logs
# an alarming "remapper failed" error at every start; without it the networks
# run as fast (measured: 10.3 vs 9.8 ms per face encoding).
tf.config.optimizer.set_experimental_options({"remapping": False})

# Chosen on ../shared/faces/people with bench/accuracy.py; see README.md.
DLIB_THRESHOLD = 0.6
# The fused model's scales and threshold, chosen on the IMM face database
# (tools/choose_fusion.py; never on the sets README.md reports): a distance
# of DLIB_UNIT in dlib's encodings counts as much as SFACE_UNIT between two
# unit SFace features (SFACE_UNIT = sqrt(2 - 2 cos)).
DLIB_UNIT = 1.041
SFACE_UNIT = 1.301
FUSED_THRESHOLD = 1.0

# A photo may itself be a tight face crop, in which the cascade finds no face
# or only part of one: then the whole photo is a candidate face box too, if it
# is roughly face-shaped.
FACE_SHAPED_ASPECT = (0.6, 1.6)
# How many of a photo's largest boxes are looked at for a clear face (a
# group photo's smaller faces are not who the photo is of).
PHOTO_BOXES = 5
# Landmarks that move more than this on a second look (landmarks.landmark_drift)
# were drawn into a box that holds no whole face.
MAX_LANDMARK_DRIFT = 0.2
# In a photo, dlib's 5 points must also agree with the 68 landmarks to this
# (shape5.landmark_disagreement): a face-shaped photo of a whole person, with
# the face small in it, held still as "the face" (issue 12).
MAX_LANDMARK_DISAGREEMENT = 0.12


@dataclass(frozen=True)
class EncodedPhoto:
    """A photo's encoding (None when it has no usable face) and what to tell the user
    about it (why it was skipped, or how its face was found), without the path."""

    path: str
    encoding: np.ndarray | None
    note: str = ""


class FaceEncoder:
    """Encodes faces in images with one network; load once, use for every frame."""

    def __init__(self, network: str = DEFAULT_NETWORK, weights_dir: str | None = None,
                 aligned: bool = True, detector: str = DEFAULT_DETECTOR) -> None:
        """Load the face detector called ``detector``, the landmark network and
        ``network``'s weights (one of NETWORKS).

        ``weights_dir`` holds the OpenFace CSV export for ``network="openface"``
        (default: the project's ``weights/``). ``aligned=False`` encodes plain
        cascade crops instead of aligned chips (for the accuracy benchmark; dlib
        alone). Raises WeightsError or DetectorError naming the file that is wrong.
        """
        if network not in NETWORKS:
            raise ValueError(f"unknown network {network!r}; choose one of {', '.join(NETWORKS)}")
        if not aligned and network == FUSED:
            raise ValueError("unaligned crops are for one network; use network='dlib'")
        self.network = network
        self.aligned = aligned
        self.detector: FaceDetector = load_face_detector(detector)
        # Keras layers called eagerly are not safe to call from two threads at
        # once; the networks take turns (they use every core anyway).
        self._network_lock = threading.Lock()
        self.landmark_model = landmarks.load_landmark_model()
        self.shape_predictor = None
        self.sface: sface.SFace | None = None
        # The first network's scale in the encoding (the fused model's DLIB_UNIT).
        self._first_unit = 1.0
        # The share of the threshold beyond which the first network alone says
        # "another person" (recognise.py splits a track there): dlib's own 0.6.
        self.first_part_share = 1.0
        if network in ("dlib", FUSED):
            self.shape_predictor = shape5.load_shape_predictor()
            model = resnet.load_dlib_resnet()
            self.threshold = DLIB_THRESHOLD
            self.chip_size, self.chip_padding = resnet.INPUT_SIZE, 0.25
            signature = tf.TensorSpec((None, self.chip_size, self.chip_size, 3), tf.float32)
            if network == FUSED:
                self.sface = sface.SFace()
                self.threshold, self._first_unit = FUSED_THRESHOLD, DLIB_UNIT
                self.first_part_share = DLIB_THRESHOLD / DLIB_UNIT / FUSED_THRESHOLD
        else:
            from greeter import openface  # builds the Inception network only when asked for
            model = openface.load_openface_model(weights_dir or WEIGHTS_DIR)
            self.threshold = openface.OPENFACE_THRESHOLD
            # OpenFace's own alignment fills the 96-pixel square with the face.
            self.chip_size, self.chip_padding = openface.OPENFACE_INPUT_SIZE, 0.0
            signature = tf.TensorSpec((None, 3, self.chip_size, self.chip_size), tf.float32)
        # The encoding's columns per network: (start, stop) of each part.
        self.parts: tuple[tuple[int, int], ...] = ((0, 128),) if self.sface is None else (
            (0, 128), (128, 128 + sface.FEATURE_SIZE))
        self.width = self.parts[-1][1]
        # A fixed signature with a free batch size: one trace, whatever the
        # number of faces in a frame, and none of predict()'s per-call cost.
        self._network = tf.function(lambda batch: model(batch, training=False),
                                    input_signature=[signature], autograph=False)
        # v2: dlib chips from dlib's 5-point predictor (issue 12), not 68 points.
        self.cache_key = (f"{network}-{'aligned' if aligned else 'crop'}-v2-{detector}-"
                          f"{self.chip_size}-{self.chip_padding}")
        if self.sface is not None:  # the scales are part of what is stored
            self.cache_key += f"-{DLIB_UNIT}-{SFACE_UNIT}"

    def warm_up(self) -> None:
        """Run every network once, so that the first face seen is not kept waiting
        while TensorFlow builds them (most of a second)."""
        blank = np.full((360, 640, 3), 128, np.uint8)
        self.detector.face_locations(blank)
        self.checked_face_encodings(blank, [(270, 130, 100, 100)])
        self.encodings_of_chips(np.zeros((1, self.chip_size, self.chip_size, 3), np.uint8))
        if self.sface is not None:
            self.sface.unit_features(np.zeros((1, sface.CHIP_SIZE, sface.CHIP_SIZE, 3), np.uint8))

    def face_chips(self, image: np.ndarray, boxes: list[Box], photo: bool = False) -> np.ndarray:
        """The network's input chips for ``boxes`` in a BGR image: (N, S, S, 3) RGB uint8
        (cut as for a photo with ``photo``: see :meth:`chips_from_landmarks`)."""
        if not boxes:
            return np.zeros((0, self.chip_size, self.chip_size, 3), np.uint8)
        if not self.aligned:
            return np.stack([_crop_chip(image, box, self.chip_size) for box in boxes])
        with self._network_lock:
            points = self._landmarks(image, boxes)
        return self.chips_from_landmarks(image, points, photo)

    def chips_from_landmarks(self, image: np.ndarray, points: np.ndarray,
                             photo: bool = False) -> np.ndarray:
        """The network's input chips (N, S, S, 3) RGB uint8 of the faces whose 68
        landmarks are ``points`` (N, 68, 2) in a BGR image.

        dlib's network gets face_recognition's chips: dlib's 5-point predictor,
        started from the box dlib's HOG detector would give (estimated from the
        68 landmarks; for a ``photo``, from several such boxes), places the face
        on dlib's 5-point template. OpenFace's network gets chips cut from the
        68 landmarks.
        """
        if self.shape_predictor is not None and len(points):
            shifts = shape5.PHOTO_BOX_SHIFTS if photo else ((0.0, 0.0),)
            points = np.stack([shape5.landmarks_from_68(self.shape_predictor, image, face, shifts)
                               for face in points])
        return align.aligned_face_chips(image, points, self.chip_size, self.chip_padding)

    def encodings_of_chips(self, chips: np.ndarray) -> np.ndarray:
        """The first network's part of the encodings, (N, 128) float32, of its RGB
        uint8 chips (N, S, S, 3) (for one network, the whole encoding)."""
        if len(chips) == 0:
            return np.zeros((0, 128), np.float32)
        batch = chips.astype(np.float32)
        if self.network == "openface":
            batch = batch.transpose(0, 3, 1, 2) / 255.0
        with self._network_lock:
            first = self._network(tf.constant(batch)).numpy()
        return first / np.float32(self._first_unit) if self._first_unit != 1.0 else first

    def encodings_from_landmarks(self, image: np.ndarray, points: np.ndarray,
                                 photo: bool = False, second: bool | np.ndarray = True
                                 ) -> np.ndarray:
        """Encodings (N, width) float32 of the faces whose 68 landmarks are ``points``
        (N, 68, 2) in a BGR image; ``second`` (one bool, or one per face) says
        which faces also get the second network (SFace), the others' second part
        is NaN. ``photo``: chips cut as for a photo (:meth:`chips_from_landmarks`)."""
        encodings = np.full((len(points), self.width), np.nan, np.float32)
        first_stop = self.parts[0][1]
        encodings[:, :first_stop] = self.encodings_of_chips(
            self.chips_from_landmarks(image, points, photo))
        rows = np.flatnonzero(np.broadcast_to(second, (len(points),)))
        if self.sface is not None and len(rows):
            chips = sface.sface_chips(as_bgr(image), points[rows])
            with self._network_lock:
                features = self.sface.unit_features(chips)
            encodings[rows, first_stop:] = features / np.float32(SFACE_UNIT)
        return encodings

    def face_encodings(self, image: np.ndarray, boxes: list[Box],
                       photo: bool = False) -> np.ndarray:
        """Encodings (N, width) float32 of the faces at ``boxes`` in a BGR image, in one
        call (chips cut as for a photo with ``photo``)."""
        if not self.aligned or not boxes:
            return self.encodings_of_chips(self.face_chips(image, boxes, photo))
        with self._network_lock:
            points = self._landmarks(image, boxes)
        return self.encodings_from_landmarks(image, points, photo)

    def _landmarks(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """Landmarks (N, 68, 2) of ``boxes``, framed as the detector's boxes need."""
        return landmarks.face_landmarks(self.landmark_model, image, boxes,
                                        self.detector.square_scale, self.detector.square_shift)

    def _landmarks_and_drift(self, image: np.ndarray,
                             boxes: list[Box]) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks (N, 68, 2) of ``boxes`` and how far each set drifts on a second look."""
        with self._network_lock:
            points = self._landmarks(image, boxes)
            return points, landmarks.landmark_drift(self.landmark_model, image, points)

    def checked_face_encodings(self, image: np.ndarray, boxes: list[Box],
                               second: bool | np.ndarray = True
                               ) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`face_encodings`, and (N,) bool: whether each box holds a whole face.

        The detector also fires on patterns that are no face (a shirt button, a
        badge), which could otherwise be taken for someone; their landmarks
        drift (see MAX_LANDMARK_DRIFT) and their rows are NaN. ``second`` (one
        bool, or one per box) as for :meth:`encodings_from_landmarks`.
        """
        if not self.aligned or not boxes:
            return self.face_encodings(image, boxes), np.ones(len(boxes), bool)
        points, drift = self._landmarks_and_drift(image, boxes)
        is_face = drift <= MAX_LANDMARK_DRIFT
        encodings = np.full((len(boxes), self.width), np.nan, np.float32)
        if is_face.any():
            wanted = np.broadcast_to(second, (len(boxes),))[is_face]
            encodings[is_face] = self.encodings_from_landmarks(image, points[is_face],
                                                               second=wanted)
        return encodings, is_face

    def _steady_face(self, image: np.ndarray, candidates: list[Box],
                     first: bool = False) -> tuple[int, np.ndarray] | None:
        """The candidate box whose landmarks hold still (the steadiest one, or with
        ``first`` the first one that does) and its landmarks (1, 68, 2); None when
        the landmarks of every candidate drift, even on a second look, or (dlib's
        network) disagree with dlib's 5 points."""
        points, drift = self._landmarks_and_drift(image, candidates)
        if drift.min() > MAX_LANDMARK_DRIFT:
            # A real face in a poor box (off-centre, cut off) is framed well by
            # its first landmarks, and its landmarks hold still from the second
            # look on; a box on no face keeps drifting (issue 12: a photo that
            # face_recognition encodes was refused).
            with self._network_lock:
                points = landmarks.look_again(self.landmark_model, image, points)
                drift = landmarks.landmark_drift(self.landmark_model, image, points)
        steady = drift <= MAX_LANDMARK_DRIFT
        if self.shape_predictor is not None:
            steady &= [bool(still) and shape5.landmark_disagreement(
                self.shape_predictor, image, face) <= MAX_LANDMARK_DISAGREEMENT
                for still, face in zip(steady, points)]
        if not steady.any():
            return None
        best = int(np.argmax(steady)) if first else int(np.argmin(np.where(steady, drift, np.inf)))
        return best, points[best:best + 1]

    def photo_face(self, image: np.ndarray) -> tuple[Box | None, np.ndarray | None, str]:
        """The face box to encode in a photo, its landmarks (None without alignment),
        and a note for the user (or why there is no face).

        The largest face the detector finds whose landmarks hold still on a
        second look (the detector also boxes things that are no face) and agree
        with dlib's 5 points; for a roughly face-shaped image in which none
        does, the whole image, if its landmarks do: the photo may itself be a
        tight face crop. None if no candidate holds a clear face.
        """
        boxes = self.detector.face_locations(image, photo_min_face(image))[:PHOTO_BOXES]
        height, width = image.shape[:2]
        whole = (0, 0, width, height)
        face_shaped = FACE_SHAPED_ASPECT[0] <= width / height <= FACE_SHAPED_ASPECT[1]
        candidates = boxes + ([whole] if face_shaped else [])
        if not candidates:
            return None, None, "no face found"
        if not self.aligned:
            return candidates[0], None, ""
        found = self._steady_face(image, candidates, first=True)
        if found is None:
            return None, None, "no clear face found"
        box, points = candidates[found[0]], found[1]
        if box == whole and box not in boxes:
            return box, points, "no face detected; took the whole image as the face"
        if len(boxes) > 1:
            which = "the largest" if box == boxes[0] else "the largest clear one"
            return box, points, f"{len(boxes)} faces found; used {which}"
        return box, points, ""

    def encode_photo(self, path: str) -> EncodedPhoto:
        """The encoding of the face in the photo at ``path``, or None with the reason."""
        try:
            image = read_photo(path)
        except PhotoError as error:
            return EncodedPhoto(path, None, error.reason)
        return self.encode_photo_image(image, path)

    def encode_photo_image(self, image: np.ndarray, path: str) -> EncodedPhoto:
        """As :meth:`encode_photo`, for the already decoded photo ``image`` of ``path``."""
        box, points, note = self.photo_face(image)
        if box is None:
            return EncodedPhoto(path, None, f"{note}; use a photo where the face is "
                                            "clearly visible")
        if points is None:
            encoding = self.encodings_of_chips(self.face_chips(image, [box]))[0]
        else:
            encoding = self.encodings_from_landmarks(image, points, photo=True)[0]
        return EncodedPhoto(path, encoding, note)


def _crop_chip(image: np.ndarray, box: Box, size: int) -> np.ndarray:
    """The cascade box, resized to ``size`` square, as RGB (the unaligned chip)."""
    x, y, w, h = box
    crop = image[max(y, 0):y + h, max(x, 0):x + w]
    return cv2.cvtColor(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA),
                        cv2.COLOR_BGR2RGB)
