"""Who the greeter welcomes in real footage, by model: right people, strangers, when.

    .venv/bin/python bench/doors.py [--models dlib+sface,dlib] [--detectors yunet,faceboxes]

Every clip in ../shared/videos is watched by the greeter's own loop
(FaceRecogniser, GreetingPolicy with --confirm 3, nobody greeted twice),
knowing, as a user would have enrolled them:

- all 14 people of ../shared/faces/people (every photo of each);
- Alexandria, from frame 50 of WDA_AlexandriaOcasioCortez_000.mp4;
- Anna and Ben, from the first frames of the head-pose clips of each alone.

The people each clip is known to show (../shared/videos/README.md) are the
only right greetings; any other greeting is a stranger welcomed. For each
model and frame detector (the photos are found with FaceBoxes whatever the
detector) it prints each clip's greetings and the frame of each, the CPU time
(process_time) per frame, and how many faces the second network encoded.
Beside it, for dlib alone, the nearest any stranger's track came to a photo
when named from the mean of its looks (the rule before issue 20) and from
the median of their distances (today's): the margin to the threshold.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# As the app runs TensorFlow (greeter/app.py): oneDNN off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from greeter.detect import DEFAULT_DETECTOR, DETECTORS  # noqa: E402

SHARED = REPO.parent / "shared"
VIDEOS = SHARED / "videos"

# Who each clip shows, of the people enrolled (README of ../shared/videos).
EXPECTED = {
    "podium/obama.mp4": {"Obama"},
    "talking/WDA_AlexandriaOcasioCortez_000.mp4": {"Alexandria"},
    "talking/retalking_face3.mp4": {"Alexandria"},
    "hallway/head-pose-face-detection-female-and-male.gif": {"Anna", "Ben"},
    "hallway/head-pose-face-detection-female.gif": {"Anna"},
    "hallway/head-pose-face-detection-male.gif": {"Ben"},
    # The woman on the left is Anna (tests/test_real_videos.py).
    "hallway/face-demographics-walking-and-pause.gif": {"Anna"},
    "hallway/face-demographics-walking.gif": {"Anna"},
}
# Clips to enrol from (name: clip, frame): a still, as a user would crop it.
STILLS = {"Alexandria": ("talking/WDA_AlexandriaOcasioCortez_000.mp4", 50),
          "Anna": ("hallway/head-pose-face-detection-female.gif", 0),
          "Ben": ("hallway/head-pose-face-detection-male.gif", 0)}


def enrol(encoder, images: Path) -> None:
    """Fill ``images`` with the people listed in the module docstring."""
    from greeter.crops import crop_around
    for person in sorted((SHARED / "faces" / "people").iterdir()):
        for photo in sorted(person.iterdir()):
            shutil.copy(photo, images / f"{person.name}_{photo.stem.split('_')[-1]}{photo.suffix}")
    for name, (clip, index) in STILLS.items():
        capture = cv2.VideoCapture(str(VIDEOS / clip))
        for _ in range(index + 1):
            ok, frame = capture.read()
        capture.release()
        box = encoder.detector.face_locations(frame)[0]
        cv2.imwrite(str(images / f"{name}.jpg"), crop_around(frame, box))


def stranger_margins(recogniser, gallery, known: set[str], first: slice,
                     margins: dict[str, float]) -> None:
    """Update the nearest distance any stranger's track came to a photo of someone
    else by each rule, on the first network's part (the dlib model's whole)."""
    from greeter.match import Gallery, match_faces, match_looks
    if not len(gallery.names):
        return
    # Strangers to this clip: the photos of people it does not show.
    others = [row for row, name in enumerate(gallery.names) if name not in known]
    if not others:
        return
    part = Gallery(tuple(gallery.names[row] for row in others),
                   np.ascontiguousarray(gallery.encodings[others][:, first]))
    for track in recogniser._tracks:
        if not track.looks:
            continue
        looks = np.array(track.looks)[:, first]
        mean = match_faces(part, looks.mean(0)[None], np.inf)[0].distance
        median = match_looks(part, looks, np.inf, ((0, looks.shape[1]),)).distance
        margins["mean"] = min(margins["mean"], mean)
        margins["median"] = min(margins["median"], median)


def watch(model: str, detector: str, clips: list[Path]) -> None:
    from greeter.database import PhotoLibrary
    from greeter.encode import FaceEncoder
    from greeter.greet import GreetingPolicy
    from greeter.recognise import FaceRecogniser

    encoder = FaceEncoder(model, detector=detector)
    encoder.warm_up()
    second_calls = [0]
    if encoder.sface is not None:
        features = encoder.sface.unit_features

        def counted(chips):
            second_calls[0] += len(chips)
            return features(chips)
        encoder.sface.unit_features = counted
    with tempfile.TemporaryDirectory() as folder:
        images = Path(folder) / "images"
        images.mkdir()
        enrol(encoder, images)
        library = PhotoLibrary(str(images), encoder, str(Path(folder) / "cache"), lambda t: None)
        library.refresh()
    print(f"\n## --model {model} --detector {detector}: threshold {encoder.threshold}, "
          f"{len(library.gallery.names)} photos of {len(library.gallery.people)} people\n")
    print("| clip | frames | greeted (frame) | strangers greeted | CPU ms a frame | "
          "second network, faces |")
    print("|---|---|---|---|---|---|")
    totals = {"strangers": 0, "missed": 0, "frames": 0, "cpu": 0.0, "second": 0}
    margins = {"mean": np.inf, "median": np.inf}
    for clip in clips:
        name = str(clip.relative_to(VIDEOS))
        expected = EXPECTED.get(name, set())
        recogniser = FaceRecogniser(encoder.detector, encoder, encoder.threshold, first_looks=3)
        policy = GreetingPolicy(confirm=3, cooldown=1e9)
        capture = cv2.VideoCapture(str(clip))
        greetings, frames, cpu, calls = [], 0, 0.0, second_calls[0]
        while True:
            ok, image = capture.read()
            if not ok:
                break
            started = time.process_time()
            faces = recogniser.recognise(image, library.gallery)
            cpu += time.process_time() - started
            known = [face for face in faces if face.match.known]
            greetings += [(who, frames) for who in policy.update(
                [face.match.name for face in known], frames / 25.0,
                faces=[face.track for face in known])]
            if model == "dlib":
                stranger_margins(recogniser, library.gallery, expected,
                                 slice(*encoder.parts[0]), margins)
            frames += 1
        capture.release()
        strangers = [who for who, _ in greetings if who not in expected]
        missed = expected - {who for who, _ in greetings}
        totals["strangers"] += len(strangers)
        totals["missed"] += len(missed)
        totals["frames"] += frames
        totals["cpu"] += cpu
        totals["second"] += second_calls[0] - calls
        shown = ", ".join(f"{who} ({at})" for who, at in greetings) or "nobody"
        if missed:
            shown += f"; missed {', '.join(sorted(missed))}"
        print(f"| {name} | {frames} | {shown} | {len(strangers)} | "
              f"{1000 * cpu / max(frames, 1):.1f} | {second_calls[0] - calls} |")
    print(f"\nall clips: {totals['frames']} frames, strangers greeted {totals['strangers']}, "
          f"known people missed {totals['missed']}, CPU {1000 * totals['cpu'] / totals['frames']:.1f}"
          f" ms a frame, second network on {totals['second']} faces")
    if model == "dlib":
        print(f"nearest a stranger's track came to a photo (threshold {encoder.threshold}): "
              f"named from the mean of its looks {margins['mean']:.3f}, from the median of "
              f"their distances {margins['median']:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="dlib+sface,dlib")
    parser.add_argument("--detectors", default=DEFAULT_DETECTOR,
                        help=f"comma list of: {', '.join(DETECTORS)} (default: %(default)s)")
    args = parser.parse_args()
    if not VIDEOS.is_dir():
        print(f"error: no videos at {VIDEOS}", file=sys.stderr)
        return 2
    clips = sorted(path for path in VIDEOS.rglob("*") if path.suffix in (".mp4", ".gif"))
    for detector in args.detectors.split(","):
        for model in args.models.split(","):
            watch(model, detector, clips)
    return 0


if __name__ == "__main__":
    sys.exit(main())
