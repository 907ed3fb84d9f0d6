"""How fast facenet runs on this machine, next to the face_recognition library.

    .venv/bin/python bench/speed.py VIDEO [--images DIR] [--sizes 640x360,1280x720]

Runs the greeter's own pipeline (capture, detect, align, encode, match: the
code the app runs, headless and without speech) over every frame of VIDEO,
scaled to each size, and prints:
- frames per second (median of --runs runs) and milliseconds per stage;
- the face_recognition library's standard loop (HOG face_locations and
  face_encodings on every full-size frame) on the same frames, and the ratio;
- launch to first processed frame and peak memory of `python facenet.py`;
- matching one face against 1,000 / 100,000 / 1,000,000 stored encodings;
- building the database from 12-megapixel photos, and restarting with 1,000
  cached photos.
Without VIDEO, `bench/make_video.py` builds one from the real clips in
../shared/videos first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# As the app runs TensorFlow (greeter/cli.py), so that the figures are its figures.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from greeter.capture import open_source  # noqa: E402
from greeter.database import PhotoLibrary  # noqa: E402
from greeter.encode import FaceEncoder  # noqa: E402
from greeter.match import Gallery, match_faces  # noqa: E402
from greeter.recognise import FaceRecogniser  # noqa: E402

SHARED_PEOPLE = os.path.join(REPO, "..", "shared", "faces", "people")


def scaled_video(video: str, size: tuple[int, int], folder: str) -> str:
    """A copy of ``video`` with every frame resized to ``size`` (MJPG .avi)."""
    path = os.path.join(folder, f"video-{size[0]}x{size[1]}.avi")
    reader = cv2.VideoCapture(video)
    fps = reader.get(cv2.CAP_PROP_FPS) or 30
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    while True:
        ok, frame = reader.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_AREA
                                if frame.shape[1] > size[0] else cv2.INTER_LINEAR))
    reader.release()
    writer.release()
    return path


def facenet_run(video: str, encoder: FaceEncoder, gallery: Gallery) -> tuple[float, dict, int]:
    """One pass of the greeter's pipeline over every frame: fps, ms per stage, faces seen."""
    recogniser = FaceRecogniser(encoder.detector, encoder, encoder.threshold, first_looks=3)
    capture_seconds, faces, frames = 0.0, 0, 0
    started = time.perf_counter()
    with open_source(video) as source:
        frame_iterator = iter(source)
        while True:
            before = time.perf_counter()
            frame = next(frame_iterator, None)
            capture_seconds += time.perf_counter() - before
            if frame is None:
                break
            faces += len(recogniser.recognise(frame.image, gallery))
            frames += 1
    elapsed = time.perf_counter() - started
    stages = {"capture": 1000 * capture_seconds / frames, **recogniser.times.per_frame_ms()}
    return frames / elapsed, stages, faces


def face_recognition_fps(video: str, max_frames: int) -> float | None:
    """The face_recognition library's standard loop on the first ``max_frames`` frames."""
    try:
        import face_recognition
    except ImportError:
        return None
    reader = cv2.VideoCapture(video)
    frames, started = 0, time.perf_counter()
    while frames < max_frames:
        ok, frame = reader.read()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        face_recognition.face_encodings(rgb, face_recognition.face_locations(rgb))
        frames += 1
    reader.release()
    return frames / (time.perf_counter() - started)


def launch_figures(video: str, images: str, cache: str) -> tuple[float | None, float]:
    """Seconds from launching `python facenet.py` to its first processed frame, and its
    peak memory in MB, on ``video``."""
    env = dict(os.environ, XDG_CACHE_HOME=cache, PYTHONUNBUFFERED="1")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "facenet.py"), "--source", video, "--images",
         images, "--headless", "--no-speech"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first_frame = None
    for line in process.stderr:
        if first_frame is None and "first frame processed" in line:
            first_frame = time.monotonic() - started
    _, status, usage = os.wait4(process.pid, 0)
    peak_mb = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
    return first_frame, peak_mb


def matching_ms(sizes: tuple[int, ...] = (1_000, 100_000, 1_000_000)) -> dict[int, float]:
    """Median milliseconds to match one face against galleries of synthetic encodings."""
    rng = np.random.default_rng(0)
    figures = {}
    for size in sizes:
        gallery = Gallery(tuple(f"person {i % 5000}" for i in range(size)),
                          rng.normal(0, 0.09, (size, 128)).astype(np.float32))
        face = rng.normal(0, 0.09, (1, 128)).astype(np.float32)
        times = []
        for _ in range(7):
            started = time.perf_counter()
            match_faces(gallery, face, 0.6)
            times.append(time.perf_counter() - started)
        figures[size] = 1000 * statistics.median(times)
    return figures


