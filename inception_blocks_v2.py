"""The Inception FaceNet of the deeplearning.ai face-recognition demo.

This is OpenFace's ``nn4.small2`` as ported to Keras by the demo
(``inception_blocks_v2.py`` + ``fr_utils.py``): a 96x96 RGB face crop in,
a 128-d L2-normalised encoding out, 3,743,280 parameters.  Layer names are
those of OpenFace's CSV weight export, so ``greeter.openface`` can load it.

The network is reproduced as the demo builds it, including its two
departures from OpenFace's Torch model: the two LRN layers of the stem
are left out, and ``bn1`` keeps Keras' default epsilon (1e-3) where every
other batch norm uses Torch's 1e-5.  (The pooling branches are also the
Keras port's strided pool + zero padding, not Torch's stride-1 pooling.)  The
encodings, and the demo's 0.52 distance threshold, come from this network.

Every layer is channels_first (set per layer, not through the global
``keras.config`` setting): input float32 in [0, 1], shape (N, 3, 96, 96).
"""

from __future__ import annotations

import keras
from keras import layers

DATA_FORMAT = "channels_first"
CHANNEL_AXIS = 1
BN_EPSILON = 1e-5
BN1_EPSILON = 1e-3  # the demo's bn1 has no epsilon argument, so Keras' default


def conv_bn(x, filters: int, kernel_size: int, conv_name: str, bn_name: str,
            strides: int = 1, padding: int = 0, epsilon: float = BN_EPSILON):
    """Zero padding (if any) -> Conv2D -> BatchNormalization -> ReLU."""
    if padding:
        x = layers.ZeroPadding2D(padding, data_format=DATA_FORMAT)(x)
    x = layers.Conv2D(filters, kernel_size, strides=strides, data_format=DATA_FORMAT,
                      name=conv_name)(x)
    x = layers.BatchNormalization(axis=CHANNEL_AXIS, epsilon=epsilon, name=bn_name)(x)
    return layers.Activation("relu")(x)


def conv_1x1(x, prefix: str, filters: int):
    """A 1x1 conv unit named like OpenFace's ``<prefix>_conv`` / ``<prefix>_bn``."""
    return conv_bn(x, filters, 1, f"{prefix}_conv", f"{prefix}_bn")


