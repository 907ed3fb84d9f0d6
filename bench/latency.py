"""How soon a known person is greeted in real footage played in real time.

    .venv/bin/python bench/latency.py [--program DIR] [--every-frame] [--no-face-recognition]

For each clip, a person is enrolled the way a user would (a photo, or a
still of another clip), then:

- facenet: the real program, ``--realtime --confirm 3 --log``: a file
  played at its own frame rate, frames it cannot keep up with dropped;
- face_recognition's loop (HOG face_locations and face_encodings on the
  whole frame, the nearest photo under 0.6) under the same rule: each frame
  it takes is the newest one when it is ready, and it greets on the third
  frame in a row that names the person.

It prints the frame from which the person's face is at least 60 pixels
wide (dlib's HOG box, matched to the enrolled photo) and the frame each
greets at. ``--program`` runs another facenet checkout (an earlier release
unpacked with git archive) to compare; ``--every-frame`` plays the file
without --realtime, so that the frame facenet greets at does not depend on
how busy the machine is.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(REPO, "..", "shared")
sys.path.insert(0, REPO)
VIDEOS = os.path.join(SHARED, "videos")
CONFIRM = 3
LARGE_ENOUGH_PX = 60


def frames_of(path: str) -> tuple[list[np.ndarray], float]:
    capture = cv2.VideoCapture(path)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    return frames, fps


def still_of(path: str, index: int, which: str) -> np.ndarray:
    """The face of frame ``index`` of ``path`` cropped as a user would (leftmost or largest)."""
    import face_recognition
    frame = frames_of(path)[0][index]
    boxes = face_recognition.face_locations(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), 1)
    top, right, bottom, left = (min(boxes, key=lambda b: b[3]) if which == "leftmost"
                                else max(boxes, key=lambda b: (b[2] - b[0])))
    size = bottom - top
    return frame[max(top - size, 0):bottom + size, max(left - size, 0):right + size]


def face_recognition_loop(frames: list[np.ndarray], fps: float, known: np.ndarray,
                          name: str) -> tuple[int | None, int]:
    """The frame face_recognition's loop greets ``name`` at in real time, and how many
    frames it processed."""
    import face_recognition
    clock, index, streak, processed = 0.0, 0, 0, 0
    while index < len(frames):
        started = time.perf_counter()
        rgb = cv2.cvtColor(frames[index], cv2.COLOR_BGR2RGB)
        encodings = face_recognition.face_encodings(rgb, face_recognition.face_locations(rgb))
        seen = any(np.linalg.norm(known - e, axis=1).min() <= 0.6 for e in encodings)
        processed += 1
        streak = streak + 1 if seen else 0
        if streak >= CONFIRM:
            return index, processed
        clock = max(clock + time.perf_counter() - started, (index + 1) / fps)
        index = int(clock * fps)
    return None, processed


def first_large_face(frames: list[np.ndarray], known: np.ndarray) -> int | None:
    import face_recognition
    for index, frame in enumerate(frames):
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        boxes = face_recognition.face_locations(rgb, 1)
        for box, encoding in zip(boxes, face_recognition.face_encodings(rgb, boxes)):
            if box[1] - box[3] >= LARGE_ENOUGH_PX and np.linalg.norm(known - encoding, axis=1).min() <= 0.6:
                return index
    return None


def facenet_greeting(video: str, images: str, name: str, program: str,
                     realtime: bool) -> tuple[int | None, str]:
    with tempfile.TemporaryDirectory() as work:
        log = os.path.join(work, "log.csv")
        # Its own caches and visitors, not the user's.
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(work, "cache"),
                   FACENET_VISITORS_DIR=os.path.join(work, "visitors"))
        env.pop("DISPLAY", None)
        result = subprocess.run(
            [sys.executable, os.path.join(program, "facenet.py"), "--source", video, "--images",
             images, "--headless", "--no-speech", "--confirm", str(CONFIRM), "--log", log]
            + (["--realtime"] if realtime else []),
            env=env, capture_output=True, text=True, timeout=900)
        summary = [line for line in result.stdout.splitlines() if line.startswith("processed")]
        with open(log, newline="") as file:
            frames = [int(row["frame"]) for row in csv.DictReader(file) if row["name"] == name]
    return (frames[0] if frames else None), (summary[0] if summary else result.stderr[-300:])


def main() -> int:
    import face_recognition
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--program", default=REPO, help="the facenet checkout to run")
    parser.add_argument("--every-frame", action="store_true",
                        help="every frame of the file, not --realtime")
    parser.add_argument("--no-face-recognition", action="store_true",
                        help="leave out face_recognition's loop and the 60-px frame")
    args = parser.parse_args()
    hallway, talking = os.path.join(VIDEOS, "hallway"), os.path.join(VIDEOS, "talking")
    obama = sorted(os.listdir(os.path.join(SHARED, "faces", "people", "obama")))[:2]
    cases = [
        ("podium/obama.mp4", "Obama",
         [cv2.imread(os.path.join(SHARED, "faces", "people", "obama", p)) for p in obama]),
        ("hallway/face-demographics-walking-and-pause.gif", "Anna",
         [still_of(os.path.join(hallway, "head-pose-face-detection-female.gif"), 0, "largest")]),
        ("hallway/head-pose-face-detection-female-and-male.gif", "Ben",
         [still_of(os.path.join(hallway, "head-pose-face-detection-male.gif"), 0, "largest")]),
        ("talking/retalking_face3.mp4", "Alexandria",
         [still_of(os.path.join(talking, "WDA_AlexandriaOcasioCortez_000.mp4"), 50, "largest")]),
    ]
    print(f"{'clip':52} {'60px from':>9} {'facenet':>8} {'face_rec.':>9}  facenet's run")
    for clip, name, photos in cases:
        video = os.path.join(VIDEOS, clip)
        frames, fps = frames_of(video)
        known = []
        for photo in photos:
            rgb = cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)
            known += face_recognition.face_encodings(rgb, face_recognition.face_locations(rgb, 1))
        known = np.array(known)
        with tempfile.TemporaryDirectory() as images:
            for number, photo in enumerate(photos):
                cv2.imwrite(os.path.join(images, f"{name}_{number + 1}.jpg"), photo)
            ours, summary = facenet_greeting(video, images, name, args.program,
                                             not args.every_frame)
            shutil.rmtree(images, ignore_errors=True)
        if args.no_face_recognition:
            theirs = large = None
        else:
            theirs, _ = face_recognition_loop(frames, fps, known, name)
            large = first_large_face(frames, known)
        print(f"{clip:52} {large!s:>9} {ours!s:>8} {theirs!s:>9}  {summary}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
