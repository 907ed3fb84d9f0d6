"""68 facial landmarks: face-api.js's FaceLandmark68Net, ported to Keras.

The network (Vincent Mühler's face-api.js, MIT; weights from the npm package
@vladmandic/face-api, see ``weights/face_landmark_68.source.json``) takes a
112x112 RGB square holding a face and returns 68 (x, y) points relative to
that square, in the point order of dlib's 68-point predictor (iBUG 300-W).

Layers (names as face-api's tensors, ``/`` written ``_``)::

    normalize                      (x - mean RGB) / 255
    dense0 .. dense3               dense blocks, each halving the resolution:
      denseN_conv0                 3x3 conv (dense0) or separable conv, stride 2
      denseN_conv1 .. _conv3       separable 3x3 convs; each one's input is the
                                   ReLU of the sum of all earlier outputs
    avg_pool                       7x7 average pool, stride 2, valid -> 1x1x256
    fc                             256 -> 136 (x0, y0, x1, y1, ...)

``face_landmarks`` crops each face box to a square (enlarged: Haar cascade
boxes are tighter than the SSD boxes face-api was tuned on), runs all faces
of the image in one call and maps the points back to image pixels.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence

import cv2
import keras
import numpy as np
import tensorflow as tf

from greeter.paths import WEIGHTS_DIR
from greeter.photos import as_bgr
from greeter.weights import WeightsError, load_tensors, take_tensor

DEFAULT_WEIGHTS = os.path.join(WEIGHTS_DIR, "face_landmark_68.npz")

INPUT_SIZE = 112
NUM_POINTS = 68
MEAN_RGB = (122.782, 117.001, 104.298)  # face-api's FaceFeatureExtractor
BLOCK_CHANNELS = (32, 64, 128, 256)

# How a face box (x, y, w, h) becomes the square the network sees, by
# default: side BOX_SCALE * w, centred BOX_SHIFT * w below the box's centre.
# Each detector says its own (greeter.detect), since boxes differ in how much
# forehead and chin they hold; face-api's SSD boxes, which the network was
# made for, reach below the chin. A second pass, on a square around the first
# pass's points, took the mean error against dlib's 68 points from 0.048 to
# 0.044 but made the worst faces worse (0.14 -> 0.19), for twice the cost.
BOX_SCALE = 1.0
BOX_SHIFT = 0.0


# ---------------------------------------------------------------------------
# The network


def _dense_block(x, prefix: str, channels: int, first: bool):
    if first:
        out1 = keras.layers.Conv2D(channels, 3, strides=2, padding="same",
                                   name=f"{prefix}_conv0")(x)
    else:
        out1 = keras.layers.SeparableConv2D(channels, 3, strides=2, padding="same",
                                            name=f"{prefix}_conv0")(x)
    out1 = keras.layers.ReLU(name=f"{prefix}_conv0_relu")(out1)
    # face-api: in3 = relu(out1 + out2), in4 = relu(out1 + (out2 + out3)),
    # out = relu(out1 + (out2 + (out3 + out4))); the sums nest the same way here.
    out2 = _separable(out1, f"{prefix}_conv1", channels)
    in3 = keras.layers.ReLU(name=f"{prefix}_in3")(
        keras.layers.Add(name=f"{prefix}_in3_sum")([out1, out2]))
    out3 = _separable(in3, f"{prefix}_conv2", channels)
    sum23 = keras.layers.Add(name=f"{prefix}_sum23")([out2, out3])
    in4 = keras.layers.ReLU(name=f"{prefix}_in4")(
        keras.layers.Add(name=f"{prefix}_in4_sum")([out1, sum23]))
    out4 = _separable(in4, f"{prefix}_conv3", channels)
    sum34 = keras.layers.Add(name=f"{prefix}_sum34")([out3, out4])
    sum234 = keras.layers.Add(name=f"{prefix}_sum234")([out2, sum34])
    return keras.layers.ReLU(name=f"{prefix}_out")(
        keras.layers.Add(name=f"{prefix}_out_sum")([out1, sum234]))


def _separable(x, name: str, channels: int):
    return keras.layers.SeparableConv2D(channels, 3, strides=1, padding="same", name=name)(x)


def landmark_model() -> keras.Model:
    """The untrained network: (None, 112, 112, 3) float32 RGB 0..255 -> (None, 136).

    Outputs are x0, y0, x1, y1, ... relative to the input square (0..1).
    """
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), dtype="float32", name="image")
    x = keras.layers.Normalization(mean=list(MEAN_RGB), variance=[255.0 ** 2] * 3,
                                   name="normalize")(inputs)
    for index, channels in enumerate(BLOCK_CHANNELS):
        x = _dense_block(x, f"dense{index}", channels, first=index == 0)
    x = keras.layers.AveragePooling2D(7, strides=2, padding="valid", name="avg_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(2 * NUM_POINTS, name="fc")(x)
    return keras.Model(inputs, outputs, name="face_landmark_68")


def _weight_specs() -> list[tuple[str, list[tuple[str, tuple[int, ...]]]]]:
    """Each weighted layer with its face-api tensor names and shapes, in Keras's order."""
    specs = [("dense0_conv0", [("dense0/conv0/filters", (3, 3, 3, BLOCK_CHANNELS[0])),
                               ("dense0/conv0/bias", (BLOCK_CHANNELS[0],))])]
    channels_in = BLOCK_CHANNELS[0]
    for index, channels in enumerate(BLOCK_CHANNELS):
        for conv in range(4):
            if index == 0 and conv == 0:
                continue
            name = f"dense{index}/conv{conv}"
            c_in = channels_in if conv == 0 else channels
            specs.append((name.replace("/", "_"), [
                (f"{name}/depthwise_filter", (3, 3, c_in, 1)),
                (f"{name}/pointwise_filter", (1, 1, c_in, channels)),
                (f"{name}/bias", (channels,))]))
        channels_in = channels
    specs.append(("fc", [("fc/weights", (BLOCK_CHANNELS[-1], 2 * NUM_POINTS)),
                         ("fc/bias", (2 * NUM_POINTS,))]))
    return specs


