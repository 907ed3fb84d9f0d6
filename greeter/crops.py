"""Judging and cutting photos of faces: how sharp, how good, and a square crop around one.

Shared by ``enroll`` (which waits for a sharp face) and the visitors (which
keep the best photo of each visit).
"""

from __future__ import annotations

import cv2
import numpy as np

from greeter.detect import Box

# Sharp faces measure 130 to 330 at this size, the same faces blurred by
# half a percent of the frame (a moving head) 5 to 30.
SHARPNESS_SIZE = 128
# The crop is a square this many face widths wide: hair, chin and some
# background, so the detector finds the face again in the saved photo.
CROP_FACE_WIDTHS = 2.2
# crop_quality: a face this wide, or this sharp, scores full marks on that count.
FULL_SIZE_PIXELS = 200
FULL_SHARPNESS = 200.0
FRONTAL_SIZE = 64


def sharpness(image: np.ndarray, box: Box) -> float:
    """The variance of the Laplacian of the face at ``box``, scaled to SHARPNESS_SIZE square."""
    x, y, w, h = box
    face = image[max(y, 0):y + h, max(x, 0):x + w]
    gray = face if face.ndim == 2 else cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    gray = cv2.resize(gray, (SHARPNESS_SIZE, SHARPNESS_SIZE), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def crop_around(image: np.ndarray, box: Box, widths: float = CROP_FACE_WIDTHS) -> np.ndarray:
    """A square crop of ``image`` centred on the face at ``box``, ``widths`` face widths
    on a side (shifted, then cut, where the frame's edge is nearer)."""
    x, y, w, h = box
    side = int(round(max(w, h) * widths))
    height, width = image.shape[:2]
    side = min(side, width, height)
    left = min(max(x + w // 2 - side // 2, 0), width - side)
    top = min(max(y + h // 2 - side // 2, 0), height - side)
    return image[top:top + side, left:left + side].copy()


def frontality(image: np.ndarray, box: Box) -> float:
    """How frontal the face at ``box`` is, -1..1: the correlation of the face with its
    mirror image (a turned head is less symmetric); 0 for an empty or flat face."""
    x, y, w, h = box
    face = image[max(y, 0):y + h, max(x, 0):x + w]
    if face.size == 0:
        return 0.0
    grey = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY) if face.ndim == 3 else face
    grey = cv2.resize(grey, (FRONTAL_SIZE, FRONTAL_SIZE), interpolation=cv2.INTER_AREA)
    grey = grey.astype(np.float32).ravel()
    mirrored = grey.reshape(FRONTAL_SIZE, FRONTAL_SIZE)[:, ::-1].ravel()
    return float(np.corrcoef(grey, mirrored)[0, 1]) if grey.std() > 0 else 0.0


def crop_quality(image: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """How good a photo of the face at ``box`` in ``image`` is, 0..1: the product of
    its size (width over FULL_SIZE_PIXELS), its sharpness (over FULL_SHARPNESS), each
    at most 1, and how frontal it is (:func:`frontality`)."""
    x, y, w, h = box
    if image[max(y, 0):y + h, max(x, 0):x + w].size == 0:
        return 0.0
    size = min(w / FULL_SIZE_PIXELS, 1.0)
    sharp = min(sharpness(image, box) / FULL_SHARPNESS, 1.0)
    return size * sharp * max(frontality(image, box), 0.0)


def head_turn(points: np.ndarray) -> float:
    """How far a face is turned sideways, from its 68 landmarks (68, 2): the nose tip's
    offset along the line between the eye centres from their midpoint, in eye
    distances (0 frontal; the sign says which way). Measured on the IMM face
    database: at most 0.05 for 95% of frontal photos (side light included),
    0.19 to 0.48 for heads turned about 30 degrees."""
    left, right = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    axis = right - left
    eye_distance = max(float(np.linalg.norm(axis)), 1e-6)
    return float(np.dot(points[30] - (left + right) / 2, axis) / eye_distance ** 2)
