"""Faces to encodings: the stages in one object, loaded once (common.load_models).

face_recognition's api.py has one function per stage (``face_locations`` ->
``face_landmarks`` -> ``face_encodings``); here each stage is an object of
its own, because each holds a network: the detector (greeter.detect), the
landmarker (greeter.landmarker), the embedder (greeter.embed: the networks
and what they encode), and the photo-face finder (greeter.photo_faces: which
face of a photo is the person's). FaceEncoder holds the four and offers
what the photo library, the recogniser and the commands ask of them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from greeter.detect import DEFAULT_DETECTOR, PHOTO_DETECTOR, Box, FaceDetector, load_face_detector
from greeter.embed import Embedder
from greeter.landmarker import MAX_LANDMARK_DRIFT, Landmarker
from greeter.models import DEFAULT_NETWORK
from greeter.photo_faces import PhotoFaceFinder
from greeter.photos import PhotoError, read_photo


@dataclass(frozen=True)
class EncodedPhoto:
    """A photo's encoding (None when it has no usable face) and what to tell the user
    about it (why it was skipped, or how its face was found), without the path."""

    path: str
    encoding: np.ndarray | None
    note: str = ""


class FaceEncoder:
    """The detector, landmarker, embedder and photo-face finder of one ``--model`` and
    ``--detector``; load once, use for every photo and frame."""

    def __init__(self, network: str = DEFAULT_NETWORK, weights_dir: str | None = None,
                 detector: str = DEFAULT_DETECTOR) -> None:
        """Load the face detector called ``detector``, the landmark network and
        ``network``'s weights (greeter.models.NETWORKS); ``weights_dir`` holds the
        OpenFace CSV export for ``network="openface"``. Raises WeightsError or
        DetectorError naming the file that is wrong."""
        # Keras layers called eagerly are not safe to call from two threads at
        # once; the networks take turns (they use every core anyway).
        lock = threading.Lock()
        self.detector: FaceDetector = load_face_detector(detector)
        self.landmarker = Landmarker(self.detector, lock)
        self.embedder = Embedder(network, weights_dir, lock)
        # The photos of images/ are found with PHOTO_DETECTOR whatever finds the
        # faces of frames: they are encoded once, so its cost does not matter.
        self.photo_detector: FaceDetector = (self.detector if detector == PHOTO_DETECTOR
                                             else load_face_detector(PHOTO_DETECTOR))
        self.photo_faces = PhotoFaceFinder(self.photo_detector,
                                           self.landmarker.framing(self.photo_detector),
                                           self.embedder.shape_predictor)
        self.network, self.parts, self.width = network, self.embedder.parts, self.embedder.width
        self.threshold = self.embedder.threshold  # the network's own; see RecognitionSettings
        self.first_part_share = self.embedder.first_part_share
        self.sface = self.embedder.sface
        self.cache_key = self.embedder.cache_key.format(detector=PHOTO_DETECTOR)

    def warm_up(self) -> None:
        """Run every network once, so that the first face seen is not kept waiting
        while TensorFlow builds them (most of a second)."""
        blank = np.full((360, 640, 3), 128, np.uint8)
        self.detector.face_locations(blank)
        self.checked_face_encodings(blank, [(270, 130, 100, 100)])
        self.embedder.warm_up()

    def face_encodings(self, image: np.ndarray, boxes: list[Box],
                       photo: bool = False) -> np.ndarray:
        """Encodings (N, width) float32 of the faces at ``boxes`` in a BGR image, in one
        call (chips cut as for a photo with ``photo``: Embedder.chips_from_landmarks)."""
        if not boxes:
            return np.zeros((0, self.width), np.float32)
        return self.embedder.encodings_from_landmarks(
            image, self.landmarker.landmarks(image, boxes), photo)

    def checked_face_encodings(self, image: np.ndarray, boxes: list[Box],
                               second: bool | np.ndarray = True
                               ) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`face_encodings`, and (N,) bool: whether each box holds a whole face.

        The detector also fires on patterns that are no face (a shirt button, a
        badge), which could otherwise be taken for someone; their landmarks
        drift (see MAX_LANDMARK_DRIFT) and their rows are NaN. ``second`` (one
        bool, or one per box): which faces also get the second network
        (Embedder.encodings_from_landmarks).
        """
        encodings = np.full((len(boxes), self.width), np.nan, np.float32)
        if not boxes:
            return encodings, np.ones(0, bool)
        points, drift = self.landmarker.landmarks_and_drift(image, boxes)
        is_face = drift <= MAX_LANDMARK_DRIFT
        if is_face.any():
            wanted = np.broadcast_to(second, (len(boxes),))[is_face]
            encodings[is_face] = self.embedder.encodings_from_landmarks(
                image, points[is_face], second=wanted)
        return encodings, is_face

    def photo_face(self, image: np.ndarray) -> tuple[Box | None, np.ndarray | None, str]:
        """PhotoFaceFinder.photo_face: the face box of a photo, its landmarks, a note."""
        return self.photo_faces.photo_face(image)

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
        return EncodedPhoto(path, self.embedder.encodings_from_landmarks(
            image, points, photo=True)[0], note)
