"""OpenFace's CSV weight export, as the FaceNet webcam demo loads it.

The export is one directory of CSV files, one per tensor, named after the
Keras layers of ``inception_blocks_v2.faceRecoModel``:

* convolutions: ``<layer>_w.csv`` (the Torch kernel, shape (out, in, kh, kw),
  flattened in C order) and ``<layer>_b.csv`` (out values);
* batch norms: ``<layer>_w.csv``, ``_b``, ``_m``, ``_v`` (gamma, beta, running
  mean, running variance);
* the 736 -> 128 embedding layer ``dense_layer``: ``dense_w.csv`` (the Torch
  weight, shape (128, 736)) and ``dense_b.csv`` -- the export, and the demo's
  loader, name these files ``dense_*`` rather than ``dense_layer_*``.

In the real export each file is a single line of comma-separated numbers
written with Lua's ``%.14g`` and ending in a newline.  The demo reads them
with ``np.genfromtxt(path, delimiter=',', dtype=None)`` and reshapes, so the
line layout never mattered to it; this reader likewise accepts any mix of
commas, spaces and newlines (one value per line, one row, or a matrix).

``np.genfromtxt`` needs minutes for the 3.7 million values (15 s for one
332k-value file here); this parser about two seconds.  After the first
successful load the tensors are kept in ``<weights_dir>/.openface_cache.npz``
(written atomically), each under the SHA-256 of the CSV it came from, so a
later load hashes the CSVs (~70 MB, tens of milliseconds) instead of parsing
them, and a changed CSV is always parsed again.  A corrupt cache is ignored
and rewritten; an unwritable directory costs one warning and no cache.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import warnings
import zipfile
from dataclasses import dataclass

import keras
import numpy as np

from greeter.weights import WeightsError

OPENFACE_INPUT_SIZE = 96   # encoder input: (N, 3, 96, 96) RGB in [0, 1]

CACHE_NAME = ".openface_cache.npz"
_CACHE_FORMAT = 1
_MANIFEST_KEY = "__manifest__"

# The layers the export holds, in the demo's order (fr_utils.WEIGHTS).
WEIGHTS = [
    "conv1", "bn1", "conv2", "bn2", "conv3", "bn3",
    "inception_3a_1x1_conv", "inception_3a_1x1_bn",
    "inception_3a_pool_conv", "inception_3a_pool_bn",
    "inception_3a_5x5_conv1", "inception_3a_5x5_conv2", "inception_3a_5x5_bn1", "inception_3a_5x5_bn2",
    "inception_3a_3x3_conv1", "inception_3a_3x3_conv2", "inception_3a_3x3_bn1", "inception_3a_3x3_bn2",
    "inception_3b_3x3_conv1", "inception_3b_3x3_conv2", "inception_3b_3x3_bn1", "inception_3b_3x3_bn2",
    "inception_3b_5x5_conv1", "inception_3b_5x5_conv2", "inception_3b_5x5_bn1", "inception_3b_5x5_bn2",
    "inception_3b_pool_conv", "inception_3b_pool_bn",
    "inception_3b_1x1_conv", "inception_3b_1x1_bn",
    "inception_3c_3x3_conv1", "inception_3c_3x3_conv2", "inception_3c_3x3_bn1", "inception_3c_3x3_bn2",
    "inception_3c_5x5_conv1", "inception_3c_5x5_conv2", "inception_3c_5x5_bn1", "inception_3c_5x5_bn2",
    "inception_4a_3x3_conv1", "inception_4a_3x3_conv2", "inception_4a_3x3_bn1", "inception_4a_3x3_bn2",
    "inception_4a_5x5_conv1", "inception_4a_5x5_conv2", "inception_4a_5x5_bn1", "inception_4a_5x5_bn2",
    "inception_4a_pool_conv", "inception_4a_pool_bn",
    "inception_4a_1x1_conv", "inception_4a_1x1_bn",
    "inception_4e_3x3_conv1", "inception_4e_3x3_conv2", "inception_4e_3x3_bn1", "inception_4e_3x3_bn2",
    "inception_4e_5x5_conv1", "inception_4e_5x5_conv2", "inception_4e_5x5_bn1", "inception_4e_5x5_bn2",
    "inception_5a_3x3_conv1", "inception_5a_3x3_conv2", "inception_5a_3x3_bn1", "inception_5a_3x3_bn2",
    "inception_5a_pool_conv", "inception_5a_pool_bn",
    "inception_5a_1x1_conv", "inception_5a_1x1_bn",
    "inception_5b_3x3_conv1", "inception_5b_3x3_conv2", "inception_5b_3x3_bn1", "inception_5b_3x3_bn2",
    "inception_5b_pool_conv", "inception_5b_pool_bn",
    "inception_5b_1x1_conv", "inception_5b_1x1_bn",
    "dense_layer",
]

_FILE_PREFIX = {"dense_layer": "dense"}  # the export's name where it differs from the layer's


@dataclass(frozen=True, eq=False)
class ExportTensor:
    """One CSV file of the export and the model variable it fills."""

    file: str                  # e.g. "conv1_w.csv"
    shape: tuple[int, ...]     # its shape in the export (Torch layout)
    variable: keras.Variable   # where it goes in the Keras model
    layout: str                # "conv_kernel", "dense_kernel" or "vector"

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def describe(self) -> str:
        return f"{self.file} (expected shape {self.shape}, {self.size} values)"

    def to_keras(self, flat: np.ndarray) -> np.ndarray:
        values = flat.reshape(self.shape)
        if self.layout == "conv_kernel":        # (out, in, kh, kw) -> (kh, kw, in, out)
            values = values.transpose(2, 3, 1, 0)
        elif self.layout == "dense_kernel":     # (out, in) -> (in, out)
            values = values.T
        return np.ascontiguousarray(values, dtype=np.float32)

    def from_keras(self, values: np.ndarray) -> np.ndarray:
        if self.layout == "conv_kernel":
            values = values.transpose(3, 2, 0, 1)
        elif self.layout == "dense_kernel":
            values = values.T
        assert values.shape == self.shape, (self.file, values.shape, self.shape)
        return values.reshape(-1)


def export_tensors(model: keras.Model) -> list[ExportTensor]:
    """The export's files for ``model``, with shapes taken from the model's own layers.

    Raises ValueError when the model is not the FaceNet of ``faceRecoModel``
    (a layer of WEIGHTS is absent, or a layer with weights is not in WEIGHTS).
    """
    weighted = {layer.name for layer in model.layers if layer.weights}
    absent = [name for name in WEIGHTS if name not in weighted]
    extra = sorted(weighted - set(WEIGHTS))
    if absent or extra:
        raise ValueError(f"model {model.name!r} is not the OpenFace FaceNet: layers missing "
                         f"{absent or 'none'}, layers the export does not cover {extra or 'none'}")
    tensors = []
    for name in WEIGHTS:
        layer = model.get_layer(name)
        prefix = _FILE_PREFIX.get(name, name)
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            parts = [("w", layer.kernel, (cout, cin, kh, kw), "conv_kernel"),
                     ("b", layer.bias, (cout,), "vector")]
        elif isinstance(layer, keras.layers.BatchNormalization):
            parts = [(suffix, variable, tuple(variable.shape), "vector") for suffix, variable in
                     (("w", layer.gamma), ("b", layer.beta),
                      ("m", layer.moving_mean), ("v", layer.moving_variance))]
        elif isinstance(layer, keras.layers.Dense):
            cin, cout = layer.kernel.shape
            parts = [("w", layer.kernel, (cout, cin), "dense_kernel"),
                     ("b", layer.bias, (cout,), "vector")]
        else:
            raise ValueError(f"layer {name!r} is a {type(layer).__name__}; the OpenFace "
                             "export only holds Conv2D, BatchNormalization and Dense layers")
        for suffix, variable, shape, layout in parts:
            tensors.append(ExportTensor(f"{prefix}_{suffix}.csv",
                                        tuple(int(d) for d in shape), variable, layout))
    return tensors


def _parse_csv(data: bytes, path: str, tensor: ExportTensor) -> np.ndarray:
    """The numbers of one CSV file, checked against ``tensor``; WeightsError names both."""
    tokens = data.removeprefix(b"\xef\xbb\xbf").replace(b",", b" ").split()
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError as error:
        raise WeightsError(f"OpenFace weight file {path} is malformed ({error}); "
                           f"expected {tensor.size} comma-separated numbers, shape "
                           f"{tensor.shape}") from None
    if values.size != tensor.size:
        raise WeightsError(f"OpenFace weight file {path} has {values.size} values; expected "
                           f"{tensor.size} (shape {tensor.shape}); the file is truncated or "
                           "belongs to another layer")
    values = values.astype(np.float32)
    finite = np.isfinite(values)
    if not finite.all():
        index = int(np.argmin(finite))
        raise WeightsError(f"OpenFace weight file {path} holds a non-finite value "
                           f"({tokens[index].decode(errors='replace')}) at position {index}; "
                           f"expected {tensor.size} finite numbers, shape {tensor.shape}")
    return values


def _read_cache(path: str):
    """(file -> digest, open NpzFile) of a cache file; ({}, None) if absent or unreadable."""
    try:
        with open(path, "rb") as handle:  # read whole: no file handle outlives a bad archive
            archive = np.load(io.BytesIO(handle.read()), allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):  # a bare .npy array
            return {}, None
        manifest = json.loads(str(archive[_MANIFEST_KEY]))
        if manifest.get("format") != _CACHE_FORMAT or not isinstance(manifest.get("files"), dict):
            archive.close()
            return {}, None
        return manifest["files"], archive
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # JSON errors are ValueErrors
        return {}, None


def _cached(archive, name: str, size: int) -> np.ndarray | None:
    try:
        values = archive[name]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if values.dtype != np.float32 or values.ndim != 1 or values.size != size:
        return None
    return values


def _write_cache(weights_dir: str, digests: dict[str, str],
                 values: dict[str, np.ndarray]) -> None:
    """Write the cache atomically; warn once and go on when the directory is not writable."""
    manifest = json.dumps({"format": _CACHE_FORMAT, "files": digests}, sort_keys=True)
    arrays = {name.removesuffix(".csv"): array for name, array in values.items()}
    tmp_path = None
    try:
        fd, tmp_path = tempfile.mkstemp(prefix=CACHE_NAME + ".", suffix=".tmp", dir=weights_dir)
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **{_MANIFEST_KEY: np.array(manifest)}, **arrays)
        os.replace(tmp_path, os.path.join(weights_dir, CACHE_NAME))
        tmp_path = None
    except OSError as error:
        warnings.warn(f"cannot cache the OpenFace weights in {weights_dir} ({error}); "
                      "the CSV files will be parsed again on every start", RuntimeWarning,
                      stacklevel=3)
    finally:
        if tmp_path is not None:
            try:
                os.unlink(tmp_path)
            except OSError:
                pass


def read_openface_export(model: keras.Model, weights_dir) -> dict[str, np.ndarray]:
    """The export's tensors for ``model`` as flat float32 arrays by file name.

    Served from the cache where the CSV's SHA-256 matches; otherwise parsed,
    and the cache rewritten.  Raises WeightsError listing every missing file,
    or every malformed one, with the shape it should hold.
    """
    return _read_export(export_tensors(model), weights_dir)


def _read_export(tensors: list[ExportTensor], weights_dir) -> dict[str, np.ndarray]:
    weights_dir = os.fspath(weights_dir)
    if not os.path.isdir(weights_dir):
        raise WeightsError(f"OpenFace weight directory {weights_dir} does not exist; it should "
                           f"hold the {len(tensors)} CSV files of OpenFace's weight export")
    missing = [t for t in tensors if not os.path.isfile(os.path.join(weights_dir, t.file))]
    if len(missing) == len(tensors):
        raise WeightsError(f"OpenFace weight directory {weights_dir} holds none of the "
                           f"{len(tensors)} CSV files of OpenFace's weight export "
                           f"({tensors[0].file}, {tensors[1].file}, ...)")
    if missing:
        listing = "\n".join("  " + t.describe() for t in missing)
        raise WeightsError(f"OpenFace weight export in {weights_dir} is incomplete: "
                           f"{len(missing)} of {len(tensors)} files are missing:\n{listing}")

    cached_digests, archive = _read_cache(os.path.join(weights_dir, CACHE_NAME))
    values: dict[str, np.ndarray] = {}
    digests: dict[str, str] = {}
    problems: list[str] = []
    parsed = 0
    try:
        for tensor in tensors:
            path = os.path.join(weights_dir, tensor.file)
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError as error:
                problems.append(f"OpenFace weight file {path} cannot be read ({error}); "
                                f"expected shape {tensor.shape}")
                continue
            digest = hashlib.sha256(data).hexdigest()
            digests[tensor.file] = digest
            array = None
            if archive is not None and cached_digests.get(tensor.file) == digest:
                array = _cached(archive, tensor.file.removesuffix(".csv"), tensor.size)
            if array is None:
                try:
                    array = _parse_csv(data, path, tensor)
                except WeightsError as error:
                    problems.append(str(error))
                    continue
                parsed += 1
            values[tensor.file] = array
    finally:
        if archive is not None:
            archive.close()
    if problems:
        raise WeightsError("\n".join(problems) if len(problems) == 1 else
                           f"{len(problems)} OpenFace weight files are unusable:\n"
                           + "\n".join("  " + p for p in problems))
    if parsed or set(cached_digests) != set(digests):
        _write_cache(weights_dir, digests, values)
    return values


def load_weights_from_FaceNet(model: keras.Model, weights_dir) -> None:  # noqa: N802 (the demo's name)
    """Fill ``model`` (from ``faceRecoModel``) with OpenFace's CSV export in ``weights_dir``."""
    tensors = export_tensors(model)
    values = _read_export(tensors, weights_dir)
    for tensor in tensors:
        tensor.variable.assign(tensor.to_keras(values[tensor.file]))