def reduce_then_conv(x, prefix: str, reduce_filters: int, filters: int,
                     kernel_size: int, strides: int = 1):
    """A 1x1 reduction then a 'same'-padded kxk conv: ``<prefix>_conv1/bn1/conv2/bn2``."""
    x = conv_bn(x, reduce_filters, 1, f"{prefix}_conv1", f"{prefix}_bn1")
    return conv_bn(x, filters, kernel_size, f"{prefix}_conv2", f"{prefix}_bn2",
                   strides=strides, padding=kernel_size // 2)


def max_pool(x, size: int = 3, strides: int = 2):
    return layers.MaxPooling2D(size, strides=strides, data_format=DATA_FORMAT)(x)


def avg_pool(x, size: int = 3, strides: int = 3):
    return layers.AveragePooling2D(size, strides=strides, data_format=DATA_FORMAT)(x)


def zero_pad(x, padding):
    return layers.ZeroPadding2D(padding, data_format=DATA_FORMAT)(x)


def concat(branches):
    return layers.Concatenate(axis=CHANNEL_AXIS)(branches)


def inception_block_1a(x):
    """inception_3a: 192 -> 256 channels at 12x12."""
    return concat([
        reduce_then_conv(x, "inception_3a_3x3", 96, 128, 3),
        reduce_then_conv(x, "inception_3a_5x5", 16, 32, 5),
        zero_pad(conv_1x1(max_pool(x), "inception_3a_pool", 32), ((3, 4), (3, 4))),
        conv_1x1(x, "inception_3a_1x1", 64),
    ])


def inception_block_1b(x):
    """inception_3b: 256 -> 320 channels at 12x12."""
    return concat([
        reduce_then_conv(x, "inception_3b_3x3", 96, 128, 3),
        reduce_then_conv(x, "inception_3b_5x5", 32, 64, 5),
        zero_pad(conv_1x1(avg_pool(x), "inception_3b_pool", 64), 4),
        conv_1x1(x, "inception_3b_1x1", 64),
    ])


def inception_block_1c(x):
    """inception_3c: 320 -> 640 channels, 12x12 -> 6x6."""
    return concat([
        reduce_then_conv(x, "inception_3c_3x3", 128, 256, 3, strides=2),
        reduce_then_conv(x, "inception_3c_5x5", 32, 64, 5, strides=2),
        zero_pad(max_pool(x), ((0, 1), (0, 1))),
    ])


def inception_block_2a(x):
    """inception_4a: 640 -> 640 channels at 6x6."""
    return concat([
        reduce_then_conv(x, "inception_4a_3x3", 96, 192, 3),
        reduce_then_conv(x, "inception_4a_5x5", 32, 64, 5),
        zero_pad(conv_1x1(avg_pool(x), "inception_4a_pool", 128), 2),
        conv_1x1(x, "inception_4a_1x1", 256),
    ])


def inception_block_2b(x):
    """inception_4e: 640 -> 1024 channels, 6x6 -> 3x3."""
    return concat([
        reduce_then_conv(x, "inception_4e_3x3", 160, 256, 3, strides=2),
        reduce_then_conv(x, "inception_4e_5x5", 64, 128, 5, strides=2),
        zero_pad(max_pool(x), ((0, 1), (0, 1))),
    ])


def inception_block_3a(x):
    """inception_5a: 1024 -> 736 channels at 3x3."""
    return concat([
        reduce_then_conv(x, "inception_5a_3x3", 96, 384, 3),
        zero_pad(conv_1x1(avg_pool(x), "inception_5a_pool", 96), 1),
        conv_1x1(x, "inception_5a_1x1", 256),
    ])


def inception_block_3b(x):
    """inception_5b: 736 -> 736 channels at 3x3."""
    return concat([
        reduce_then_conv(x, "inception_5b_3x3", 96, 384, 3),
        zero_pad(conv_1x1(max_pool(x), "inception_5b_pool", 96), 1),
        conv_1x1(x, "inception_5b_1x1", 256),
    ])


def faceRecoModel(input_shape=(3, 96, 96)) -> keras.Model:  # noqa: N802 (the demo's name)
    """The FaceNet encoder: (N, 3, 96, 96) RGB in [0, 1] -> (N, 128), unit L2 norm."""
    inputs = keras.Input(shape=tuple(input_shape), name="input")

    # Stem: 7x7/2 conv, max pool, 1x1 conv, 3x3 conv, max pool (96x96 -> 12x12).
    x = conv_bn(inputs, 64, 7, "conv1", "bn1", strides=2, padding=3, epsilon=BN1_EPSILON)
    x = max_pool(zero_pad(x, 1))
    x = conv_bn(x, 64, 1, "conv2", "bn2")
    x = conv_bn(x, 192, 3, "conv3", "bn3", padding=1)
    x = max_pool(zero_pad(x, 1))

    x = inception_block_1a(x)
    x = inception_block_1b(x)
    x = inception_block_1c(x)
    x = inception_block_2a(x)
    x = inception_block_2b(x)
    x = inception_block_3a(x)
    x = inception_block_3b(x)

    # Top: 3x3 average pool to 1x1, 736 -> 128, unit length.
    x = layers.AveragePooling2D(3, strides=1, data_format=DATA_FORMAT)(x)
    x = layers.Flatten(data_format=DATA_FORMAT)(x)
    x = layers.Dense(128, name="dense_layer")(x)
    x = layers.UnitNormalization(axis=1, name="l2_normalize")(x)
    return keras.Model(inputs=inputs, outputs=x, name="FaceRecoModel")
