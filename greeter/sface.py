"""The second face network: OpenCV Zoo's SFace, beside dlib's descriptor.

SFace (Apache-2.0, weights/LICENSE.sface.txt) takes a 112x112 BGR chip on
the ArcFace 5-point template and gives 128 numbers compared by cosine. Its
chips are cut here from the 68 landmarks the project already computes (eye
centres, nose tip, mouth corners): YuNet's own 5 keypoints sit about a tenth
of an eye distance off and align it worse (../shared/NOTES.md).

It runs in OpenCV's FaceRecognizerSF, one face per call: OpenCV returns
garbage for every row after the first of a batch. A face costs about 25 ms on
one core, five times dlib's network, which is why the recogniser asks for it
only when it can change a decision (greeter/recognise.py).
"""

from __future__ import annotations

import hashlib
import os

import cv2
import numpy as np

from greeter.align import find_similarity_transform
from greeter.paths import WEIGHTS_DIR
from greeter.weights import WeightsError, check_weight_file

DEFAULT_WEIGHTS = os.path.join(WEIGHTS_DIR, "face_recognition_sface_2021dec_int8bq.onnx")
# weights/face_recognition_sface.source.json: the official OpenCV Zoo file.
SHIPPED_SHA256 = "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"
CHIP_SIZE = 112
FEATURE_SIZE = 128
# ArcFace's 112x112 template (insightface, as OpenCV's alignCrop uses it): the
# eye on the image's left, the other eye, nose tip, left and right mouth corner.
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]])


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """ArcFace's 5 points (5, 2) float64 from one face's 68 landmarks (68, 2) in
    dlib's order: the centres of the eyes (36-41, 42-47), the nose tip (30) and
    the outer mouth corners (48, 54)."""
    points = np.asarray(landmarks, np.float64)
    return np.stack([points[36:42].mean(0), points[42:48].mean(0), points[30],
                     points[48], points[54]])


def sface_chips(image_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """SFace's input chips (N, 112, 112, 3) BGR uint8 of the faces whose 68 landmarks
    are ``landmarks`` (N, 68, 2) in the BGR uint8 image ``image_bgr``."""
    chips = np.zeros((len(landmarks), CHIP_SIZE, CHIP_SIZE, 3), np.uint8)
    for index, face in enumerate(landmarks):
        rotation, shift = find_similarity_transform(five_points(face), ARCFACE_TEMPLATE)
        chips[index] = cv2.warpAffine(image_bgr, np.hstack([rotation, shift[:, None]]),
                                      (CHIP_SIZE, CHIP_SIZE), flags=cv2.INTER_LINEAR)
    return chips


class SFace:
    """OpenCV's FaceRecognizerSF on the shipped SFace file; not safe to call from
    two threads at once (the encoder holds its network lock around it)."""

    def __init__(self, path: str = DEFAULT_WEIGHTS) -> None:
        """Load ``path``; WeightsError names it when it is missing, damaged or another file."""
        # An ONNX file is a protobuf ModelProto: field 1 (ir_version), a varint.
        check_weight_file(path, b"\x08", "an ONNX model")
        with open(path, "rb") as file:
            digest = hashlib.sha256(file.read()).hexdigest()
        # Damage inside the weights would still load: it must be the file shipped.
        if digest != SHIPPED_SHA256:
            raise WeightsError(f"weight file {path} is corrupt (it is not the SFace file "
                               "shipped, sha256 " + digest[:12] + "...); restore it from the "
                               "repository (git checkout -- weights/)")
        try:
            self._recognizer = cv2.FaceRecognizerSF.create(path, "")
        except cv2.error as error:
            raise WeightsError(f"weight file {path} cannot be opened by OpenCV "
                               f"{cv2.__version__} ({str(error).strip()[:200]}); SFace's "
                               "block-quantised file needs opencv-python 4.11 or newer") from None

    def unit_features(self, chips: np.ndarray) -> np.ndarray:
        """L2-normalised features (N, 128) float32 of BGR uint8 chips (N, 112, 112, 3)."""
        features = np.zeros((len(chips), FEATURE_SIZE), np.float32)
        for index, chip in enumerate(chips):  # one per call: see the module docstring
            feature = self._recognizer.feature(np.ascontiguousarray(chip)).reshape(-1)
            features[index] = feature / max(float(np.linalg.norm(feature)), 1e-12)
        return features
