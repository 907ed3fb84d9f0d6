"""Convert face-api's face recognition model into ``weights/dlib_resnet.npz``.

Usage::

    cd /tmp/faceapi && npm pack @vladmandic/face-api@1.7.15 \\
        && tar xzf vladmandic-face-api-1.7.15.tgz
    python tools/convert_recognition_weights.py /tmp/faceapi/package

Writes, next to the project's other weights:

- ``weights/dlib_resnet.npz``: every tensor of ``model/face_recognition_model.bin``
  under its face-api name, uint8-quantised as published (the package stores
  the eight conv64_* filters as plain float32 and so does this file; about
  6.5 MB), so the file holds exactly the published model and nothing else;
- ``weights/dlib_resnet.source.json``: where the tensors came from (package,
  version, file, sha256) and under which licences;
- ``weights/LICENSE.face-api.txt``: the package's licence text, which the MIT
  licence asks to ship with the weights.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from greeter.weights import QuantizedTensor, save_tensors  # noqa: E402
from tools.face_api_package import PACKAGE, VERSION, read_face_api_model  # noqa: E402

MODEL_NAME = "face_recognition_model"
WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "weights")
OUTPUT_NAME = "dlib_resnet"


def _copyright_holder(license_path: str) -> str:
    """The ``Copyright ...`` line of the package's LICENSE, as written there."""
    with open(license_path, encoding="utf-8") as license_file:
        for line in license_file:
            if line.strip().lower().startswith("copyright"):
                return line.strip()
    raise ValueError(f"{license_path} has no copyright line")


def convert(package_dir: str, weights_dir: str = WEIGHTS_DIR) -> dict:
    """Write the three files described in the module docstring into ``weights_dir``.

    Returns the provenance record that went into ``dlib_resnet.source.json``.
    """
    tensors, sha256 = read_face_api_model(package_dir, MODEL_NAME)
    quantised = sum(isinstance(tensor, QuantizedTensor) for tensor in tensors.values())
    os.makedirs(weights_dir, exist_ok=True)
    npz_path = os.path.join(weights_dir, OUTPUT_NAME + ".npz")
    save_tensors(npz_path, tensors)

    license_path = os.path.join(package_dir, "LICENSE")
    shutil.copyfile(license_path, os.path.join(weights_dir, "LICENSE.face-api.txt"))
    with open(os.path.join(package_dir, "package.json"), encoding="utf-8") as package_file:
        package_json = json.load(package_file)
    if package_json.get("name") != PACKAGE or package_json.get("version") != VERSION:
        # The converter and greeter/resnet.py were checked against this exact release.
        raise ValueError(f"{package_dir} holds {package_json.get('name')} "
                         f"{package_json.get('version')}, expected {PACKAGE} {VERSION}")

    source = {
        "package": PACKAGE,
        "version": VERSION,
        "file": f"model/{MODEL_NAME}.bin",
        "manifest": f"model/{MODEL_NAME}-weights_manifest.json",
        "sha256": sha256,
        "tensors": len(tensors),
        "quantisation": (f"{quantised} tensors uint8 per tensor (value = q * scale + min), "
                         f"{len(tensors) - quantised} float32 (the conv64_* filters), "
                         "all kept exactly as published"),
        "licence": {
            "package": package_json.get("license", "MIT"),
            "copyright": _copyright_holder(license_path),
            "licence_file": "LICENSE.face-api.txt",
            "note": ("@vladmandic/face-api is a fork of face-api.js by Vincent Muehler, "
                     "also MIT."),
        },
        "origin": {
            "model": "dlib_face_recognition_resnet_model_v1",
            "author": "Davis King (dlib)",
            "url": "https://github.com/davisking/dlib-models",
            "licence": "public domain (the dlib-models repository is marked CC0-1.0)",
            "wording": ("dlib-models README: 'As far as I am concerned, anyone can do "
                        "whatever they want with these model files as I've released them "
                        "into the public domain.'"),
            "conversion": "converted to TensorFlow.js by face-api.js, quantised to uint8 there",
        },
        "output": f"weights/{OUTPUT_NAME}.npz",
        "reproduce": [
            f"npm pack {PACKAGE}@{VERSION}",
            f"tar xzf vladmandic-face-api-{VERSION}.tgz",
            "python tools/convert_recognition_weights.py package",
        ],
    }
    with open(os.path.join(weights_dir, OUTPUT_NAME + ".source.json"), "w",
              encoding="utf-8") as source_file:
        json.dump(source, source_file, indent=2)
        source_file.write("\n")
    return source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package_dir", help="the unpacked npm package (the folder holding model/)")
    args = parser.parse_args(argv)
    source = convert(args.package_dir)
    print(f"wrote {source['output']} ({source['tensors']} tensors, "
          f"source sha256 {source['sha256']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
