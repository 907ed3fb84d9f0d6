"""The detector stage: backends chosen by --detector, and what a wrong choice says."""

from __future__ import annotations

import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import REPO
from test_greeter import greeter_env


def test_unknown_detector_is_a_usage_error_naming_the_choices(tmp_path):
    for command in ([], ["doctor"], ["verify", "a.jpg", "b.jpg"]):
        result = subprocess.run([sys.executable, str(REPO / "facenet.py"), *command,
                                 "--detector", "yolo"], cwd=tmp_path, env=greeter_env(tmp_path),
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result.stderr
        assert "--detector" in result.stderr and "'yolo'" in result.stderr
        assert "faceboxes" in result.stderr and "haar" in result.stderr


def test_load_face_detector_names_the_choices():
    from greeter.detect import DetectorError, load_face_detector
    with pytest.raises(DetectorError, match="faceboxes, haar"):
        load_face_detector("yolo")


@pytest.mark.parametrize("name", ["faceboxes", "haar"])
def test_each_backend_finds_a_face_and_follows_it(faces, name):
    from greeter.detect import load_face_detector
    detector = load_face_detector(name)
    image = cv2.imread(str(faces / "people/kit_harington/kit_harington_3.jpg"))
    boxes = detector.face_locations(image)
    # The cascade also boxes a pattern on the jacket; FaceBoxes only the face.
    assert len(boxes) == (1 if name == "faceboxes" else 2)
    x, y, w, h = boxes[0]
    # A little later, a few pixels on: the face is found again near where it was.
    moved = cv2.warpAffine(image, np.float32([[1, 0, 6], [0, 1, 4]]), image.shape[1::-1])
    (near,) = detector.faces_near(moved, boxes[:1])
    assert near is not None and abs(near[0] - (x + 6)) < w / 4 and abs(near[1] - (y + 4)) < h / 4


def test_faceboxes_finds_turned_heads_the_cascade_misses(faces):
    """The real head-pose clip: the woman and the man turn and tilt their heads."""
    from greeter.detect import load_face_detector
    video = REPO.parent / "shared" / "videos" / "hallway" / "head-pose-face-detection-female-and-male.gif"
    if not video.is_file():
        pytest.skip(f"{video} not found")
    capture = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    faceboxes, haar = load_face_detector("faceboxes"), load_face_detector("haar")
    found = {name: sum(len(detector.face_locations(frame)) for frame in frames[::4])
             for name, detector in (("faceboxes", faceboxes), ("haar", haar))}
    assert found["faceboxes"] >= 2 * len(frames[::4]) - 1, found  # both, in every frame
    assert found["haar"] < found["faceboxes"] / 2, found


def test_realtime_run_reports_what_it_dropped(faces, tmp_path):
    from videos import write_video
    video = tmp_path / "door.avi"
    frames = write_video(video, [(faces / "people/obama/obama_4.jpg", 4)], fps=10)
    images = tmp_path / "images"
    images.mkdir()
    result = subprocess.run(
        [sys.executable, str(REPO / "facenet.py"), "--source", str(video), "--images",
         str(images), "--no-speech", "--headless", "--realtime"],
        cwd=tmp_path, env=greeter_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = re.search(r"^processed (\d+) frames in ([\d.]+) s \([\d.]+ fps\), (\d+) dropped$",
                        result.stdout, re.MULTILINE)
    assert summary, result.stdout
    processed, seconds, dropped = int(summary.group(1)), float(summary.group(2)), int(summary.group(3))
    # A 10 fps video is slower than the program: every frame, none dropped, in its own time.
    assert (processed, dropped) == (frames, 0)
    assert seconds >= 3.5
