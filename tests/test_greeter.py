"""The greeter end to end: a real video of real faces, the real program."""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO, greeted
from videos import write_video


def greeter_env(tmp_path) -> dict[str, str]:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    env.pop("DISPLAY", None)
    return env


@pytest.fixture
def door(faces, tmp_path):
    """images/ with photos of three people, and a video of people walking up to the door."""
    images = tmp_path / "images"
    images.mkdir()
    people = faces / "people"
    shutil.copy(people / "obama/obama_1.jpg", images / "barack_obama.jpg")
    shutil.copy(people / "obama/obama_2.jpg", images / "barack_obama_2.jpg")
    shutil.copy(people / "kit_harington/kit_harington_1.jpg", images / "kit.jpg")
    (images / "rose-leslie").mkdir()
    shutil.copy(people / "rose_leslie/rose_leslie_1.jpg", images / "rose-leslie" / "a.jpg")
    shutil.copy(people / "lennon/lennon_1.jpg", images / "john.jpg")  # never comes to the door
    video = tmp_path / "door.avi"
    frames = write_video(video, [
        (None, 1.5),
        (people / "obama/obama_4.jpg", 3),
        (faces / "scenes/adams.jpg", 3),            # a stranger
        (None, 1),
        (people / "kit_harington/kit_harington_3.jpg", 3),
        (people / "biden/biden_2.jpg", 3),          # not in images/: a stranger
        (faces / "scenes/carell.jpg", 2),           # a stranger
        (people / "rose_leslie/rose_leslie_2.jpg", 3),
        (people / "obama/obama_3.jpg", 2),          # again, within the cooldown
        (None, 1),
    ])
    return images, video, frames


def test_greets_exactly_the_known_people_in_order(door, tmp_path):
    images, video, frames = door
    log = tmp_path / "greetings.csv"
    result = subprocess.run(
        [sys.executable, str(REPO / "facenet.py"), "--source", str(video), "--images",
         str(images), "--no-speech", "--headless", "--log", str(log)],
        cwd=tmp_path, env=greeter_env(tmp_path), capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr
    greetings = greeted(result.stdout)
    assert greetings == ["Barack Obama", "Kit", "Rose Leslie"], result.stdout + result.stderr
    summary = re.search(r"^processed (\d+) frames in ([\d.]+) s \(([\d.]+) fps\)$",
                        result.stdout, re.MULTILINE)
    assert summary and int(summary.group(1)) == frames
    rows = list(csv.DictReader(log.open(encoding="utf-8")))
    assert [row["name"] for row in rows] == ["Barack Obama", "Kit", "Rose Leslie"]
    # Obama appears at 1.5 s (frame 15) and needs 3 confirming frames.
    assert 15 <= int(rows[0]["frame"]) <= 25
    assert all(0 < float(row["distance"]) < 1.0 for row in rows)  # dlib+sface's threshold
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.\d+\+00:00$", row["time"])
               for row in rows)
    assert "4 people known" in result.stderr or "people known" in result.stderr


def test_still_image_source_and_verify(faces, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(faces / "people/biden/biden_1.jpg", images / "joe.jpg")
    result = subprocess.run(
        [sys.executable, str(REPO / "facenet.py"), "--source",
         str(faces / "scenes/obama_and_biden.jpg"), "--images", str(images), "--no-speech"],
        cwd=tmp_path, env=greeter_env(tmp_path), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    assert greeted(result.stdout) == ["Joe"]
    assert "processed 1 frames in" in result.stdout

    result = subprocess.run(
        [sys.executable, str(REPO / "facenet.py"), "verify",
         str(faces / "people/biden/biden_1.jpg"), str(faces / "people/biden/biden_2.jpg")],
        env=greeter_env(tmp_path), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0 and "same person" in result.stdout, result.stderr


def test_sigterm_stops_cleanly(door, tmp_path):
    images, video, _ = door
    process = subprocess.Popen(
        [sys.executable, str(REPO / "facenet.py"), "--source", str(video), "--images",
         str(images), "--no-speech", "--loop"],
        cwd=tmp_path, env=greeter_env(tmp_path), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:  # wait for the first greeting: the loop is running
            if greeted(line.rstrip("\n")):
                break
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        out, err = process.communicate(timeout=30)
        assert time.monotonic() - started < 5
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert re.search(r"processed \d+ frames in", out)


def test_bad_camera_index_fails_fast(tmp_path):
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(REPO / "facenet.py"), "--source", "7",
                             "--images", str(tmp_path), "--no-speech", "--headless"],
                            env=greeter_env(tmp_path), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert "camera 7" in result.stderr
    assert time.monotonic() - started < 30  # TensorFlow's import included


def test_photo_added_while_running_is_greeted(door, faces, tmp_path):
    images, video, _ = door
    newcomer = faces / "people/clapton/clapton_1.jpg"
    looping = tmp_path / "clapton.avi"
    from videos import write_video
    write_video(looping, [(faces / "people/clapton/clapton_2.jpg", 3), (None, 1)])
    process = subprocess.Popen(
        [sys.executable, str(REPO / "facenet.py"), "--source", str(looping), "--images",
         str(images), "--no-speech", "--headless", "--loop", "--cooldown", "1000"],
        cwd=tmp_path, env=greeter_env(tmp_path), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(120, process.kill)  # ends the reads below if Eric never comes
    watchdog.start()
    try:
        for line in process.stderr:  # the loop runs, and Eric is a stranger so far
            if "first frame processed" in line:
                break
        time.sleep(2)
        shutil.copy(newcomer, images / "eric.jpg")
        added = time.monotonic()
        after = None
        for line in process.stdout:
            if greeted(line.rstrip("\n")) == ["Eric"]:
                after = time.monotonic() - added
                break
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    finally:
        watchdog.cancel()
        process.kill()
    assert after is not None and after < 20, "a photo added while running was not used"
