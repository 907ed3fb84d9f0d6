"""Real test videos: built from the photos in ../shared/faces with cv2.VideoWriter,
and the real clips of ../shared/videos."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

HALLWAY = Path(__file__).resolve().parents[2] / "shared" / "videos" / "hallway"

WIDTH, HEIGHT = 640, 360
VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "videos"
OBAMA = VIDEOS / "podium" / "obama.mp4"
BOB = VIDEOS / "talking" / "WDA_BobMenendez_000.mp4"
DOOR_SIZE = (WIDTH, HEIGHT)


def scene_frame(photo: Path | None, seed: int = 0) -> np.ndarray:
    """A 640x360 frame: the photo centred on a noisy grey wall, or the bare wall."""
    rng = np.random.default_rng(seed)
    frame = rng.integers(90, 140, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    if photo is not None:
        image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
        scale = min((HEIGHT - 20) / image.shape[0], (WIDTH - 20) / image.shape[1])
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        top, left = (HEIGHT - image.shape[0]) // 2, (WIDTH - image.shape[1]) // 2
        frame[top:top + image.shape[0], left:left + image.shape[1]] = image
    return frame


def write_video(path: Path, scenes: list[tuple[Path | None, float]], fps: float = 10) -> int:
    """Write ``scenes`` (photo or None for an empty doorway, seconds each) to an
    MJPG .avi at ``fps``; returns the number of frames written."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (WIDTH, HEIGHT))
    assert writer.isOpened(), f"cannot write {path}"
    count = 0
    for number, (photo, seconds) in enumerate(scenes):
        frame = scene_frame(photo, number)
        for step in range(int(round(seconds * fps))):
            # A little camera shake, so consecutive frames are not identical.
            shift = np.float32([[1, 0, (step % 5) - 2], [0, 1, (step % 3) - 1]])
            writer.write(cv2.warpAffine(frame, shift, (WIDTH, HEIGHT),
                                        borderMode=cv2.BORDER_REPLICATE))
            count += 1
    writer.release()
    return count


def hallway_clip(name: str, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """Every frame of ../shared/videos/hallway/``name``, scaled to ``size`` if given;
    skips the test where the clip is absent."""
    path = HALLWAY / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame if size is None else
                      cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR))
    return frames


def mary_jane_at_the_door(faces: Path, folder: Path, empty_after: float = 1) -> tuple[Path, Path]:
    """images/ with mary-jane.jpg (a photo of Kit Harington, as "Mary Jane") and
    barack.jpg, and a video: an empty doorway for 1 s, her for 3 s (frames 10 to 39 at
    10 fps), the empty doorway for ``empty_after`` s; returns (images, video)."""
    images = folder / "images"
    images.mkdir()
    people = faces / "people"
    shutil.copy(people / "kit_harington/kit_harington_1.jpg", images / "mary-jane.jpg")
    shutil.copy(people / "obama/obama_1.jpg", images / "barack.jpg")
    video = folder / "door.avi"
    write_video(video, [(None, 1), (people / "kit_harington/kit_harington_3.jpg", 3),
                        (None, empty_after)])
    return images, video


def fitted(frame: np.ndarray) -> np.ndarray:
    """``frame`` scaled into DOOR_SIZE, on black where the shapes differ."""
    scale = min(DOOR_SIZE[0] / frame.shape[1], DOOR_SIZE[1] / frame.shape[0])
    small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((DOOR_SIZE[1], DOOR_SIZE[0], 3), np.uint8)
    top, left = (DOOR_SIZE[1] - small.shape[0]) // 2, (DOOR_SIZE[0] - small.shape[1]) // 2
    canvas[top:top + small.shape[0], left:left + small.shape[1]] = small
    return canvas


def write_door_clip(path: Path) -> None:
    """Obama's podium recording, then Bob Menendez's, as one 25 fps MJPG clip."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, DOOR_SIZE)
    for video in (OBAMA, BOB):
        capture = cv2.VideoCapture(str(video))
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            writer.write(fitted(frame))
        capture.release()
    writer.release()
