"""dlib's 5-point face landmark predictor, run in numpy.

face_recognition finds the two corners of each eye and the bottom of the nose
with dlib's ``shape_predictor`` (shape_predictor_5_face_landmarks.dat) and
cuts the descriptor's chip from those 5 points. The same predictor, converted
by tools/convert_shape_predictor.py into ``weights/shape_predictor_5.npz``,
runs here as dlib runs it (dlib/image_processing/shape_predictor.h):

1. Start from the mean shape, placed in the face box (box corners are the
   shape's (0, 0) and (1, 1)).
2. At each of the 15 cascade levels, read 800 grey pixels, each at a fixed
   offset from one landmark of the current shape (the offset turned and
   scaled with the shape), and let 500 regression trees of depth 4 each add
   a correction to the shape. A tree goes left where the difference of two
   of those pixels exceeds its threshold.
3. The shape, mapped back through the box, rounded to whole pixels.

Grey is dlib's: (R + G + B) // 3; a pixel outside the image reads 0.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from greeter import align
from greeter.paths import WEIGHTS_DIR
from greeter.weights import WeightsError, load_tensors

DEFAULT_WEIGHTS = os.path.join(WEIGHTS_DIR, "shape_predictor_5.npz")
NUM_POINTS = 5

# Where dlib's HOG detector puts its box (face_recognition's default, which
# the predictor was made for), in the units of dlib's 68-point face template
# (align.landmark_frame): centre (x, y), width, height. Medians over 265 photos
# where both face_recognition and facenet found a face (issue 12).
# tools/fit_hog_box.py refits them; over the 426 photos of the issue's
# benchmark it prints (0.4856, 0.4808, 1.2599, 1.2554), which measured a
# little worse (self-distance p95 0.096 against 0.092, LFW median 0.035
# against 0.032): a box a little larger than the median one suits the predictor.
HOG_BOX_IN_FACE = (0.4840, 0.4821, 1.2801, 1.2791)
# The HOG box is only known to within a few percent, and the predictor's points
# move a pixel now and then with the box. Where time allows (photos), the mean
# of the points from boxes shifted by these shares of the box comes closer to
# dlib's: self-distance median 0.042 -> 0.035 on 133 photos (issue 12).
PHOTO_BOX_SHIFTS = ((0.0, 0.0), (0.04, 0.0), (-0.04, 0.0), (0.0, 0.04), (0.0, -0.04))


@dataclass(frozen=True)
class ShapePredictor:
    """The predictor's arrays (see tools/convert_shape_predictor.py)."""

    initial_shape: np.ndarray    # (5, 2) float32, in box units
    # Per level, the trees' splits one tree after another (tree * splits + node):
    split_first: np.ndarray      # (levels, trees * splits) intp: the pixels compared,
    split_second: np.ndarray     # (levels, trees * splits) intp  first minus second,
    split_threshold: np.ndarray  # (levels, trees * splits) float32  against this
    leaf_values: np.ndarray      # (levels, trees * leaves, 10) float32: shape corrections
    pixel_anchor: np.ndarray     # (levels, pixels) intp: the landmark each pixel follows
    pixel_delta: np.ndarray      # (levels, pixels, 2) float32: its offset from it, box units
    trees: int
    splits: int                  # per tree; leaves = splits + 1
    # The leaf a tree ends in, by which of its splits go left (bit n: split n).
    leaf_of_splits: np.ndarray   # (2 ** splits,) intp


def load_shape_predictor(path: str = DEFAULT_WEIGHTS) -> ShapePredictor:
    """The predictor in ``path``; raises WeightsError naming the file when it is wrong."""
    arrays = load_tensors(path)
    try:
        levels, trees, splits = arrays["split_threshold"].shape
        leaf_values = arrays["leaf_values"]
        anchor, delta = arrays["pixel_anchor"], arrays["pixel_delta"]
        if (leaf_values.shape != (levels, trees, splits + 1, NUM_POINTS, 2)
                or delta.shape != (*anchor.shape, 2) or len(anchor) != levels):
            raise ValueError("arrays of the wrong shapes")
        return ShapePredictor(
            initial_shape=arrays["initial_shape"].reshape(NUM_POINTS, 2),
            split_first=arrays["split_pixel_1"].reshape(levels, -1).astype(np.intp),
            split_second=arrays["split_pixel_2"].reshape(levels, -1).astype(np.intp),
            split_threshold=arrays["split_threshold"].reshape(levels, -1),
            leaf_values=leaf_values.reshape(levels, trees * (splits + 1), NUM_POINTS * 2),
            pixel_anchor=anchor.astype(np.intp), pixel_delta=delta,
            trees=trees, splits=splits, leaf_of_splits=_leaf_table(splits))
    except (KeyError, ValueError) as error:
        raise WeightsError(f"weight file {path} is not a 5-point shape predictor ({error}); "
                           "restore it from the repository (git checkout -- weights/)") from None


def hog_like_box(landmarks68: np.ndarray, shift: tuple[float, float] = (0.0, 0.0)
                 ) -> tuple[float, float, float, float]:
    """The box (left, top, right, bottom) dlib's HOG detector would most likely
    give the face with these 68 landmarks (x, y): the predictor's start.
    ``shift`` moves it by that share of its width and height."""
    a, t = align.landmark_frame(landmarks68)
    size = np.hypot(*a[:, 0]) * np.array(HOG_BOX_IN_FACE[2:])
    centre = a @ np.array(HOG_BOX_IN_FACE[:2]) + t + np.array(shift) * size
    left, top = centre - size / 2
    right, bottom = centre + size / 2
    return float(left), float(top), float(right), float(bottom)