def load_landmark_model(path: str = DEFAULT_WEIGHTS) -> keras.Model:
    """The network with face-api's weights from ``path`` (written by
    tools/convert_landmark_weights.py).

    Raises WeightsError naming the file when it is missing, corrupt or holds
    tensors that do not fit the network.
    """
    tensors = load_tensors(path)
    model = landmark_model()
    used = set()
    for layer_name, names in _weight_specs():
        values = [take_tensor(tensors, name, shape, path) for name, shape in names]
        used.update(name for name, _ in names)
        model.get_layer(layer_name).set_weights(values)
    extra = sorted(set(tensors) - used)
    if extra:
        raise WeightsError(f"weight file {path} has tensors the landmark network does not "
                           f"use ({', '.join(extra[:3])}...); is it for another network?")
    for tensor in model.weights:
        if not np.all(np.isfinite(tensor.numpy())):
            raise WeightsError(f"weight file {path}: {tensor.path} holds NaN or infinity; "
                               "the file is corrupt")
    return model


_FORWARD: "weakref.WeakKeyDictionary[keras.Model, object]" = weakref.WeakKeyDictionary()


def _forward(model: keras.Model, batch: np.ndarray) -> np.ndarray:
    """``model(batch, training=False)`` through one traced graph per model.

    A fixed signature with a free batch size: one trace whatever the number
    of faces, and none of predict()'s fixed per-call cost.
    """
    function = _FORWARD.get(model)
    if function is None:
        signature = tf.TensorSpec((None, INPUT_SIZE, INPUT_SIZE, 3), tf.float32)
        weak_model = weakref.ref(model)  # the cache must not keep the model alive
        function = tf.function(lambda images: weak_model()(images, training=False),
                               input_signature=[signature], autograph=False)
        _FORWARD[model] = function
    return function(tf.constant(batch)).numpy()


# ---------------------------------------------------------------------------
# Faces in an image