def write_openface_csv_export(model: keras.Model, weights_dir) -> None:
    """Write ``model``'s weights as OpenFace's CSV export: one line of ``%.14g`` per file.

    Float32 values survive the round trip exactly.
    """
    weights_dir = os.fspath(weights_dir)
    os.makedirs(weights_dir, exist_ok=True)
    for tensor in export_tensors(model):
        flat = tensor.from_keras(np.asarray(tensor.variable.numpy(), dtype=np.float32))
        line = ",".join(["%.14g"] * flat.size) % tuple(flat.astype(np.float64).tolist())
        with open(os.path.join(weights_dir, tensor.file), "w", encoding="ascii") as handle:
            handle.write(line + "\n")


def load_openface_model(weights_dir) -> keras.Model:
    """``faceRecoModel((3, 96, 96))`` with OpenFace's weights from ``weights_dir``."""
    from inception_blocks_v2 import faceRecoModel

    model = faceRecoModel((3, OPENFACE_INPUT_SIZE, OPENFACE_INPUT_SIZE))
    load_weights_from_FaceNet(model, weights_dir)
    return model


def channels_last_copy(model: keras.Model) -> keras.Model:
    """The network of ``model`` (from ``faceRecoModel``) with its weights, laid out
    channels-last: RGB float32 (N, 96, 96, 3) in [0, 1] in, the same encodings out.

    TensorFlow's own CPU convolution takes channels-last input only. The
    demo's channels-first model runs on a CPU only through oneDNN's
    operations, which TensorFlow leaves off on CPUs without AVX-512 (and the
    greeter turns off): there it fails ("The Conv2D op currently only supports
    the NHWC tensor format on the CPU"). Every weight keeps its shape, and the
    last pooling leaves 1x1, so the dense layer reads the same order.
    """
    def relaid(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if "data_format" in config:
            config["data_format"] = "channels_last"
        if isinstance(layer, (keras.layers.BatchNormalization, keras.layers.Concatenate)):
            config["axis"] = -1
        return type(layer).from_config(config)

    channels, height, width = model.input_shape[1:]
    copy = keras.models.clone_model(model, clone_function=relaid, input_tensors=keras.Input(
        (height, width, channels), name=model.inputs[0].name))
    copy.set_weights(model.get_weights())
    return copy
