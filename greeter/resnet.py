"""dlib's ResNet face descriptor (dlib_face_recognition_resnet_model_v1) in Keras.

The default face encoder: a 150x150 RGB face chip in, a 128-d descriptor out,
the same network as ``dlib.face_recognition_model_v1`` and face-api.js's
FaceRecognitionNet. Two descriptors of one person lie within about 0.6 of each
other (Euclidean), the radius the network was trained for.

The layout follows face-api.js (src/faceRecognitionNet), layer names follow
face-api's tensor names with ``/`` made ``_`` and the ``conv``/``scale`` level
dropped from the convolution's name::

    conv32_1/conv1/conv/filters, conv32_1/conv1/conv/bias  -> layer conv32_1_conv1
    conv32_1/conv1/scale/weights, conv32_1/conv1/scale/biases -> layer conv32_1_conv1_scale
    fc                                                        -> layer fc

Usage::

    model = load_dlib_resnet()
    descriptors = model.predict_on_batch(chips)   # chips: (n, 150, 150, 3) RGB 0..255
"""

from __future__ import annotations

import os

import keras
import numpy as np

from greeter.weights import WeightsError, load_tensors, take_tensor

INPUT_SIZE = 150
"""Side of the square RGB face chip the network takes (dlib.get_face_chip size=150)."""

DESCRIPTOR_SIZE = 128

DEFAULT_WEIGHTS = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "weights", "dlib_resnet.npz"))
"""Absolute path of the shipped weights (tools/convert_recognition_weights.py writes it)."""

# dlib's input_rgb_image subtracts this per-channel mean (RGB), then divides by
# 256 (face-api divides by 255). With dlib's own float weights, 256 gives dlib's
# descriptors to within float16's 0.002; 255 would add about 0.001.
MEAN_RGB = (122.782, 117.001, 104.298)
INPUT_DIVISOR = 256.0

# (block name, filters, downsamples) in forward order, as in FaceRecognitionNet.ts.
# conv256_down_out also halves the grid although face-api's flat-array loader
# does not mark it "down": it already has 256 input channels.
RESIDUAL_BLOCKS = (
    ("conv32_1", 32, False), ("conv32_2", 32, False), ("conv32_3", 32, False),
    ("conv64_down", 64, True), ("conv64_1", 64, False), ("conv64_2", 64, False),
    ("conv64_3", 64, False),
    ("conv128_down", 128, True), ("conv128_1", 128, False), ("conv128_2", 128, False),
    ("conv256_down", 256, True), ("conv256_1", 256, False), ("conv256_2", 256, False),
    ("conv256_down_out", 256, True),
)


@keras.saving.register_keras_serializable(package="greeter")
class ChannelScale(keras.layers.Layer):
    """``x * weights + biases`` per channel: dlib's affine layer (its batch norm at
    inference), face-api's scaleLayer. Returns a tensor shaped like ``x``."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        channels = input_shape[-1]
        # Variable names are face-api's, so the mapping to the file is obvious.
        self.factor = self.add_weight(name="weights", shape=(channels,),
                                      initializer="ones", trainable=True)
        self.shift = self.add_weight(name="biases", shape=(channels,),
                                     initializer="zeros", trainable=True)

    def call(self, inputs):
        return inputs * self.factor + self.shift

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        # Saves Keras tracing call() for every instance while the model is built.
        return input_shape


@keras.saving.register_keras_serializable(package="greeter")
class ZeroPadChannels(keras.layers.Layer):
    """Appends zero channels up to ``channels``; returns (..., channels).

    The shortcut of a downsampling block has fewer channels than the block's
    output; dlib's add_prev (and face-api's residualDown) add the two as if the
    smaller were zero-padded, so the new channels pass the main branch through.
    """

    def __init__(self, channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.channels = channels

    def call(self, inputs):
        missing = self.channels - inputs.shape[-1]
        return keras.ops.pad(inputs, [[0, 0]] * (len(inputs.shape) - 1) + [[0, missing]])

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "channels": self.channels}


def _conv_scale(x, name: str, filters: int, kernel: int, strides: int, padding: str,
                relu: bool):
    """face-api's convLayer: conv (with bias), per-channel scale, optional relu."""
    # Zeros, not Glorot: every kernel is overwritten by the file, and drawing
    # millions of random numbers took a sixth of the load time.
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding,
                            kernel_initializer="zeros", name=name)(x)
    x = ChannelScale(name=f"{name}_scale")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _residual(x, name: str, filters: int):
    """Two 3x3 'same' convs and an identity shortcut, relu after the sum."""
    out = _conv_scale(x, f"{name}_conv1", filters, 3, 1, "same", relu=True)
    out = _conv_scale(out, f"{name}_conv2", filters, 3, 1, "same", relu=False)
    out = keras.layers.Add(name=f"{name}_add")([out, x])
    return keras.layers.ReLU(name=f"{name}_relu")(out)


