"""Image-to-encoding helpers with the classic FaceNet demo's names, and weight loading.

    from fr_utils import load_encoder, img_path_to_encoding
    encoder = load_encoder()                       # dlib ResNet + SFace, shipped weights
    alice = img_path_to_encoding("images/alice.jpg", encoder)

``model`` in these helpers is a :class:`greeter.encode.FaceEncoder`: the
network together with the face detector and aligner that prepare its input.
Encodings are float32, ``encoder.width`` numbers (256 for the default
dlib+sface, 128 for one network); compare them by L2 distance against
``encoder.threshold``.
"""

from __future__ import annotations

import numpy as np

from greeter.encode import FaceEncoder
from greeter.models import DEFAULT_NETWORK
from greeter.openface import load_weights_from_FaceNet  # noqa: F401  (the demo's name)
from greeter.photos import PhotoError, read_photo

__all__ = ["load_encoder", "img_to_encoding", "img_path_to_encoding", "faces_to_encodings",
           "load_weights_from_FaceNet", "NoFaceError", "PhotoError"]


class NoFaceError(ValueError):
    """The image has no usable face."""


def load_encoder(network: str = DEFAULT_NETWORK, weights_dir: str | None = None) -> FaceEncoder:
    """A FaceEncoder for ``network`` ("dlib+sface" or "dlib", shipped; or "openface",
    CSV weights in ``weights_dir``)."""
    return FaceEncoder(network, weights_dir)


def img_to_encoding(image: np.ndarray, model: FaceEncoder) -> np.ndarray:
    """The encoding (128,) of the largest face in an OpenCV BGR image.

    A face-shaped image in which no face is detected is taken as a tight face
    crop. Raises NoFaceError when the image has no usable face.
    """
    result = model.encode_photo_image(image, "image")
    if result.encoding is None:
        raise NoFaceError(result.note)
    return result.encoding


def img_path_to_encoding(path: str, model: FaceEncoder) -> np.ndarray:
    """The encoding (128,) of the largest face in the photo at ``path``.

    Raises PhotoError (naming the file) when it cannot be read, NoFaceError
    when it has no usable face.
    """
    result = model.encode_photo_image(read_photo(path), path)
    if result.encoding is None:
        raise NoFaceError(f"{path}: {result.note}")
    return result.encoding


def faces_to_encodings(face_crops: list[np.ndarray], model: FaceEncoder) -> np.ndarray:
    """Encodings (N, model.width) of N BGR face crops (each image is one face)."""
    encodings = [model.face_encodings(crop, [(0, 0, crop.shape[1], crop.shape[0])], photo=True)
                 for crop in face_crops]
    return np.concatenate(encodings) if encodings else np.zeros((0, model.width), np.float32)

