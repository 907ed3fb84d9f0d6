"""Convert dlib's face descriptor network into ``weights/dlib_resnet.npz``.

Usage::

    python tools/convert_dlib_resnet.py [DAT_FILE]

``DAT_FILE`` is ``dlib_face_recognition_resnet_model_v1.dat`` (default: the
copy in the installed PyPI package ``face_recognition_models``, a dev
dependency): Davis King's trained network in dlib's own serialisation, with
float32 weights, where face-api's copy is quantised to uint8 (which alone
moved encodings about 0.037 from dlib's).

In that file each layer with weights writes its type name and then its
parameters, in forward order (dlib/dnn/layers.h): 29 convolutions (``con_4``:
one tensor of filters then biases, then the number of filters and the kernel
size), each followed by a per-channel affine layer (``affine_``: gamma then
beta), and one fully connected layer without bias (``fc_2``: outputs, inputs,
then the weights as inputs x outputs). The tensors get greeter.resnet's names
(face-api's), filters in Keras's (rows, columns, in, out) order, and are
stored as float16: 11 MB, encodings within 0.002 of float32's.
Also writes ``weights/dlib_resnet.source.json`` describing the source.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from greeter.resnet import RESIDUAL_BLOCKS  # noqa: E402
from greeter.weights import save_tensors  # noqa: E402
from tools.dlib_format import DlibReader  # noqa: E402

OUT_DIR = os.path.join(HERE, "..", "weights")
OUT_NPZ = "dlib_resnet.npz"
OUT_SOURCE = "dlib_resnet.source.json"
PACKAGE = "face_recognition_models"
# A serialised std::string: its length as a one-byte integer, then the name.
LAYER_NAMES = re.compile(rb"\x01(\x05con_4|\x07affine_|\x04fc_2)")


def layer_prefixes() -> list[str]:
    """greeter.resnet's names of the convolution + affine pairs, in forward order."""
    return ["conv32_down"] + [f"{block}/{conv}" for block, _, _ in RESIDUAL_BLOCKS
                              for conv in ("conv1", "conv2")]


def read_dlib_resnet(data: bytes) -> dict[str, np.ndarray]:
    """greeter.resnet's named float32 tensors from a serialised dlib face descriptor."""
    convolutions, affines, dense = [], [], []
    for found in LAYER_NAMES.finditer(data):
        reader = DlibReader(data)
        reader.stream.seek(found.end())
        kind = found.group(1)[1:]
        if kind == b"con_4":
            params = reader.tensor().reshape(-1)
            filters, rows, cols = reader.integer(), reader.integer(), reader.integer()
            inputs = (len(params) - filters) // (filters * rows * cols)
            weights = params[:filters * inputs * rows * cols].reshape(filters, inputs, rows, cols)
            convolutions.append((weights.transpose(2, 3, 1, 0), params[-filters:]))
        elif kind == b"affine_":
            params = reader.tensor().reshape(2, -1)
            affines.append((params[0], params[1]))
        else:
            outputs, inputs = reader.integer(), reader.integer()
            dense.append(reader.tensor().reshape(-1)[:inputs * outputs].reshape(inputs, outputs))
    prefixes = layer_prefixes()
    if len(convolutions) != len(prefixes) or len(affines) != len(prefixes) or len(dense) != 1:
        raise ValueError(f"found {len(convolutions)} convolutions, {len(affines)} affine and "
                         f"{len(dense)} dense layers; dlib's face descriptor has "
                         f"{len(prefixes)}, {len(prefixes)} and 1")
    tensors = {"fc": dense[0]}
    for prefix, (filters, bias), (gamma, beta) in zip(prefixes, convolutions, affines):
        tensors[f"{prefix}/conv/filters"] = filters
        tensors[f"{prefix}/conv/bias"] = bias
        tensors[f"{prefix}/scale/weights"] = gamma
        tensors[f"{prefix}/scale/biases"] = beta
    return tensors


def default_dat_file() -> str:
    import face_recognition_models  # the dev dependency that ships the model
    return face_recognition_models.face_recognition_model_location()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dat_file", nargs="?", help="dlib_face_recognition_resnet_model_v1.dat "
                        f"(default: the one in the installed {PACKAGE})")
    parser.add_argument("--out-dir", default=OUT_DIR, help="where to write (default: weights/)")
    args = parser.parse_args(argv)
    path = args.dat_file or default_dat_file()
    with open(path, "rb") as file:
        data = file.read()
    tensors = read_dlib_resnet(data)
    os.makedirs(args.out_dir, exist_ok=True)
    save_tensors(os.path.join(args.out_dir, OUT_NPZ),
                 {name: tensor.astype(np.float16) for name, tensor in tensors.items()})

    from importlib import metadata
    source = {
        "description": "dlib's ResNet face descriptor (dlib_face_recognition_resnet_model_v1): "
                       "150x150 RGB chip in, 128-d descriptor out",
        "package": PACKAGE,
        "version": metadata.version(PACKAGE),
        "file": "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
        "sha256": hashlib.sha256(data).hexdigest(),
        "tensors": len(tensors),
        "parameters": int(sum(tensor.size for tensor in tensors.values())),
        "storage": "float16 (the file holds float32): encodings within 0.002 of float32's",
        "licence": {
            "package": "face_recognition_models 0.3.0 ships a LICENSE file with the CC0 1.0 "
                       "Universal text (its PyPI metadata says 'MIT license')",
            "model": "Davis King, dlib-models README (github.com/davisking/dlib-models): 'As "
                     "far as I am concerned, anyone can do whatever they want with these model "
                     "files as I've released them into the public domain.'",
        },
        "output": f"weights/{OUT_NPZ}",
        "reproduce": [
            "pip install face_recognition_models==0.3.0 'setuptools<81'",
            "python tools/convert_dlib_resnet.py",
        ],
    }
    with open(os.path.join(args.out_dir, OUT_SOURCE), "w") as file:
        json.dump(source, file, indent=2, ensure_ascii=False)
        file.write("\n")
    print(f"wrote {OUT_NPZ}: {len(tensors)} tensors, {source['parameters']} parameters, "
          f"sha256 of the source {source['sha256'][:12]}...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
