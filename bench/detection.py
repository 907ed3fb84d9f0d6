"""How many real faces each face detector finds, against dlib's HOG detector.

    .venv/bin/python bench/detection.py [--every N] [--extra VIDEO_OR_PHOTO ...]

The reference is dlib's HOG detector (face_recognition's default) at full
resolution with one upsampling, which finds frontal faces from about 40
pixels up. On every video in ../shared/videos (every N-th frame) and every
photo in ../shared/faces/scenes it counts, per detector:

- recall: the share of HOG's faces whose centre lies in one of its boxes;
- extra boxes: boxes holding no HOG face. These are real faces HOG misses
  (turned, small, partly hidden) or false boxes: they are saved to
  bench/out/extra-DETECTOR.png to be looked at;
- small faces: every HOG face, with its frame shrunk until the face is 40
  pixels wide and put in a 1920x1080 frame, is it found?
- milliseconds per frame (CPU time, one process).

Detectors: the app's own (yunet, faceboxes and haar, as greeter.detect runs
them), YuNet on the whole frame at full size, the cascade at 640 px with
steps of 1.1, dlib's HOG without upsampling, and PyPI's mtcnn. ``--only``
measures some of them (HOG with upsampling, the reference, always runs).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from collections.abc import Callable

import cv2
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# As the app runs TensorFlow (greeter/cli.py), so that the figures are its figures.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from greeter.detect import YUNET_MIN_SCORE, HaarDetector, load_face_detector  # noqa: E402
from greeter.yunet import load_yunet  # noqa: E402

SHARED = os.path.join(REPO, "..", "shared")
OUT = os.path.join(REPO, "bench", "out")
SMALL_FACE_PX = 40

Detect = Callable[[np.ndarray], list[tuple[int, int, int, int]]]


def inputs(every: int, extra: list[str]) -> list[tuple[str, list[np.ndarray]]]:
    """(name, BGR frames) of every shared video (every ``every``-th frame) and photo."""
    videos = sorted(glob.glob(os.path.join(SHARED, "videos", "*", "*")))
    videos = [v for v in videos if not v.endswith(".md")]
    photos = sorted(glob.glob(os.path.join(SHARED, "faces", "scenes", "*")))
    found = []
    for path in videos + photos + extra:
        capture = cv2.VideoCapture(path)
        frames, index = [], 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % every == 0:
                frames.append(frame)
            index += 1
        capture.release()
        if frames:
            found.append((os.path.relpath(path, SHARED), frames))
    return found


def detectors() -> dict[str, Detect]:
    import dlib
    hog = dlib.get_frontal_face_detector()

    def hog_boxes(image: np.ndarray, upsample: int) -> list[tuple[int, int, int, int]]:
        rects = hog(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), upsample)
        return [(r.left(), r.top(), r.width(), r.height()) for r in rects]

    yunet, faceboxes, haar = (load_face_detector(name) for name in ("yunet", "faceboxes", "haar"))
    cascade = HaarDetector()._load()
    whole = load_yunet(YUNET_MIN_SCORE)

    def yunet_full_size(image: np.ndarray) -> list[tuple[int, int, int, int]]:
        whole.setInputSize(image.shape[1::-1])
        rows = whole.detect(image)[1]
        return [] if rows is None else [tuple(int(v) for v in row[:4]) for row in rows]

    def haar_640(image: np.ndarray) -> list[tuple[int, int, int, int]]:
        scale = min(1.0, 640 / image.shape[1])
        gray = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), None, fx=scale, fy=scale)
        found = cascade.detectMultiScale(gray, 1.1, 5, minSize=(20, 20))
        return [tuple(int(v / scale) for v in box) for box in found]

    chosen: dict[str, Detect] = {
        "hog-up1": lambda image: hog_boxes(image, 1),
        "yunet": yunet.face_locations,
        "yunet-full": yunet_full_size,
        "faceboxes": faceboxes.face_locations,
        "haar": haar.face_locations,
        "haar-640-1.1": haar_640,
        "hog-up0": lambda image: hog_boxes(image, 0),
    }
    try:
        from mtcnn import MTCNN
        network = MTCNN()

        def mtcnn_boxes(image: np.ndarray) -> list[tuple[int, int, int, int]]:
            found = network.detect_faces(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            return [tuple(face["box"]) for face in found if face["confidence"] >= 0.9]
        chosen["mtcnn"] = mtcnn_boxes
    except ImportError:
        print("mtcnn is not installed (pip install mtcnn): not measured")
    return chosen


def holds(box: tuple[int, int, int, int], point: np.ndarray) -> bool:
    x, y, w, h = box
    return x <= point[0] <= x + w and y <= point[1] <= y + h


def small_face_frame(frame: np.ndarray, face: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``frame`` shrunk so that ``face`` is SMALL_FACE_PX wide, in a grey 1920x1080
    frame, and where the face's centre now is."""
    scale = SMALL_FACE_PX / face[2]
    small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = small[:1080, :1920]
    canvas = np.full((1080, 1920, 3), 128, np.uint8)
    canvas[:small.shape[0], :small.shape[1]] = small
    centre = np.array([face[0] + face[2] / 2, face[1] + face[3] / 2]) * scale
    return canvas, centre


