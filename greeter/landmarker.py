"""The landmark stage: a face box to its 68 landmarks, and whether it holds a face.

One object per program, holding the landmark network (greeter.landmarks) and
the framing the detector's boxes need; the networks share one lock with the
embedder (greeter.embed), because Keras layers called eagerly are not safe to
call from two threads at once.
"""

from __future__ import annotations

import threading

import numpy as np

from greeter import landmarks
from greeter.detect import Box, FaceDetector

# Landmarks that move more than this on a second look (landmarks.landmark_drift)
# were drawn into a box that holds no whole face.
MAX_LANDMARK_DRIFT = 0.2


class Landmarker:
    """Finds the 68 landmarks of face boxes given by ``detector``."""

    def __init__(self, detector: FaceDetector, lock: threading.Lock, model=None) -> None:
        self.model = model if model is not None else landmarks.load_landmark_model()
        self._scale, self._shift = detector.square_scale, detector.square_shift
        self._lock = lock

    def framing(self, detector: FaceDetector) -> Landmarker:
        """A Landmarker of the same network (and lock) for the boxes of ``detector``."""
        return Landmarker(detector, self._lock, self.model)

    def landmarks(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """Landmarks (N, 68, 2) float32 of ``boxes`` in a BGR image."""
        with self._lock:
            return landmarks.face_landmarks(self.model, image, boxes, self._scale, self._shift)

    def landmarks_and_drift(self, image: np.ndarray,
                            boxes: list[Box]) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks (N, 68, 2) of ``boxes`` and how far each set drifts on a second look
        (N,): over MAX_LANDMARK_DRIFT, the box holds no whole face."""
        with self._lock:
            points = landmarks.face_landmarks(self.model, image, boxes, self._scale,
                                              self._shift)
            return points, landmarks.landmark_drift(self.model, image, points)

    def look_again(self, image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks found again from the square ``points`` (N, 68, 2) frame, and their
        drift: a real face in a poor box is framed well by its first landmarks."""
        with self._lock:
            points = landmarks.look_again(self.model, image, points)
            return points, landmarks.landmark_drift(self.model, image, points)
