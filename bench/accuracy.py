"""Pair accuracy of facenet's photo-to-encoding path on labelled photos.

    .venv/bin/python bench/accuracy.py [PEOPLE_DIR] [--crop] [--thresholds 0.5,0.55,...]

PEOPLE_DIR holds one folder per person (default: ../shared/faces/people).
Every same-person and different-person pair of photos is compared. A photo
with no usable face makes each of its pairs a failed pair: it counts as an
error whichever the pair's kind. Prints TAR (same-person pairs accepted), FAR
(different-person pairs accepted) and balanced accuracy ((TAR + 1 - FAR) / 2)
at each threshold, and the face_recognition library's figures on the same
pairs when it is installed.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from dataclasses import asdict

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from greeter.calibrate import pair_distances, rates_at  # noqa: E402
from greeter.encode import FaceEncoder  # noqa: E402
from greeter.photos import list_photos  # noqa: E402

DEFAULT_PEOPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                              "shared", "faces", "people")


def labelled_photos(people_dir: str) -> tuple[list[str], list[str]]:
    """Photo paths under ``people_dir`` and the person (folder name) of each."""
    paths = list_photos([people_dir])
    return paths, [os.path.basename(os.path.dirname(path)) for path in paths]


def pair_figures(encodings: np.ndarray, labels: list[str],
                 thresholds: list[float]) -> list[dict[str, float]]:
    """TAR, FAR and balanced accuracy at each threshold; NaN encodings fail their pairs."""
    pairs = pair_distances(encodings, labels)
    return [asdict(rates_at(pairs.same, pairs.different, t)) for t in thresholds]


def facenet_encodings(paths: list[str], encoder: FaceEncoder) -> tuple[np.ndarray, float]:
    """Encodings (NaN rows for failures) and milliseconds per photo."""
    encodings = np.full((len(paths), 128), np.nan, np.float32)
    started = time.perf_counter()
    for row, path in enumerate(paths):
        result = encoder.encode_photo(path)
        if result.encoding is None:
            print(f"  no usable face: {path}: {result.note}", file=sys.stderr)
        else:
            encodings[row] = result.encoding
    return encodings, (time.perf_counter() - started) * 1000 / len(paths)


def face_recognition_encodings(paths: list[str]) -> np.ndarray | None:
    """The face_recognition library's encodings (its defaults), or None if not installed."""
    try:
        import face_recognition
    except ImportError:
        return None
    encodings = np.full((len(paths), 128), np.nan, np.float32)
    for row, path in enumerate(paths):
        image = face_recognition.load_image_file(path, mode="RGB")
        boxes = face_recognition.face_locations(image)
        if boxes:
            # As facenet does: the largest face is the photo's subject.
            top, right, bottom, left = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
            encodings[row] = face_recognition.face_encodings(image, [(top, right, bottom, left)])[0]
    return encodings


def print_table(title: str, rows: list[dict[str, float]], failed: int, total: int) -> None:
    print(f"\n{title} ({failed} of {total} photos without a usable face)")
    print("| threshold | TAR | FAR | balanced accuracy |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['threshold']:.2f} | {row['tar']:.3f} | {row['far']:.4f} | "
              f"{row['balanced']:.4f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("people", nargs="?", default=DEFAULT_PEOPLE)
    parser.add_argument("--thresholds", default="0.45,0.5,0.55,0.6,0.65")
    parser.add_argument("--crop", action="store_true",
                        help="also measure unaligned cascade crops, for comparison")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the face_recognition library's figures")
    args = parser.parse_args()
    if not os.path.isdir(args.people):
        print(f"error: no folder {args.people}", file=sys.stderr)
        return 2
    paths, labels = labelled_photos(args.people)
    encoder = FaceEncoder()
    thresholds = sorted({encoder.threshold, *map(float, args.thresholds.split(","))})
    same = sum(a == b for a, b in itertools.combinations(labels, 2))
    different = len(labels) * (len(labels) - 1) // 2 - same
    print(f"{len(paths)} photos of {len(set(labels))} people: {same} same-person and "
          f"{different} different-person pairs; default threshold {encoder.threshold}")
    encodings, ms = facenet_encodings(paths, encoder)
    failed = int(np.isnan(encodings[:, 0]).sum())
    print_table(f"facenet, aligned ({ms:.0f} ms per photo)",
                pair_figures(encodings, labels, thresholds), failed, len(paths))
    if args.crop:
        crop_encodings, ms = facenet_encodings(paths, FaceEncoder(aligned=False))
        print_table(f"facenet, unaligned cascade crop ({ms:.0f} ms per photo)",
                    pair_figures(crop_encodings, labels, thresholds),
                    int(np.isnan(crop_encodings[:, 0]).sum()), len(paths))
    reference = None if args.no_reference else face_recognition_encodings(paths)
    if reference is not None:
        print_table("face_recognition library (HOG, 5 landmarks, its default 0.6)",
                    pair_figures(reference, labels, thresholds),
                    int(np.isnan(reference[:, 0]).sum()), len(paths))
    elif not args.no_reference:
        print("\n(face_recognition is not installed: ./setup.sh --dev adds it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
