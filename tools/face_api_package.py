"""Read a model out of the npm package @vladmandic/face-api.

The package ships each model as ``model/<name>.bin`` (the tensors, one after
another) and ``model/<name>-weights_manifest.json`` (their names, shapes and
uint8 quantisation). Used by the conversion scripts only, never at run time.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from greeter.weights import QuantizedTensor  # noqa: E402

PACKAGE = "@vladmandic/face-api"
VERSION = "1.7.15"


def read_face_api_model(package_dir: str,
                        model_name: str) -> tuple[dict[str, QuantizedTensor | np.ndarray], str]:
    """The model's tensors by face-api name, and the sha256 of its .bin file.

    uint8-quantised tensors come back as QuantizedTensor, the few that the
    package stores unquantised as float32 arrays.

    ``package_dir`` is the unpacked package (the folder holding ``model/``).
    """
    model_dir = os.path.join(package_dir, "model")
    with open(os.path.join(model_dir, f"{model_name}-weights_manifest.json")) as manifest_file:
        manifest = json.load(manifest_file)
    blob = b""
    for group in manifest:
        for part in group["paths"]:
            with open(os.path.join(model_dir, part), "rb") as part_file:
                blob += part_file.read()
    tensors: dict[str, QuantizedTensor | np.ndarray] = {}
    offset = 0
    for group in manifest:
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"]))
            quantization = spec.get("quantization")
            if quantization is None:
                # Some tensors are published unquantised (e.g. the conv64_* filters of
                # face_recognition_model): little-endian float32, kept as they are.
                if spec["dtype"] != "float32":
                    raise ValueError(f"{spec['name']}: unexpected unquantised {spec['dtype']}")
                values = np.frombuffer(blob, "<f4", count, offset).reshape(spec["shape"])
                offset += 4 * count
                tensors[spec["name"]] = values.astype(np.float32)
                continue
            if quantization["dtype"] != "uint8":
                raise ValueError(f"{spec['name']}: unexpected {quantization['dtype']} quantisation")
            values = np.frombuffer(blob, np.uint8, count, offset).reshape(spec["shape"])
            offset += count
            tensors[spec["name"]] = QuantizedTensor(values.copy(), quantization["scale"],
                                                    quantization["min"])
    if offset != len(blob):
        raise ValueError(f"{model_name}: {len(blob) - offset} bytes left after the manifest's tensors")
    return tensors, hashlib.sha256(blob).hexdigest()
