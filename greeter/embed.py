"""The embedding stage: a face's landmarks to its encoding, with one or two networks.

The ``--model`` choices (greeter.models):
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

import numpy as np
import tensorflow as tf

from greeter import align, resnet, sface, shape5
from greeter.models import (DLIB_THRESHOLD, DLIB_UNIT, FUSED, FUSED_THRESHOLD, NETWORKS,
                            SFACE_UNIT, THRESHOLDS)
from greeter.paths import WEIGHTS_DIR
from greeter.photos import as_bgr

# Grappler's remapper cannot fuse the landmark network's nested sums and logs
# an alarming "remapper failed" error at every start; without it the networks
# run as fast (measured: 10.3 vs 9.8 ms per face encoding).
tf.config.optimizer.set_experimental_options({"remapping": False})


class Embedder:
    """Turns faces, given by their 68 landmarks, into encodings with ``network``'s
    weights (one of NETWORKS); load once, use for every photo and frame."""

    def __init__(self, network: str, weights_dir: str | None, lock: threading.Lock) -> None:
        """``weights_dir`` holds the OpenFace CSV export for ``network="openface"``
        (default: the project's ``weights/``). Raises WeightsError naming the file."""
        if network not in NETWORKS:
            raise ValueError(f"unknown network {network!r}; choose one of {', '.join(NETWORKS)}")
        self.network = network
        self._lock = lock
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
            self.chip_size, self.chip_padding = resnet.INPUT_SIZE, 0.25
            signature = tf.TensorSpec((None, self.chip_size, self.chip_size, 3), tf.float32)
            if network == FUSED:
                self.sface = sface.SFace()
                self._first_unit = DLIB_UNIT
                self.first_part_share = DLIB_THRESHOLD / DLIB_UNIT / FUSED_THRESHOLD
        else:
            from greeter import openface  # builds the Inception network only when asked for
            model = openface.channels_last_copy(
                openface.load_openface_model(weights_dir or WEIGHTS_DIR))
            # OpenFace's own alignment fills the 96-pixel square with the face.
            self.chip_size, self.chip_padding = openface.OPENFACE_INPUT_SIZE, 0.0
            signature = tf.TensorSpec((None, self.chip_size, self.chip_size, 3), tf.float32)
        # The encoding's columns per network: (start, stop) of each part.
        self.parts: tuple[tuple[int, int], ...] = ((0, 128),) if self.sface is None else (
            (0, 128), (128, 128 + sface.FEATURE_SIZE))
        self.width = self.parts[-1][1]
        # A fixed signature with a free batch size: one trace, whatever the
        # number of faces in a frame, and none of predict()'s per-call cost.
        self._network = tf.function(lambda batch: model(batch, training=False),
                                    input_signature=[signature], autograph=False)

    @property
    def threshold(self) -> float:
        """This network's own distance that names a person (models.THRESHOLDS); the one
        in force is RecognitionSettings.threshold."""
        return THRESHOLDS[self.network]

    @property
    def cache_key(self) -> str:
        """What encodings stored for this embedder depend on (with the detector's name)."""
        # v2: dlib chips from dlib's 5-point predictor (issue 12), not 68 points.
        key = f"{self.network}-aligned-v2-{{detector}}-{self.chip_size}-{self.chip_padding}"
        if self.sface is not None:  # the scales are part of what is stored
            key += f"-{DLIB_UNIT}-{SFACE_UNIT}"
        return key

    def warm_up(self) -> None:
        """Run every network once, so that the first face seen is not kept waiting
        while TensorFlow builds them (most of a second)."""
        self.encodings_of_chips(np.zeros((1, self.chip_size, self.chip_size, 3), np.uint8))
        if self.sface is not None:
            self.sface.unit_features(np.zeros((1, sface.CHIP_SIZE, sface.CHIP_SIZE, 3), np.uint8))

    def chips_from_landmarks(self, image: np.ndarray, points: np.ndarray,
                             photo: bool = False) -> np.ndarray:
        """The first network's input chips (N, S, S, 3) RGB uint8 of the faces whose 68
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
            batch = batch / 255.0
        with self._lock:
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
            with self._lock:
                features = self.sface.unit_features(chips)
            encodings[rows, first_stop:] = features / np.float32(SFACE_UNIT)
        return encodings