def _square_crop(image: np.ndarray, left: float, top: float, side: float) -> np.ndarray:
    """The square (left, top, side) of a 3-channel image resized to the
    network's input, black outside the image.

    As face-api's tf.image.resizeBilinear (no corner alignment, no half-pixel
    centres): output pixel j samples input pixel left + j * side / 112. That
    beat area averaging and half-pixel bilinear against dlib's points.
    """
    scale = side / INPUT_SIZE
    matrix = np.array([[scale, 0.0, left], [0.0, scale, top]])
    return cv2.warpAffine(image, matrix, (INPUT_SIZE, INPUT_SIZE),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def _squares_from_boxes(boxes: np.ndarray, scale: float, shift: float) -> np.ndarray:
    """(N, 3) left, top, side of the squares for boxes (N, 4) x, y, w, h."""
    size = np.maximum(boxes[:, 2], boxes[:, 3])
    side = np.maximum(size * scale, 8.0)
    cx = boxes[:, 0] + boxes[:, 2] / 2.0
    cy = boxes[:, 1] + boxes[:, 3] / 2.0 + shift * size
    return np.stack([cx - side / 2, cy - side / 2, side], 1)


def _run(model: keras.Model, image_bgr: np.ndarray, squares: np.ndarray) -> np.ndarray:
    """Points (N, 68, 2) in image pixels for squares (N, 3): left, top, side."""
    image_bgr = as_bgr(image_bgr)
    batch = np.stack([_square_crop(image_bgr, *square) for square in squares])
    batch = batch[..., ::-1].astype(np.float32)  # BGR -> RGB, on the small crops only
    relative = _forward(model, batch).reshape(-1, NUM_POINTS, 2)
    return (relative * squares[:, None, 2:3] + squares[:, None, :2]).astype(np.float32)


def face_landmarks(model: keras.Model, image_bgr: np.ndarray,
                   boxes: Sequence[tuple[int, int, int, int]],
                   box_scale: float = BOX_SCALE, box_shift: float = BOX_SHIFT) -> np.ndarray:
    """(N, 68, 2) float32 (x, y) in ``image_bgr``'s pixels, one row per box.

    ``image_bgr`` is a BGR (or greyscale, or BGRA) uint8 image; ``boxes`` are
    ``(x, y, w, h)`` face boxes from a detector, which may reach outside the
    image: each is widened to a square of ``box_scale`` times its larger
    side, moved down by ``box_shift`` times that side (the detector's
    ``square_scale`` and ``square_shift``), and what falls outside the image
    is black. All faces go through the network in one call.
    """
    if len(boxes) == 0:
        return np.zeros((0, NUM_POINTS, 2), np.float32)
    box_array = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return _run(model, image_bgr, _squares_from_boxes(box_array, box_scale, box_shift))


# A square this many times the landmarks' extent frames a face the way the
# network saw it in a good box (measured on ../shared/faces).
REFIND_SCALE = 1.1


def look_again(model: keras.Model, image_bgr: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Landmarks (N, 68, 2) found again in a square around each set of ``points``
    (N, 68, 2): REFIND_SCALE times their extent, centred on them."""
    low, high = points.min(axis=1), points.max(axis=1)
    side = (high - low).max(axis=1) * REFIND_SCALE
    centre = (low + high) / 2
    return _run(model, image_bgr, np.column_stack([centre - side[:, None] / 2, side]))


def landmark_drift(model: keras.Model, image_bgr: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N,) how far landmarks (N, 68, 2) move when found again in a square around
    themselves (:func:`look_again`): the mean point movement, in outer-eye-corner
    distances.

    The network draws a face into whatever square it is given, so a box on a
    part of a face or on no face yields a plausible-looking but wrong face
    whose points move far on a second look. Measured on ../shared/faces: at
    most 0.09 for every real face box, at least 0.25 for every wrong one.
    """
    if len(points) == 0:
        return np.zeros(0, np.float32)
    again = look_again(model, image_bgr, points)
    eye_distance = np.linalg.norm(points[:, 36] - points[:, 45], axis=1)
    movement = np.linalg.norm(again - points, axis=2).mean(axis=1)
    return (movement / np.maximum(eye_distance, 1e-6)).astype(np.float32)
