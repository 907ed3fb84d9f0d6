"""facenet's photo-to-encoding path against face_recognition's, on photo folders.

    .venv/bin/python bench/accuracy.py [FOLDER ...] [--models dlib+sface,dlib] [--folds 20]
                                       [--no-reference]

Each FOLDER is one data set (default: ../shared/faces/people). A folder whose
photos all lie in per-person subfolders (FOLDER/person/photo.jpg) is
labelled; any other folder only counts for the self-distance. For each data
set, each of facenet's ``--models`` at its own default threshold, with
face_recognition (its defaults: HOG boxes, the 5-point predictor, one
jitter; the largest face of a photo; 0.6) in the same run:

- self-distance: the L2 distance between facenet's dlib encoding of a photo and
  face_recognition's encoding of the same face (median, 95th percentile,
  maximum), over the photos both encode; and over all data sets together,
  each distinct photo (by content) once. In a photo of several faces, the
  same face is face_recognition's face nearest to facenet's encoding; the
  photos where that is not its largest face (the two chose different
  subjects) are counted;
- labelled sets: every pair of photos at the default threshold: TAR (same
  person accepted) and FAR (different people accepted); TAR where FAR is at
  most 0.001. A photo with no usable face fails each of its pairs;
- labelled sets, the greeter's question, over many folds: one random photo
  enrolled for each of a random half of the people, every other photo a
  visitor; the share of known visitors greeted by the right name and by a
  wrong name, and the share of strangers greeted at all. A visitor photo
  with no usable face is not greeted; a person whose enrolled photo has none
  is not known.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from greeter.calibrate import pair_distances, rates_at  # noqa: E402
from greeter.encode import FaceEncoder  # noqa: E402
from greeter.photos import list_photos  # noqa: E402

DEFAULT_PEOPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                              "shared", "faces", "people")
OPEN_SET_FAR = 0.001


def labelled_photos(people_dir: str) -> tuple[list[str], list[str]]:
    """Photo paths under ``people_dir`` and the person (folder name) of each."""
    paths = list_photos([people_dir])
    return paths, [os.path.basename(os.path.dirname(path)) for path in paths]


def folder_labels(folder: str, paths: list[str]) -> list[str] | None:
    """The person of each photo when every photo is in a per-person subfolder of
    ``folder`` (at least two people), else None."""
    parents = [os.path.relpath(os.path.dirname(path), folder) for path in paths]
    if any(parent in (".", "") or os.sep in parent for parent in parents):
        return None
    return parents if len(set(parents)) >= 2 else None


def pair_figures(encodings: np.ndarray, labels: list[str],
                 thresholds: list[float]) -> list[dict[str, float]]:
    """TAR, FAR and balanced accuracy at each threshold; NaN encodings fail their pairs."""
    pairs = pair_distances(encodings, labels)
    return [asdict(rates_at(pairs.same, pairs.different, t)) for t in thresholds]


def tar_at_far(encodings: np.ndarray, labels: list[str], far: float) -> float:
    """The share of same-person pairs accepted at the largest threshold that accepts
    at most ``far`` of the different-person pairs (NaN pairs: failures, as above)."""
    pairs = pair_distances(encodings, labels)
    different = np.sort(pairs.different[~np.isnan(pairs.different)])
    allowed = int(np.floor(far * len(pairs.different))) - int(np.isnan(pairs.different).sum())
    if allowed < 0 or len(pairs.same) == 0:
        return 0.0
    threshold = different[allowed] if allowed < len(different) else np.inf
    with np.errstate(invalid="ignore"):
        return float(np.mean(pairs.same < threshold))


@dataclass(frozen=True)
class OpenSet:
    """The greeter's question over many folds (see the module docstring)."""

    right: float             # share of known visitors greeted by their own name
    wrong: float             # share of known visitors greeted by someone else's
    strangers_greeted: float  # share of strangers greeted by any name
    known_visits: int
    stranger_visits: int


