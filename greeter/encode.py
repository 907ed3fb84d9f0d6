"""Faces to 128-number encodings: landmarks, an aligned chip, then the network.

Two networks can do the last step:
- ``dlib`` (the default, shipped): dlib's ResNet face descriptor, 150x150 RGB
  chips, encodings not L2-normalised.
- ``openface``: the classic demo's Keras Inception network with OpenFace's CSV
  weights, which the user supplies; 96x96 chips, L2-normalised encodings.
Every threshold is a plain L2 distance between two encodings of one network.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np
import tensorflow as tf

from greeter import align, landmarks, resnet
from greeter.detect import (DEFAULT_DETECTOR, Box, FaceDetector, load_face_detector,
                            photo_min_face)
from greeter.paths import WEIGHTS_DIR
from greeter.photos import PhotoError, read_photo

NETWORKS = ("dlib", "openface")

# Grappler's remapper cannot fuse the landmark network's nested sums and logs
# an alarming "remapper failed" error at every start; without it the networks
# run as fast (measured: 10.3 vs 9.8 ms per face encoding).
tf.config.optimizer.set_experimental_options({"remapping": False})

# Chosen on ../shared/faces/people with bench/accuracy.py; see README.md.
DLIB_THRESHOLD = 0.6

# A photo may itself be a tight face crop, in which the cascade finds no face
# or only part of one: then the whole photo is a candidate face box too, if it
# is roughly face-shaped.
FACE_SHAPED_ASPECT = (0.6, 1.6)
# Landmarks that move more than this on a second look (landmarks.landmark_drift)
# were drawn into a box that holds no whole face.
MAX_LANDMARK_DRIFT = 0.2
# A photo's largest faces that are checked for being one (a group photo's
# smaller faces are not who the photo is of).
PHOTO_BOXES_CHECKED = 5


@dataclass(frozen=True)
class EncodedPhoto:
    """A photo's encoding (None when it has no usable face) and what to tell the user
    about it (why it was skipped, or how its face was found), without the path."""

    path: str
    encoding: np.ndarray | None
    note: str = ""


class FaceEncoder:
    """Encodes faces in images with one network; load once, use for every frame."""

    def __init__(self, network: str = "dlib", weights_dir: str | None = None,
                 aligned: bool = True, detector: str = DEFAULT_DETECTOR) -> None:
        """Load the face detector called ``detector``, the landmark network and
        ``network``'s weights.

        ``weights_dir`` holds the OpenFace CSV export for ``network="openface"``
        (default: the project's ``weights/``). ``aligned=False`` encodes plain
        cascade crops instead of aligned chips (for the accuracy benchmark).
        Raises WeightsError or DetectorError naming the file that is wrong.
        """
        if network not in NETWORKS:
            raise ValueError(f"unknown network {network!r}; choose one of {', '.join(NETWORKS)}")
        self.network = network
        self.aligned = aligned
        self.detector: FaceDetector = load_face_detector(detector)
        # Keras layers called eagerly are not safe to call from two threads at
        # once; the networks take turns (they use every core anyway).
        self._network_lock = threading.Lock()
        self.landmark_model = landmarks.load_landmark_model()
        if network == "dlib":
            model = resnet.load_dlib_resnet()
            self.threshold = DLIB_THRESHOLD
            self.chip_size, self.chip_padding = resnet.INPUT_SIZE, 0.25
            signature = tf.TensorSpec((None, self.chip_size, self.chip_size, 3), tf.float32)
        else:
            from greeter import openface  # builds the Inception network only when asked for
            model = openface.load_openface_model(weights_dir or WEIGHTS_DIR)
            self.threshold = openface.OPENFACE_THRESHOLD
            # OpenFace's own alignment fills the 96-pixel square with the face.
            self.chip_size, self.chip_padding = openface.OPENFACE_INPUT_SIZE, 0.0
            signature = tf.TensorSpec((None, 3, self.chip_size, self.chip_size), tf.float32)
        # A fixed signature with a free batch size: one trace, whatever the
        # number of faces in a frame, and none of predict()'s per-call cost.
        self._network = tf.function(lambda batch: model(batch, training=False),
                                    input_signature=[signature], autograph=False)
        self.cache_key = (f"{network}-{'aligned' if aligned else 'crop'}-v1-{detector}-"
                          f"{self.chip_size}-{self.chip_padding}")

    def warm_up(self) -> None:
        """Run every network once, so that the first face seen is not kept waiting
        while TensorFlow builds them (most of a second)."""
        blank = np.full((360, 640, 3), 128, np.uint8)
        self.detector.face_locations(blank)
        self.checked_face_encodings(blank, [(270, 130, 100, 100)])
        self.encodings_of_chips(np.zeros((1, self.chip_size, self.chip_size, 3), np.uint8))

    def face_chips(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """The network's input chips for ``boxes`` in a BGR image: (N, S, S, 3) RGB uint8."""
        if not boxes:
            return np.zeros((0, self.chip_size, self.chip_size, 3), np.uint8)
        if not self.aligned:
            return np.stack([_crop_chip(image, box, self.chip_size) for box in boxes])
        with self._network_lock:
            points = self._landmarks(image, boxes)
        return align.aligned_face_chips(image, points, self.chip_size, self.chip_padding)

    def encodings_of_chips(self, chips: np.ndarray) -> np.ndarray:
        """The network's encodings (N, 128) float32 of RGB uint8 chips (N, S, S, 3)."""
        if len(chips) == 0:
            return np.zeros((0, 128), np.float32)
        batch = chips.astype(np.float32)
        if self.network == "openface":
            batch = batch.transpose(0, 3, 1, 2) / 255.0
        with self._network_lock:
            return self._network(tf.constant(batch)).numpy()

    def face_encodings(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """Encodings (N, 128) float32 of the faces at ``boxes`` in a BGR image, in one call."""
        return self.encodings_of_chips(self.face_chips(image, boxes))

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

    def checked_face_encodings(self, image: np.ndarray,
                               boxes: list[Box]) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`face_encodings`, and (N,) bool: whether each box holds a whole face.

        The cascade also fires on patterns that are no face (a shirt button, a
        badge), which could otherwise be taken for someone; their landmarks
        drift (see MAX_LANDMARK_DRIFT) and their rows are NaN.
        """
        if not self.aligned or not boxes:
            return self.face_encodings(image, boxes), np.ones(len(boxes), bool)
        points, drift = self._landmarks_and_drift(image, boxes)
        is_face = drift <= MAX_LANDMARK_DRIFT
        encodings = np.full((len(boxes), 128), np.nan, np.float32)
        if is_face.any():
            chips = align.aligned_face_chips(image, points[is_face], self.chip_size,
                                             self.chip_padding)
            encodings[is_face] = self.encodings_of_chips(chips)
        return encodings, is_face

    def photo_face(self, image: np.ndarray) -> tuple[Box | None, np.ndarray | None, str]:
        """The face box to encode in a photo, its landmarks (None without alignment),
        and a note for the user (or why there is no face).

        The largest face the detector finds whose landmarks hold still on a
        second look (the detector also boxes things that are no face); for a
        roughly face-shaped image in which none does, the whole image, if its
        landmarks hold still: the photo may itself be a tight face crop.
        """
        boxes = self.detector.face_locations(image, photo_min_face(image))[:PHOTO_BOXES_CHECKED]
        height, width = image.shape[:2]
        whole = (0, 0, width, height)
        face_shaped = FACE_SHAPED_ASPECT[0] <= width / height <= FACE_SHAPED_ASPECT[1]
        candidates = boxes + ([whole] if face_shaped else [])
        if not candidates:
            return None, None, "no face found"
        if not self.aligned:
            return candidates[0], None, ""
        all_points, drift = self._landmarks_and_drift(image, candidates)
        steady = [i for i, moved in enumerate(drift) if moved <= MAX_LANDMARK_DRIFT]
        if not steady:
            return None, None, "no clear face found"
        best = steady[0]
        box, points = candidates[best], all_points[best:best + 1]
        faces = [i for i in steady if candidates[i] != whole]
        if box == whole:
            return box, points, "no face detected; took the whole image as the face"
        if len(faces) > 1:
            return box, points, f"{len(faces)} faces found; used the largest"
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
            chips = self.face_chips(image, [box])
        else:
            chips = align.aligned_face_chips(image, points, self.chip_size, self.chip_padding)
        return EncodedPhoto(path, self.encodings_of_chips(chips)[0], note)


def _crop_chip(image: np.ndarray, box: Box, size: int) -> np.ndarray:
    """The cascade box, resized to ``size`` square, as RGB (the unaligned chip)."""
    x, y, w, h = box
    crop = image[max(y, 0):y + h, max(x, 0):x + w]
    return cv2.cvtColor(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA),
                        cv2.COLOR_BGR2RGB)