def contact_sheet(crops: list[np.ndarray], path: str) -> None:
    tiles = [cv2.resize(crop, (80, 80)) for crop in crops[:120]] or [np.zeros((80, 80, 3), np.uint8)]
    while len(tiles) % 12:
        tiles.append(np.zeros((80, 80, 3), np.uint8))
    rows = [np.hstack(tiles[i:i + 12]) for i in range(0, len(tiles), 12)]
    cv2.imwrite(path, np.vstack(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--every", type=int, default=5, help="every N-th frame of a video")
    parser.add_argument("--extra", nargs="*", default=[], help="more videos or photos")
    parser.add_argument("--small", type=int, default=60, help="how many faces to shrink")
    parser.add_argument("--only", nargs="*", help="the detectors to measure (default: all)")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    data = inputs(args.every, args.extra)
    chosen = detectors()
    reference = {}
    for name, frames in data:
        reference[name] = [chosen["hog-up1"](frame) for frame in frames]
    frames_total = sum(len(frames) for _, frames in data)
    faces_total = sum(len(boxes) for boxes in (b for r in reference.values() for b in r))
    print(f"{len(data)} videos and photos, {frames_total} frames, {faces_total} HOG faces")
    rng = np.random.default_rng(0)
    everything = [(frame, face) for name, frames in data
                  for frame, faces in zip(frames, reference[name]) for face in faces]
    picks = rng.choice(len(everything), min(args.small, len(everything)), replace=False)
    small = [small_face_frame(*everything[i]) for i in picks]

    print(f"{'detector':14} {'recall':>7} {'found/HOG':>10} {'extra':>6} "
          f"{'small 40px':>10} {'ms/frame':>9}  per input: found/HOG")
    for detector, detect in chosen.items():
        if args.only and detector not in args.only:
            continue
        found = extra = 0
        crops, per_input, seconds = [], [], 0.0
        for name, frames in data:
            hits = total = 0
            for frame, truth in zip(frames, reference[name]):
                started = time.process_time()
                boxes = detect(frame)
                seconds += time.process_time() - started
                centres = [np.array([x + w / 2, y + h / 2]) for x, y, w, h in truth]
                hits += sum(any(holds(box, c) for box in boxes) for c in centres)
                total += len(centres)
                for box in boxes:
                    if not any(holds(box, c) for c in centres):
                        extra += 1
                        x, y, w, h = box
                        crop = frame[max(y, 0):y + h, max(x, 0):x + w]
                        if crop.size:
                            crops.append(crop)
            found += hits
            per_input.append(f"{os.path.basename(name)[:18]} {hits}/{total}")
        small_found = sum(any(holds(box, centre) for box in detect(canvas))
                          for canvas, centre in small)
        contact_sheet(crops, os.path.join(OUT, f"extra-{detector}.png"))
        print(f"{detector:14} {found / max(faces_total, 1):7.3f} {found:>4}/{faces_total:<5} "
              f"{extra:6d} {small_found:>4}/{len(small):<5} "
              f"{1000 * seconds / frames_total:9.1f}  " + ", ".join(per_input), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
