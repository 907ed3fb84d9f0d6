"""The FaceNet network and the loader of OpenFace's CSV weight export.

The real export cannot be shipped, so the tests write one from a model with
randomised weights and load it back into another model.
"""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # so plain `pytest` works without installing the project

from greeter import openface  # noqa: E402
from greeter.openface import (OPENFACE_INPUT_SIZE, WEIGHTS, channels_last_copy,  # noqa: E402
                              load_openface_model,
                              load_weights_from_FaceNet, write_openface_csv_export)
from greeter.weights import WeightsError  # noqa: E402
from inception_blocks_v2 import faceRecoModel  # noqa: E402

FACE = REPO.parent / "shared" / "faces" / "people" / "amy" / "amy_1.png"
EXPORT_FILES = 37 * 2 + 37 * 4 + 2  # conv w/b, batch norm w/b/m/v, dense w/b
REAL_PARSE = openface._parse_csv


def randomise(model: keras.Model, seed: int) -> None:
    """Give every weight, batch-norm statistics included, a distinct random value."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        name = variable.path
        if name.endswith("moving_variance"):
            value = rng.uniform(0.5, 2.0, shape)
        elif name.endswith("gamma"):
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith(("moving_mean", "beta", "bias")):
            value = rng.normal(0.0, 0.1, shape)
        else:  # kernels: perturb Keras' initialisation
            value = np.asarray(variable.numpy()) + rng.normal(0.0, 0.02, shape)
        variable.assign(value.astype(np.float32))


def encode(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """The encodings of channels-first ``images`` by ``model``, run as the greeter runs
    it (channels-last: the channels-first model runs on some CPUs only)."""
    return np.asarray(channels_last_copy(model)(images.transpose(0, 2, 3, 1), training=False))


def same_weights(a: keras.Model, b: keras.Model) -> bool:
    return all(np.array_equal(x.numpy(), y.numpy()) for x, y in zip(a.weights, b.weights))


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    """The face crop and its mirror image, (2, 3, 96, 96) float32 RGB in [0, 1]."""
    if not FACE.is_file():
        pytest.skip(f"face photo {FACE} is absent (../shared/faces beside the repository)")
    from PIL import Image

    with Image.open(FACE) as image:
        rgb = image.convert("RGB").resize((OPENFACE_INPUT_SIZE, OPENFACE_INPUT_SIZE),
                                          Image.BILINEAR)
    crop = np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return np.stack([crop, crop[:, :, ::-1]])


@pytest.fixture(scope="module")
def source() -> keras.Model:
    model = faceRecoModel((3, 96, 96))
    randomise(model, seed=1)
    return model


@pytest.fixture(scope="module")
def target() -> keras.Model:
    """A second network that tests load into (each test re-randomises it first)."""
    return faceRecoModel((3, 96, 96))


@pytest.fixture(scope="module")
def pristine_export(source, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("openface") / "weights"
    write_openface_csv_export(source, directory)
    return directory


@pytest.fixture
def export(pristine_export, tmp_path) -> Path:
    """A private copy of the export (and of no cache) for one test to load and damage."""
    directory = tmp_path / "weights"
    shutil.copytree(pristine_export, directory,
                    ignore=shutil.ignore_patterns(openface.CACHE_NAME + "*"))
    return directory


def test_network_has_the_demos_parameter_count_and_shapes(source):
    assert faceRecoModel((3, 96, 96)).count_params() == 3743280
    assert source.input_shape == (None, 3, 96, 96)
    assert source.output_shape == (None, 128)


def test_layers_carry_openface_names_and_are_channels_first(source):
    names = {layer.name for layer in source.layers}
    assert {"conv1", "bn1", "conv3", "bn3", "inception_3a_3x3_conv1", "inception_3a_3x3_bn1",
            "inception_3a_pool_conv", "inception_4e_5x5_conv2", "inception_5b_1x1_bn",
            "dense_layer"} <= names
    assert set(WEIGHTS) == {layer.name for layer in source.layers if layer.weights}
    spatial = (keras.layers.Conv2D, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D,
               keras.layers.ZeroPadding2D)
    for layer in source.layers:
        if isinstance(layer, spatial):
            assert layer.data_format == "channels_first", layer.name
        if isinstance(layer, keras.layers.BatchNormalization):
            assert layer.axis in (1, [1]), layer.name


def test_the_channels_last_copy_has_every_weight_under_its_name(source):
    copy = channels_last_copy(source)
    assert copy.input_shape == (None, 96, 96, 3)
    weights = {variable.path: variable.numpy() for variable in source.weights}
    assert len(copy.weights) == len(weights)
    for variable in copy.weights:
        np.testing.assert_array_equal(variable.numpy(), weights[variable.path])


def test_batch_forward_pass_gives_unit_encodings(source, faces):
    encodings = encode(source, faces)
    assert encodings.shape == (2, 128)
    np.testing.assert_allclose(np.linalg.norm(encodings, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(encodings[0], encodings[1])


def test_the_greeters_encoder_runs_it_on_any_cpu(pristine_export, faces):
    """--model openface, as the greeter loads and runs it: on a CPU without AVX-512
    (TensorFlow's oneDNN operations off) the channels-first model failed here."""
    import cv2

    from greeter.encode import FaceEncoder
    encoder = FaceEncoder("openface", str(pristine_export))
    result = encoder.encode_photo_image(cv2.imread(str(FACE)), str(FACE))
    assert result.encoding is not None, result.note
    assert result.encoding.shape == (128,)
    np.testing.assert_allclose(np.linalg.norm(result.encoding), 1.0, atol=1e-5)


def test_export_is_in_openface_layout(source, pristine_export):
    files = sorted(p.name for p in pristine_export.glob("*.csv"))
    assert len(files) == EXPORT_FILES
    assert "dense_w.csv" in files and "dense_b.csv" in files  # not dense_layer_*

    def values(name):
        text = (pristine_export / name).read_text()
        assert text.endswith("\n") and text.count("\n") == 1  # one comma-separated line
        return np.array(text.split(","), dtype=np.float64).astype(np.float32)

    conv1 = source.get_layer("conv1")
    # Torch's (out, in, kh, kw) order, written out element by element.
    kernel = conv1.kernel.numpy()
    torch_order = [kernel[i, j, c, o] for o in range(64) for c in range(3)
                   for i in range(7) for j in range(7)]
    assert np.array_equal(values("conv1_w.csv"), np.array(torch_order, dtype=np.float32))
    dense = source.get_layer("dense_layer").kernel.numpy()
    assert np.array_equal(values("dense_w.csv"), dense.T.reshape(-1))  # (128, 736)
    bn1 = source.get_layer("bn1")
    for suffix, variable in (("w", bn1.gamma), ("b", bn1.beta), ("m", bn1.moving_mean),
                             ("v", bn1.moving_variance)):
        assert np.array_equal(values(f"bn1_{suffix}.csv"), variable.numpy())


def test_csv_round_trip_gives_the_same_encodings(source, target, faces, export):
    # The reader also takes one value per line, and a matrix of rows.
    conv1_w = np.loadtxt(export / "conv1_w.csv", delimiter=",")
    np.savetxt(export / "conv1_w.csv", conv1_w, fmt="%.9g")
    dense_w = np.loadtxt(export / "dense_w.csv", delimiter=",")
    np.savetxt(export / "dense_w.csv", dense_w.reshape(128, 736), fmt="%.9g", delimiter=",")

    randomise(target, seed=2)
    expected = encode(source, faces)
    assert not np.allclose(encode(target, faces), expected, atol=1e-3)

    load_weights_from_FaceNet(target, export)

    assert same_weights(source, target)
    encodings = encode(target, faces)
    np.testing.assert_allclose(encodings, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(encodings, axis=1), 1.0, atol=1e-5)
    assert (export / openface.CACHE_NAME).is_file()


def test_second_load_reads_the_cache_and_a_changed_csv_invalidates_it(
        source, target, faces, export, monkeypatch):
    randomise(target, seed=3)
    load_weights_from_FaceNet(target, export)

    def no_parsing(data, path, tensor):
        raise AssertionError(f"{path} was parsed although the cache holds it")

    monkeypatch.setattr(openface, "_parse_csv", no_parsing)
    cached = load_openface_model(export)  # a fresh network, filled from the cache alone
    assert same_weights(source, cached)
    np.testing.assert_allclose(encode(cached, faces), encode(source, faces), atol=1e-5)

    parsed = []

    def counting(data, path, tensor):
        parsed.append(Path(path).name)
        return REAL_PARSE(data, path, tensor)

    monkeypatch.setattr(openface, "_parse_csv", counting)
    new_bias = source.get_layer("dense_layer").bias.numpy() + 0.25
    (export / "dense_b.csv").write_text(",".join("%.9g" % v for v in new_bias) + "\n")

    load_weights_from_FaceNet(target, export)
    assert parsed == ["dense_b.csv"]
    np.testing.assert_array_equal(target.get_layer("dense_layer").bias.numpy(), new_bias)
    assert not np.allclose(encode(target, faces), encode(source, faces), atol=1e-3)

    parsed.clear()
    load_weights_from_FaceNet(target, export)  # the rewritten cache holds the new bias
    assert parsed == []
    np.testing.assert_array_equal(target.get_layer("dense_layer").bias.numpy(), new_bias)


def test_corrupt_cache_is_ignored_and_rebuilt(source, target, export):
    (export / openface.CACHE_NAME).write_bytes(b"PK\x03\x04 not really a zip archive")
    randomise(target, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_weights_from_FaceNet(target, export)
    assert same_weights(source, target)
    with np.load(export / openface.CACHE_NAME) as archive:
        assert "conv1_w" in archive.files


def test_unwritable_directory_loads_with_one_warning(source, target, export, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(export))

    monkeypatch.setattr(openface.tempfile, "mkstemp", refuse)
    randomise(target, seed=5)
    with pytest.warns(RuntimeWarning, match="cannot cache") as caught:
        load_weights_from_FaceNet(target, export)
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
    assert same_weights(source, target)
    assert list(export.glob(".openface_cache*")) == []


def test_missing_files_are_all_listed_with_their_shapes(target, export):
    for name in ("inception_3a_1x1_conv_w.csv", "bn2_v.csv", "dense_w.csv"):
        (export / name).unlink()
    with pytest.raises(WeightsError) as error:
        load_weights_from_FaceNet(target, export)
    message = str(error.value)
    assert "3 of 224 files are missing" in message
    assert "inception_3a_1x1_conv_w.csv (expected shape (64, 192, 1, 1)" in message
    assert "bn2_v.csv (expected shape (64,)" in message
    assert "dense_w.csv (expected shape (128, 736)" in message


def test_malformed_files_are_named_with_the_shape_expected(target, export):
    (export / "inception_3a_pool_bn_m.csv").write_text("0.5,0.25,abc\n")
    (export / "dense_b.csv").write_text(",".join(["0.5"] * 100) + "\n")
    with pytest.raises(WeightsError) as error:
        load_weights_from_FaceNet(target, export)
    message = str(error.value)
    assert "inception_3a_pool_bn_m.csv is malformed" in message
    assert "shape (32,)" in message and "abc" in message
    assert "dense_b.csv has 100 values; expected 128 (shape (128,))" in message
    assert not (export / openface.CACHE_NAME).exists()