def _residual_down(x, name: str, filters: int):
    """face-api's residualDown, i.e. dlib's ares_down.

    dlib gives stride-2 convs and pools no padding ('valid'). On an even grid
    the 3x3/2 conv then yields one row and column fewer than the 2x2/2 average
    pool of the shortcut (8 -> 3 vs 4, 4 -> 1 vs 2); dlib adds tensors of
    different sizes as if both were zero-padded at the bottom/right, so the
    main branch is padded there (top/left instead gives cosine 0.91 against
    dlib), and the shortcut gets extra zero channels up to ``filters``.
    """
    out = _conv_scale(x, f"{name}_conv1", filters, 3, 2, "valid", relu=True)
    out = _conv_scale(out, f"{name}_conv2", filters, 3, 1, "same", relu=False)
    shortcut = keras.layers.AveragePooling2D(2, 2, padding="valid",
                                             name=f"{name}_shortcut_pool")(x)
    if shortcut.shape[-1] != filters:
        shortcut = ZeroPadChannels(filters, name=f"{name}_shortcut_pad")(shortcut)
    missing_rows = shortcut.shape[1] - out.shape[1]
    missing_cols = shortcut.shape[2] - out.shape[2]
    if missing_rows or missing_cols:
        out = keras.layers.ZeroPadding2D(((0, missing_rows), (0, missing_cols)),
                                         name=f"{name}_conv2_pad")(out)
    out = keras.layers.Add(name=f"{name}_add")([shortcut, out])
    return keras.layers.ReLU(name=f"{name}_relu")(out)


def dlib_resnet_model() -> keras.Model:
    """The network with all-zero (untrained) weights.

    Returns a keras.Model named ``dlib_resnet``: input (None, 150, 150, 3)
    float32 RGB in 0..255 (the mean subtraction and /255 are inside), output
    (None, 128) float32 descriptors, not L2-normalised (norms of real faces
    are about 1.3-1.6).
    Use :func:`load_dlib_resnet` for the trained network.
    """
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), dtype="float32", name="rgb")
    x = keras.layers.Normalization(mean=list(MEAN_RGB), variance=[INPUT_DIVISOR ** 2] * 3,
                                   name="normalize")(inputs)
    x = _conv_scale(x, "conv32_down", 32, 7, 2, "valid", relu=True)    # 150 -> 72
    x = keras.layers.MaxPooling2D(3, 2, padding="valid", name="max_pool")(x)  # 72 -> 35
    for name, filters, down in RESIDUAL_BLOCKS:
        x = (_residual_down if down else _residual)(x, name, filters)  # 35->17->8->4->2
    x = keras.layers.GlobalAveragePooling2D(name="global_avg")(x)
    outputs = keras.layers.Dense(DESCRIPTOR_SIZE, use_bias=False, kernel_initializer="zeros",
                                 name="fc")(x)
    return keras.Model(inputs, outputs, name="dlib_resnet")


def _tensor_names(layer: keras.layers.Layer) -> list[str] | None:
    """face-api tensor names for ``layer.get_weights()``, in order; None if weightless."""
    # Layer names were made from the tensor names (see the module docstring);
    # "conv32_down" has no "_conv" part and maps to itself.
    if isinstance(layer, keras.layers.Conv2D):
        prefix = layer.name.replace("_conv", "/conv")
        return [f"{prefix}/conv/filters", f"{prefix}/conv/bias"]
    if isinstance(layer, ChannelScale):
        prefix = layer.name[:-len("_scale")].replace("_conv", "/conv")
        return [f"{prefix}/scale/weights", f"{prefix}/scale/biases"]
    if isinstance(layer, keras.layers.Dense):
        return [layer.name]
    return None


def load_dlib_resnet(path: str = DEFAULT_WEIGHTS) -> keras.Model:
    """:func:`dlib_resnet_model` with the trained weights from ``path``.

    Returns the keras.Model described there, ready for ``predict_on_batch``.
    Raises WeightsError, naming the file (and the tensor where one is at
    fault), when ``path`` is missing, truncated, corrupt, lacks a tensor,
    has one of the wrong shape, or holds tensors this network does not use.
    """
    tensors = load_tensors(path)
    model = dlib_resnet_model()
    used: set[str] = set()
    for layer in model.layers:
        names = _tensor_names(layer)
        if names is None:
            continue
        values = [take_tensor(tensors, name, tuple(variable.shape), path)
                  for name, variable in zip(names, layer.weights)]
        layer.set_weights(values)
        used.update(names)
    unused = sorted(set(tensors) - used)
    if unused:
        raise WeightsError(f"weight file {path} holds tensors the dlib ResNet does not "
                           f"use ({', '.join(unused[:3])}...); it is for another network")
    return model


def _self_check() -> None:
    """Print the load time and the output for a grey chip (python -m greeter.resnet)."""
    import time
    start = time.perf_counter()
    model = load_dlib_resnet()
    loaded = time.perf_counter() - start
    grey = np.full((1, INPUT_SIZE, INPUT_SIZE, 3), 128, np.float32)
    descriptor = model.predict_on_batch(grey)[0]
    print(f"loaded {DEFAULT_WEIGHTS} in {loaded:.3f} s; {len(model.layers)} layers; "
          f"grey chip -> norm {np.linalg.norm(descriptor):.4f}")


if __name__ == "__main__":
    _self_check()
