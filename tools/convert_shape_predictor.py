"""Convert dlib's 5-point shape predictor into ``weights/shape_predictor_5.npz``.

Usage::

    python tools/convert_shape_predictor.py [DAT_FILE]

``DAT_FILE`` is ``shape_predictor_5_face_landmarks.dat`` (default: the copy in
the installed PyPI package ``face_recognition_models``, a dev dependency).

The file is dlib's own serialisation of ``dlib::shape_predictor``
(dlib/image_processing/shape_predictor.h, dlib/serialize.h): a version
number, the initial shape, one forest of regression trees per cascade level,
and per level the feature pixels as an anchor landmark and an offset. Every
tree of this model is complete and of one depth, so each level becomes plain
arrays: split features and thresholds (levels x trees x splits), leaf vectors
(levels x trees x leaves x 10). ``greeter.shape5`` runs them.
Also writes ``weights/shape_predictor_5.source.json`` describing the source.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from greeter.weights import save_tensors  # noqa: E402
from tools.dlib_format import DlibReader  # noqa: E402

OUT_DIR = os.path.join(HERE, "..", "weights")
OUT_NPZ = "shape_predictor_5.npz"
OUT_SOURCE = "shape_predictor_5.source.json"
PACKAGE = "face_recognition_models"


def read_shape_predictor(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of a serialised ``dlib::shape_predictor`` (see the module docstring)."""
    reader = DlibReader(data)
    version = reader.integer()
    if version != 1:
        raise ValueError(f"shape predictor version {version}; dlib writes version 1")
    initial_shape = reader.column()

    def tree():
        splits = reader.sequence(lambda: (reader.integer(), reader.integer(), reader.real()))
        leaves = reader.sequence(reader.column)
        return splits, leaves

    forests = reader.sequence(lambda: reader.sequence(tree))
    anchors = reader.sequence(lambda: reader.sequence(reader.integer))
    deltas = reader.sequence(lambda: reader.sequence(lambda: (reader.real(), reader.real())))
    if not reader.at_end():
        raise ValueError("bytes left over after the shape predictor")

    depths = {len(splits) for forest in forests for splits, _ in forest}
    if len(depths) != 1 or any(len(leaves) != len(splits) + 1
                               for forest in forests for splits, leaves in forest):
        raise ValueError("trees of different sizes; greeter.shape5 expects complete trees "
                         "of one depth")
    splits = np.array([[s for s, _ in forest] for forest in forests], np.float64)
    return {
        "initial_shape": initial_shape.reshape(-1, 2),
        "split_pixel_1": splits[..., 0].astype(np.float32),
        "split_pixel_2": splits[..., 1].astype(np.float32),
        "split_threshold": splits[..., 2].astype(np.float32),
        "leaf_values": np.array([[leaves for _, leaves in forest] for forest in forests],
                                np.float32).reshape(len(forests), len(forests[0]), -1,
                                                    len(initial_shape) // 2, 2),
        "pixel_anchor": np.array(anchors, np.float32),
        "pixel_delta": np.array(deltas, np.float32),
    }


def default_dat_file() -> str:
    import face_recognition_models  # the dev dependency that ships the model
    return face_recognition_models.pose_predictor_five_point_model_location()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dat_file", nargs="?", help="shape_predictor_5_face_landmarks.dat "
                        f"(default: the one in the installed {PACKAGE})")
    parser.add_argument("--out-dir", default=OUT_DIR, help="where to write (default: weights/)")
    args = parser.parse_args(argv)
    path = args.dat_file or default_dat_file()
    with open(path, "rb") as file:
        data = file.read()
    arrays = read_shape_predictor(data)
    os.makedirs(args.out_dir, exist_ok=True)
    save_tensors(os.path.join(args.out_dir, OUT_NPZ), arrays)

    levels, trees, splits = arrays["split_threshold"].shape
    from importlib import metadata
    source = {
        "description": "dlib's 5-point face landmark predictor (an ensemble of regression "
                       "trees, Kazemi & Sullivan 2014): outer and inner eye corners of both "
                       "eyes and the bottom of the nose, from a face box",
        "package": PACKAGE,
        "version": metadata.version(PACKAGE),
        "file": "face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
        "sha256": hashlib.sha256(data).hexdigest(),
        "cascade_levels": levels,
        "trees_per_level": trees,
        "tree_depth": int(math.log2(splits + 1)),
        "feature_pixels_per_level": int(arrays["pixel_anchor"].shape[1]),
        "licence": {
            "package": "face_recognition_models 0.3.0 ships a LICENSE file with the CC0 1.0 "
                       "Universal text (its PyPI metadata says 'MIT license')",
            "model": "Davis King, dlib-models README (github.com/davisking/dlib-models): 'As "
                     "far as I am concerned, anyone can do whatever they want with these model "
                     "files as I've released them into the public domain.' Unlike the 68-point "
                     "model (iBUG 300-W data, non-commercial), the 5-point model was trained on "
                     "dlib's own 5-point face landmark dataset of 7198 faces.",
        },
        "output": f"weights/{OUT_NPZ}",
        "reproduce": [
            "pip install face_recognition_models==0.3.0 'setuptools<81'",
            "python tools/convert_shape_predictor.py",
        ],
    }
    with open(os.path.join(args.out_dir, OUT_SOURCE), "w") as file:
        json.dump(source, file, indent=2, ensure_ascii=False)
        file.write("\n")
    print(f"wrote {OUT_NPZ}: {levels} levels x {trees} trees of depth "
          f"{source['tree_depth']}, sha256 of the source {source['sha256'][:12]}...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
