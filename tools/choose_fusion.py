"""Choose the dlib+sface model's scales (greeter.encode.DLIB_UNIT, SFACE_UNIT) on a
labelled set that is then never reported on (the IMM face database).

Usage::

    .venv/bin/python tools/choose_fusion.py FOLDER [--folds 20] [--cache FILE.npz]

FOLDER holds one subfolder of photos per person. Every photo is encoded once
by the fused model; its raw parts (dlib's descriptor, SFace's unit feature)
are recovered from the shipped scales (``--cache`` keeps them for a rerun).
The fused distance is sqrt((dlib / DLIB_UNIT)^2 + (SFace / SFACE_UNIT)^2) <= 1.

The door's open set (bench/accuracy.py's: one photo enrolled for each of
half the people, the other photos visit, 20 folds) gives, for each weight of
dlib against SFace (DLIB_UNIT / SFACE_UNIT), two distances: under which
STRANGERS of the strangers' nearest photos lie (above it a stranger is
greeted too often), and under which KNOWN of the known visitors are nearest
to their own photo (below it they are not greeted). The weight where the
first is farthest above the second (their ratio) separates best. The
threshold is the first: strangers come first, and known visitors at a real
door (other days, other light) lie farther from their photo than a lab's
photos of one session do (a threshold between the two, tried first, greeted
only 0.79 of the known visitors in ../shared/faces). Both units are divided
by it so that the model's threshold is 1. (Greeted right and pair TAR at a
fixed FAR both saturate at 1.000 on such a set, so they cannot choose; the
margin can.)
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench.accuracy import folder_labels, open_set  # noqa: E402
from greeter import encode  # noqa: E402
from greeter.encode import FaceEncoder  # noqa: E402
from greeter.photos import list_photos  # noqa: E402

# dlib's unit against SFace's: from SFace nearly alone to dlib nearly alone.
WEIGHTS = np.round(np.arange(0.20, 1.601, 0.05), 3)
STRANGERS = 0.005
KNOWN = 0.995


def raw_parts(folder: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """dlib descriptors (N, 128), unit SFace features (N, 128) and the person of each
    photo in ``folder`` (NaN rows where the photo has no usable face)."""
    paths = list_photos([folder])
    labels = folder_labels(folder, paths)
    if labels is None:
        raise SystemExit(f"{folder}: photos must lie in one subfolder per person")
    encoder = FaceEncoder(encode.FUSED)
    encodings = np.full((len(paths), encoder.width), np.nan, np.float32)
    for row, path in enumerate(paths):
        result = encoder.encode_photo(path)
        if result.encoding is not None:
            encodings[row] = result.encoding
    first, second = encoder.parts
    return (encodings[:, first[0]:first[1]] * encode.DLIB_UNIT,
            encodings[:, second[0]:second[1]] * encode.SFACE_UNIT, labels)


def door_distances(encodings: np.ndarray, labels: list[str], folds: int, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Over ``folds`` draws of the open set: each stranger visit's distance to its
    nearest photo, and each known visit's distance to its own photo when that is
    the nearest (inf when another person's is nearer: never greeted right)."""
    labels_array = np.asarray(labels)
    people = sorted(set(labels))
    rng = np.random.default_rng(seed)
    strangers, known = [], []
    for _ in range(folds):
        enrolled = rng.permutation(people)[:len(people) // 2]
        rows = np.array([rng.choice(np.flatnonzero(labels_array == person))
                         for person in sorted(enrolled)])
        visits = np.setdiff1d(np.arange(len(labels)), rows)
        distances = np.linalg.norm(encodings[visits][:, None] - encodings[rows][None], axis=2)
        nearest = distances.argmin(axis=1)
        best = distances[np.arange(len(visits)), nearest]
        is_known = np.isin(labels_array[visits], enrolled)
        own = labels_array[rows][nearest] == labels_array[visits]
        strangers.append(best[~is_known])
        known.append(np.where(own, best, np.inf)[is_known])
    return np.concatenate(strangers), np.concatenate(known)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--folds", type=int, default=20)
    parser.add_argument("--cache", help="an .npz to keep the encodings in for a rerun")
    args = parser.parse_args()
    if args.cache and os.path.exists(args.cache):
        with np.load(args.cache) as saved:
            dlib, sface, labels = saved["dlib"], saved["sface"], list(saved["labels"])
    else:
        dlib, sface, labels = raw_parts(args.folder)
        if args.cache:
            np.savez(args.cache, dlib=dlib, sface=sface, labels=np.array(labels))
    print(f"{len(labels)} photos, {len(set(labels))} people, "
          f"{int(np.isnan(dlib[:, 0]).sum())} without a usable face")
    for name, part in (("dlib at 0.6", dlib / 0.6),
                       ("SFace at cosine 0.416", sface / np.sqrt(2 - 2 * 0.416))):
        result = open_set(part, labels, 1.0, args.folds)
        print(f"{name}: greeted right {result.right:.3f}, wrong {result.wrong:.4f}, "
              f"strangers greeted {result.strangers_greeted:.4f}")
    print(f"\n| DLIB_UNIT / SFACE_UNIT | {STRANGERS} of strangers under | {KNOWN} of known "
          "visitors under | ratio |\n|---|---|---|---|")
    best = None
    for weight in WEIGHTS:
        strangers, known = door_distances(np.hstack([dlib / weight, sface]), labels, args.folds)
        low, high = float(np.quantile(known, KNOWN)), float(np.quantile(strangers, STRANGERS))
        print(f"| {weight:.2f} | {high:.4f} | {low:.4f} | {high / low:.4f} |")
        if best is None or high / low > best[0]:
            best = (high / low, weight, high)
    _, weight, threshold = best
    dlib_unit, sface_unit = weight * threshold, threshold
    result = open_set(np.hstack([dlib / dlib_unit, sface / sface_unit]), labels, 1.0, args.folds)
    print(f"\nchosen: DLIB_UNIT = {dlib_unit:.3f}, SFACE_UNIT = {sface_unit:.3f}; door, "
          f"{args.folds} folds: greeted right {result.right:.3f}, wrong {result.wrong:.4f}, "
          f"strangers greeted {result.strangers_greeted:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