def landmarks_from_68(predictor: ShapePredictor, image_bgr: np.ndarray,
                      landmarks68: np.ndarray,
                      shifts: tuple[tuple[float, float], ...] = ((0.0, 0.0),)) -> np.ndarray:
    """The 5 landmarks (5, 2) of the face with these 68 landmarks: the mean of the
    predictor's points from the HOG-like box shifted by each of ``shifts``."""
    return np.mean([face_shape(predictor, image_bgr, hog_like_box(landmarks68, shift))
                    for shift in shifts], axis=0)


# dlib's 5 points as points of the 68-point scheme: outer and inner corner of
# the eye on the image's right, the same of the other eye, the nose's bottom.
SAME_POINTS_68 = (45, 42, 36, 39, 33)


def landmark_disagreement(predictor: ShapePredictor, image_bgr: np.ndarray,
                          landmarks68: np.ndarray) -> float:
    """How far dlib's 5 points, found from the HOG-like box of these 68 landmarks,
    lie from the same points among the 68: their mean distance, in outer-eye-corner
    distances.

    Two unrelated models agree on a real face (measured over 282 photo faces:
    median 0.028, 99th percentile 0.10) and not on a square holding no whole
    face, into which each draws a face of its own (0.12 to 0.26).
    """
    points = np.asarray(landmarks68, np.float64)
    five = landmarks_from_68(predictor, image_bgr, points)
    eye_distance = max(float(np.linalg.norm(points[36] - points[45])), 1e-6)
    return float(np.linalg.norm(five - points[list(SAME_POINTS_68)], axis=1).mean()
                 / eye_distance)


def _leaf_table(splits: int) -> np.ndarray:
    """The leaf (0..splits) a complete tree of ``splits`` splits ends in, for each
    pattern of split outcomes (bit n set: split n goes left); dlib's walk from the
    root, node n's children being 2n + 1 (left) and 2n + 2."""
    if splits > 20:
        raise ValueError(f"trees of {splits} splits; at most 20 (depth 4 here)")
    patterns = np.arange(2 ** splits)
    node = np.zeros_like(patterns)
    while node[0] < splits:
        node = 2 * node + 2 - ((patterns >> node) & 1)
    return (node - splits).astype(np.intp)


def _grey_at(image_bgr: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """dlib's grey, (R + G + B) // 3, at integer pixels; 0 outside the image."""
    rows, cols = image_bgr.shape[:2]
    inside = (xs >= 0) & (ys >= 0) & (xs < cols) & (ys < rows)
    index = np.where(inside, ys * cols + xs, 0)
    if image_bgr.ndim == 2:
        grey = image_bgr.reshape(-1)[index].astype(np.int32)
    else:
        channels = image_bgr.shape[2]
        pixels = np.take(image_bgr.reshape(-1, channels), index, axis=0)[:, :3]
        grey = pixels.sum(1, dtype=np.int32) // 3
    return np.where(inside, grey, 0).astype(np.float32)


def _similarity_basis(initial_shape: np.ndarray) -> np.ndarray:
    """(10, 2) K such that ``shape.ravel() @ K`` is (cos, sin) of the scaled
    rotation of the least-squares similarity transform from ``initial_shape``
    to ``shape`` (dlib's find_similarity_transform between the two, whose
    reflection case cannot arise between two face shapes). The target needs no
    centring: the centred source sums to zero."""
    source = initial_shape.astype(np.float64) - initial_shape.astype(np.float64).mean(0)
    source = source / (source ** 2).sum()
    perpendicular = np.stack([-source[:, 1], source[:, 0]], 1)
    return np.stack([source.ravel(), perpendicular.ravel()], 1)


def face_shape(predictor: ShapePredictor, image_bgr: np.ndarray,
               box: tuple[float, float, float, float]) -> np.ndarray:
    """The 5 landmarks (5, 2) float64, whole image pixels, of the face in ``box``.

    ``box`` is dlib's rectangle (left, top, right, bottom), right and bottom
    inclusive, as face_recognition's (top, right, bottom, left) gives it.
    Points: 0, 1 the outer and inner corner of the eye on the image's left,
    2, 3 those of the other eye, 4 the bottom of the nose.
    """
    left, top, right, bottom = (float(v) for v in box)
    origin = np.array([left, top])
    span = np.array([right - left, bottom - top])
    trees, splits = predictor.trees, predictor.splits
    tree_leaves = np.arange(trees) * (splits + 1)  # each tree's first leaf in a level's rows
    bit_values = 1 << np.arange(splits)
    basis = _similarity_basis(predictor.initial_shape)
    shape = predictor.initial_shape.copy()
    for level in range(len(predictor.pixel_anchor)):
        cos, sin = shape.astype(np.float64).ravel() @ basis
        rotation = np.array([[cos, -sin], [sin, cos]], np.float32)
        offsets = predictor.pixel_delta[level] @ rotation.T + shape[predictor.pixel_anchor[level]]
        points = np.floor(origin + offsets.astype(np.float64) * span + 0.5).astype(np.intp)
        grey = _grey_at(image_bgr, points[:, 0], points[:, 1])
        # Every split of every tree at once; each tree's pattern of outcomes
        # names its leaf (cheaper than walking 500 trees a level at a time).
        go_left = (grey[predictor.split_first[level]] - grey[predictor.split_second[level]]
                   > predictor.split_threshold[level])
        patterns = go_left.reshape(trees, splits) @ bit_values
        leaves = tree_leaves + predictor.leaf_of_splits[patterns]
        corrections = np.take(predictor.leaf_values[level], leaves, axis=0)
        # dlib adds the trees' corrections one by one, in float: so does this sum.
        shape = np.concatenate([shape.reshape(1, -1), corrections]).sum(0).reshape(-1, 2)
    return np.floor(origin + shape.astype(np.float64) * span + 0.5)