def open_set(encodings: np.ndarray, labels: list[str], threshold: float, folds: int,
             seed: int = 0) -> OpenSet:
    """Enrol one photo for each of half the people, the rest visit; ``folds`` draws."""
    labels_array = np.asarray(labels)
    people = sorted(set(labels))
    right = wrong = known = strangers = greeted_strangers = 0
    rng = np.random.default_rng(seed)
    for _ in range(folds):
        enrolled = set(rng.permutation(people)[:len(people) // 2])
        gallery_rows = [int(rng.choice(np.flatnonzero(labels_array == person)))
                        for person in sorted(enrolled)]
        gallery_rows = [row for row in gallery_rows if not np.isnan(encodings[row, 0])]
        gallery = encodings[gallery_rows]
        for row, person in enumerate(labels):
            if row in gallery_rows:
                continue
            name = None
            if len(gallery) and not np.isnan(encodings[row, 0]):
                distances = np.linalg.norm(gallery - encodings[row], axis=1)
                nearest = int(np.argmin(distances))
                if distances[nearest] <= threshold:
                    name = labels[gallery_rows[nearest]]
            if person in enrolled:
                known += 1
                right += name == person
                wrong += name is not None and name != person
            else:
                strangers += 1
                greeted_strangers += name is not None
    return OpenSet(right / max(known, 1), wrong / max(known, 1),
                   greeted_strangers / max(strangers, 1), known, strangers)


def facenet_encodings(paths: list[str], encoder: FaceEncoder) -> tuple[np.ndarray, float]:
    """Encodings (NaN rows for failures) and milliseconds per photo."""
    encodings = np.full((len(paths), encoder.width), np.nan, np.float32)
    started = time.perf_counter()
    for row, path in enumerate(paths):
        result = encoder.encode_photo(path)
        if result.encoding is None:
            print(f"  facenet, no usable face: {path}: {result.note}", file=sys.stderr)
        else:
            encodings[row] = result.encoding
    return encodings, (time.perf_counter() - started) * 1000 / max(len(paths), 1)


def face_recognition_encodings(paths: list[str]
                               ) -> tuple[np.ndarray, list[np.ndarray], float] | None:
    """The face_recognition library's encodings with its defaults: of each photo's
    largest face (NaN rows where it finds none), of all its faces (faces, 128),
    and milliseconds per photo; None if the library is not installed."""
    try:
        import face_recognition
    except ImportError:
        return None
    largest = np.full((len(paths), 128), np.nan, np.float32)
    every: list[np.ndarray] = []
    started = time.perf_counter()
    for row, path in enumerate(paths):
        try:
            image = face_recognition.load_image_file(path, mode="RGB")
        except (OSError, ValueError) as error:  # PIL's UnidentifiedImageError is an OSError
            print(f"  face_recognition, cannot read {path}: {error}", file=sys.stderr)
            every.append(np.zeros((0, 128), np.float32))
            continue
        # As facenet does: the largest face is the photo's subject.
        boxes = sorted(face_recognition.face_locations(image),
                       key=lambda b: (b[2] - b[0]) * (b[1] - b[3]), reverse=True)
        every.append(np.array(face_recognition.face_encodings(image, boxes),
                              np.float32).reshape(-1, 128))
        if boxes:
            largest[row] = every[-1][0]
        else:
            print(f"  face_recognition, no face: {path}", file=sys.stderr)
    return largest, every, (time.perf_counter() - started) * 1000 / max(len(paths), 1)


def self_distances(ours: np.ndarray, reference: list[np.ndarray]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per photo that both sides encode: the L2 distance from facenet's encoding to
    the nearest of face_recognition's faces (``reference``: each photo's faces,
    largest first), whether that face is not face_recognition's largest, and the
    photo's row."""
    rows = [row for row, faces in enumerate(reference)
            if len(faces) and not np.isnan(ours[row, 0])]
    distances = [np.linalg.norm(reference[row] - ours[row], axis=1) for row in rows]
    return (np.array([d.min() for d in distances]),
            np.array([d.argmin() > 0 for d in distances], bool), np.array(rows, int))


def _spread(distances: np.ndarray) -> str:
    if len(distances) == 0:
        return "no photo encoded by both"
    return (f"median {np.median(distances):.3f}, 95th percentile "
            f"{np.percentile(distances, 95):.3f}, max {distances.max():.3f} "
            f"over {len(distances)} photos")


def print_accuracy(sides: dict[str, np.ndarray], labels: list[str],
                   thresholds: dict[str, float], scales: list[float], folds: int) -> None:
    """The pair and open-set tables of one labelled set, one column per side, each at
    its own default threshold (``thresholds``), and pair rates at ``scales`` of it."""
    names = list(sides)
    print("\n| at each one's default threshold | "
          + " | ".join(f"{n} ({thresholds[n]:g})" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    pairs = {name: pair_figures(enc, labels, [scale * thresholds[name] for scale in scales])
             for name, enc in sides.items()}
    at_default = {name: rows[scales.index(1.0)] for name, rows in pairs.items()}
    opens = {name: open_set(enc, labels, thresholds[name], folds) for name, enc in sides.items()}
    rows = [
        ("same-person pairs accepted (TAR)", lambda n: f"{at_default[n]['tar']:.3f}"),
        ("different-person pairs accepted (FAR)", lambda n: f"{at_default[n]['far']:.4f}"),
        (f"TAR at FAR <= {OPEN_SET_FAR}",
         lambda n: f"{tar_at_far(sides[n], labels, OPEN_SET_FAR):.3f}"),
        ("known visitor greeted by the right name", lambda n: f"{opens[n].right:.3f}"),
        ("known visitor greeted by a wrong name", lambda n: f"{opens[n].wrong:.4f}"),
        ("stranger greeted", lambda n: f"{opens[n].strangers_greeted:.4f}"),
        ("photos with no usable face",
         lambda n: f"{int(np.isnan(sides[n][:, 0]).sum())} of {len(labels)}"),
    ]
    for title, cell in rows:
        print(f"| {title} | " + " | ".join(cell(name) for name in names) + " |")
    first = opens[names[0]]
    print(f"(open set: {folds} folds, {first.known_visits} known and "
          f"{first.stranger_visits} stranger visits)")
    print("\n| threshold, x the default | " + " | ".join(f"{n} TAR | {n} FAR" for n in names)
          + " |")
    print("|---|" + "---|---|" * len(names))
    for index, value in enumerate(scales):
        print(f"| {value:.2f} | " + " | ".join(
            f"{pairs[n][index]['tar']:.3f} | {pairs[n][index]['far']:.4f}" for n in names) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", default=[DEFAULT_PEOPLE])
    parser.add_argument("--models", default="dlib+sface,dlib",
                        help="facenet's models to measure, each at its default threshold")
    parser.add_argument("--scales", default="0.9,0.95,1.05,1.1",
                        help="pair rates also at these multiples of each default threshold")
    parser.add_argument("--folds", type=int, default=20, help="open-set draws (default 20)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the face_recognition library's figures")
    args = parser.parse_args()
    missing = [folder for folder in args.folders if not os.path.isdir(folder)]
    if missing:
        print(f"error: no folder {', '.join(missing)}", file=sys.stderr)
        return 2
    encoders = {f"facenet {model}": FaceEncoder(model) for model in args.models.split(",")}
    # The self-distance compares dlib's part with face_recognition's encodings.
    dlib_side = next((name for name, e in encoders.items() if e.network == "dlib"), None)
    scales = sorted({1.0, *map(float, args.scales.split(","))})
    thresholds = {name: encoder.threshold for name, encoder in encoders.items()}
    thresholds["face_recognition"] = 0.6
    all_self: dict[str, float] = {}
    for folder in args.folders:
        paths = list_photos([folder])
        labels = folder_labels(folder, paths)
        kind = (f"{len(set(labels))} people, "
                f"{sum(a == b for a, b in itertools.combinations(labels, 2))} same-person "
                "pairs" if labels else "unlabelled")
        print(f"\n## {folder}: {len(paths)} photos, {kind}")
        sides = {}
        for name, encoder in encoders.items():
            sides[name], ms = facenet_encodings(paths, encoder)
            print(f"{name}: {ms:.0f} ms per photo")
        reference = None if args.no_reference else face_recognition_encodings(paths)
        if reference is not None:
            sides["face_recognition"], every_face, ms = reference
            print(f"face_recognition: {ms:.0f} ms per photo")
            distances, other_subject, rows = self_distances(
                sides[dlib_side] if dlib_side else np.full((len(paths), 128), np.nan), every_face)
            print(f"self-distance: {_spread(distances)}; facenet's subject is not "
                  f"face_recognition's largest face in {int(other_subject.sum())}")
            for row, distance in zip(rows, distances):
                with open(paths[row], "rb") as photo:
                    all_self[hashlib.sha256(photo.read()).hexdigest()] = float(distance)
                if distance > 0.1:
                    print(f"  self-distance {distance:.3f}: {paths[row]}", file=sys.stderr)
        elif not args.no_reference:
            print("(face_recognition is not installed: ./setup.sh --dev adds it)")
        if labels:
            print_accuracy(sides, labels, thresholds, scales, args.folds)
    if len(args.folders) > 1 and all_self:
        print(f"\n## all sets, each distinct photo once: self-distance "
              f"{_spread(np.array(list(all_self.values())))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
