"""The photo-face stage: which face in a photo of images/ is the person's.

A photo is not a frame: it may be a group photo (the largest clear face is
the person's), a tight face crop in which the detector finds no face (the
whole photo is then the face, if its landmarks say so), or a whole person
with the face small in it, held still.
"""

from __future__ import annotations

import numpy as np

from greeter import shape5
from greeter.detect import Box, FaceDetector, photo_min_face
from greeter.landmarker import MAX_LANDMARK_DRIFT, Landmarker

# A photo may itself be a tight face crop, in which the cascade finds no face
# or only part of one: then the whole photo is a candidate face box too, if it
# is roughly face-shaped.
FACE_SHAPED_ASPECT = (0.6, 1.6)
# How many of a photo's largest boxes are looked at for a clear face (a
# group photo's smaller faces are not who the photo is of).
PHOTO_BOXES = 5
# In a photo, dlib's 5 points must also agree with the 68 landmarks to this
# (shape5.landmark_disagreement): a face-shaped photo of a whole person, with
# the face small in it, held still as "the face" (issue 12).
MAX_LANDMARK_DISAGREEMENT = 0.12


class PhotoFaceFinder:
    """Finds the face to encode in a photo, with the detector and landmarker given;
    ``shape_predictor`` (dlib's 5 points, for dlib's network) must agree too."""

    def __init__(self, detector: FaceDetector, landmarker: Landmarker,
                 shape_predictor=None) -> None:
        self.detector, self.landmarker = detector, landmarker
        self.shape_predictor = shape_predictor

    def photo_face(self, image: np.ndarray) -> tuple[Box | None, np.ndarray | None, str]:
        """The face box to encode in a BGR photo, its landmarks (1, 68, 2), and a note
        for the user (or why there is no face: box and landmarks None).

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
        found = self._steady_face(image, candidates)
        if found is None:
            return None, None, "no clear face found"
        box, points = candidates[found[0]], found[1]
        if box == whole and box not in boxes:
            return box, points, "no face detected; took the whole image as the face"
        if len(boxes) > 1:
            which = "the largest" if box == boxes[0] else "the largest clear one"
            return box, points, f"{len(boxes)} faces found; used {which}"
        return box, points, ""

    def _steady_face(self, image: np.ndarray,
                     candidates: list[Box]) -> tuple[int, np.ndarray] | None:
        """The first candidate box whose landmarks hold still and its landmarks
        (1, 68, 2); None when the landmarks of every candidate drift, even on a
        second look, or (dlib's network) disagree with dlib's 5 points."""
        points, drift = self.landmarker.landmarks_and_drift(image, candidates)
        if drift.min() > MAX_LANDMARK_DRIFT:
            # A real face in a poor box (off-centre, cut off) is framed well by
            # its first landmarks, and its landmarks hold still from the second
            # look on; a box on no face keeps drifting (issue 12: a photo that
            # face_recognition encodes was refused).
            points, drift = self.landmarker.look_again(image, points)
        steady = drift <= MAX_LANDMARK_DRIFT
        if self.shape_predictor is not None:
            steady &= [bool(still) and shape5.landmark_disagreement(
                self.shape_predictor, image, face) <= MAX_LANDMARK_DISAGREEMENT
                for still, face in zip(steady, points)]
        if not steady.any():
            return None
        best = int(np.argmax(steady))
        return best, points[best:best + 1]
