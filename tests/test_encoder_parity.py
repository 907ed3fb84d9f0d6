"""The Keras port of dlib's ResNet face descriptor against dlib itself.

Both networks get the very same aligned 150x150 chips (dlib's HOG detector,
5-point landmarks, dlib.get_face_chip), so any difference comes from the
port or from the float16 storage of the weights, never from detection or
alignment.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # so plain `pytest` works without installing the project

from greeter.resnet import DEFAULT_WEIGHTS, INPUT_SIZE, load_dlib_resnet  # noqa: E402
from greeter.weights import WeightsError, load_tensors, save_tensors  # noqa: E402

FACES = REPO / ".." / "shared" / "faces"

# Greyscale face crops, ordinary photos, multi-face scenes, a small face and an
# RGBA PNG: 15 photos, 21 faces, about 2 s of dlib on two cores.
PHOTOS = [
    "people/amy/amy_1.png", "people/bernadette/bernadette_1.png",
    "people/howard/howard_1.png", "people/leonard/leonard_1.png",
    "people/penny/penny_1.png", "people/raj/raj_1.png",
    "people/sheldon/sheldon_1.png", "people/stuart/stuart_1.png",
    "people/clapton/clapton_2.jpg", "people/kit_harington/kit_harington_2.jpg",
    "people/rose_leslie/rose_leslie_2.jpg",
    "scenes/bbt3.jpg", "scenes/longoria-cooper.jpg", "scenes/obama-240p.jpg",
    "scenes/32bit.png",
]

MIN_COSINE = 0.99999
# dlib's float32 weights stored as float16: observed at most 0.0015 (face-api's
# uint8 copy of the weights, shipped before issue 12, cost up to 0.046).
MAX_L2 = 0.003


@pytest.fixture(scope="module")
def model():
    return load_dlib_resnet()


def _rgb(path: Path) -> np.ndarray:
    """The photo as contiguous uint8 RGB (H, W, 3), whatever its channels."""
    import cv2
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)  # grey and RGBA become 3-channel BGR
    assert bgr is not None, f"cannot read {path}"
    return np.ascontiguousarray(bgr[:, :, ::-1])


def test_descriptors_match_dlib(model):
    if not FACES.is_dir():
        pytest.skip(f"real face photos not found at {FACES.resolve()} (../shared/faces "
                    "beside the repository)")
    dlib = pytest.importorskip("dlib", reason="dlib (dlib-bin) is the reference")
    models = pytest.importorskip("face_recognition_models",
                                 reason="face_recognition_models holds dlib's model files")
    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
    reference = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    chips, labels = [], []
    for name in PHOTOS:
        rgb = _rgb(FACES / name)
        for number, box in enumerate(detector(rgb, 1)):
            chips.append(dlib.get_face_chip(rgb, landmarks(rgb, box), size=INPUT_SIZE,
                                            padding=0.25))
            labels.append(f"{name}#{number}")
    assert len(chips) >= 10, f"only {len(chips)} faces found in {len(PHOTOS)} photos"

    expected = np.array([reference.compute_face_descriptor(chip) for chip in chips])
    actual = np.asarray(model.predict_on_batch(np.stack(chips).astype(np.float32)),
                        dtype=np.float64)
    assert actual.shape == (len(chips), 128)

    cosine = (expected * actual).sum(1) / (np.linalg.norm(expected, axis=1)
                                           * np.linalg.norm(actual, axis=1))
    distance = np.linalg.norm(expected - actual, axis=1)
    worst = int(np.argmin(cosine))
    print(f"{len(chips)} faces: min cosine {cosine.min():.5f} ({labels[worst]}), "
          f"max L2 {distance.max():.4f}, mean L2 {distance.mean():.4f}")
    assert cosine.min() >= MIN_COSINE, f"{labels[worst]}: cosine {cosine[worst]:.5f}"
    assert distance.max() < MAX_L2, f"{labels[int(np.argmax(distance))]}: L2 {distance.max():.4f}"
    # dlib's descriptors are not unit vectors, and the port must not make them so.
    norms = np.linalg.norm(actual, axis=1)
    assert np.all(np.abs(norms - 1.0) > 0.1), norms


def test_model_shapes_and_names(model):
    assert tuple(model.input_shape) == (None, INPUT_SIZE, INPUT_SIZE, 3)
    assert tuple(model.output_shape) == (None, 128)
    names = {layer.name for layer in model.layers}
    assert {"conv32_down", "conv32_1_conv1", "conv32_1_conv1_scale",
            "conv256_down_out_conv2_scale", "fc"} <= names


def test_truncated_file_raises_weights_error(tmp_path):
    truncated = tmp_path / "dlib_resnet.npz"
    data = Path(DEFAULT_WEIGHTS).read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match=re.escape(str(truncated))):
        load_dlib_resnet(str(truncated))


def test_missing_file_raises_weights_error(tmp_path):
    missing = tmp_path / "absent.npz"
    with pytest.raises(WeightsError, match=re.escape(str(missing))):
        load_dlib_resnet(str(missing))


def test_missing_tensor_is_named(tmp_path):
    tensors = load_tensors(DEFAULT_WEIGHTS)
    del tensors["conv128_1/conv2/scale/biases"]
    incomplete = tmp_path / "incomplete.npz"
    save_tensors(str(incomplete), tensors)
    with pytest.raises(WeightsError, match="conv128_1/conv2/scale/biases") as error:
        load_dlib_resnet(str(incomplete))
    assert str(incomplete) in str(error.value)


def test_wrong_shape_is_named(tmp_path):
    tensors = load_tensors(DEFAULT_WEIGHTS)
    tensors["fc"] = tensors["fc"].T
    wrong = tmp_path / "wrong.npz"
    save_tensors(str(wrong), tensors)
    with pytest.raises(WeightsError, match="tensor fc has shape"):
        load_dlib_resnet(str(wrong))


def test_weights_file_is_the_published_model():
    # float16: about 11 MB rather than 22 MB of float32.
    assert 10_000_000 < Path(DEFAULT_WEIGHTS).stat().st_size < 12_000_000
    assert (REPO / "weights" / "dlib_resnet.source.json").is_file()


def test_converter_writes_what_ships():
    """tools/convert_dlib_resnet.py on face_recognition_models' file gives the shipped tensors."""
    models = pytest.importorskip("face_recognition_models",
                                 reason="face_recognition_models is not installed")
    from tools.convert_dlib_resnet import read_dlib_resnet
    with open(models.face_recognition_model_location(), "rb") as file:
        converted = read_dlib_resnet(file.read())
    shipped = load_tensors(DEFAULT_WEIGHTS)
    assert sorted(converted) == sorted(shipped)
    for name, tensor in converted.items():
        np.testing.assert_array_equal(shipped[name], tensor.astype(np.float16), err_msg=name)