def twelve_megapixel_photos(folder: str, count: int) -> list[str]:
    """``count`` 4000x3000 JPEGs made from the shared people photos (phone-sized)."""
    sources = sorted(os.path.join(root, name) for root, _, names in os.walk(SHARED_PEOPLE)
                     for name in names if name.endswith(".jpg"))
    paths = []
    for i in range(count):
        image = cv2.imread(sources[i % len(sources)])
        canvas = cv2.resize(image, (4000, 3000), interpolation=cv2.INTER_CUBIC)
        canvas[0, i % 4000] = (i % 255, 0, 0)  # a different photo each time
        path = os.path.join(folder, f"person_{i:04d}.jpg")
        cv2.imwrite(path, canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def database_figures(encoder: FaceEncoder, folder: str, photos: int) -> tuple[float, float]:
    """Photos per second building the database from 12 MP photos, and the seconds a
    restart with 1,000 cached photos spends loading them."""
    big = os.path.join(folder, "big")
    os.makedirs(big)
    twelve_megapixel_photos(big, photos)
    started = time.perf_counter()
    PhotoLibrary(big, encoder, os.path.join(folder, "cache-big"), lambda text: None).refresh()
    per_second = photos / (time.perf_counter() - started)

    many = os.path.join(folder, "many")
    os.makedirs(many)
    source = twelve_megapixel_photos(folder, 1)[0]
    small = cv2.resize(cv2.imread(source), (800, 600))
    for i in range(1000):
        small[0, 0] = (i % 256, i // 256, 0)
        cv2.imwrite(os.path.join(many, f"person_{i:04d}.jpg"), small)
    cache = os.path.join(folder, "cache-many")
    PhotoLibrary(many, encoder, cache, lambda text: None).refresh()
    started = time.perf_counter()
    PhotoLibrary(many, encoder, cache, lambda text: None).refresh()
    return per_second, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", nargs="?", help="video file (default: built by make_video.py)")
    parser.add_argument("--images", help="known people (default: a few shared photos)")
    parser.add_argument("--sizes", default="640x360,1280x720,1920x1080")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reference-frames", type=int, default=60,
                        help="frames of the face_recognition loop to time (it is slow)")
    parser.add_argument("--photos", type=int, default=30, help="12 MP photos to encode")
    parser.add_argument("--skip", default="", help="comma list of: reference,launch,gallery,database")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    work = tempfile.mkdtemp(prefix="facenet-bench-")
    try:
        video = args.video
        if video is None:
            video = os.path.join(work, "door.avi")
            subprocess.run([sys.executable, os.path.join(REPO, "bench", "make_video.py"), video],
                           check=True)
        images = args.images
        if images is None:
            images = os.path.join(work, "images")
            os.makedirs(images)
            for name in ("obama/obama_1.jpg", "kit_harington/kit_harington_1.jpg",
                         "rose_leslie/rose_leslie_1.jpg", "biden/biden_1.jpg"):
                shutil.copy(os.path.join(SHARED_PEOPLE, name), images)
        encoder = FaceEncoder()
        encoder.warm_up()
        library = PhotoLibrary(images, encoder, os.path.join(work, "cache"), lambda text: None)
        library.refresh()
        print(f"video {video}; {len(library.gallery.names)} known photos; "
              f"{os.cpu_count()} CPU cores")
        print("\n| size | facenet fps (median of %d) | capture | detect | align+encode | match "
              "| face_recognition fps | ratio |" % args.runs)
        print("|---|---|---|---|---|---|---|---|")
        for size_text in args.sizes.split(","):
            size = tuple(int(v) for v in size_text.split("x"))
            path = scaled_video(video, size, work)
            runs = [facenet_run(path, encoder, library.gallery) for _ in range(args.runs)]
            runs.sort(key=lambda run: run[0])
            fps, stages, faces = runs[len(runs) // 2]
            reference = None if "reference" in skip else face_recognition_fps(path,
                                                                              args.reference_frames)
            ratio = f"{fps / reference:.1f}x" if reference else "-"
            print(f"| {size_text} | {fps:.1f} | {stages['capture']:.1f} ms | "
                  f"{stages['detect']:.1f} ms | {stages['align+encode']:.1f} ms | "
                  f"{stages['match']:.2f} ms | {reference or 0:.2f} | {ratio} |")
        if "launch" not in skip:
            small = scaled_video(video, (640, 360), work)
            cache = os.path.join(work, "launch-cache")
            cold, _ = launch_figures(small, images, cache)
            warm, peak = launch_figures(small, images, cache)
            print(f"\nlaunch to first processed frame: {warm:.2f} s ({cold:.2f} s the first "
                  f"time, encoding images/); peak memory of facenet.py: {peak:.0f} MB")
        if "gallery" not in skip:
            print("\nmatching one face: " + ", ".join(
                f"{size:,} encodings {ms:.2f} ms" for size, ms in matching_ms().items()))
        if "database" not in skip:
            per_second, restart = database_figures(encoder, work, args.photos)
            print(f"\nbuilding the database: {per_second:.1f} twelve-megapixel photos/s; "
                  f"restart with 1,000 cached photos: {restart:.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
