"""Issue 7 at the level of the whole program: lost cameras, broken weights, no speaker, signals.

Every test runs the real facenet.py in a subprocess, on real photos and
real videos (../shared/faces), a real MJPEG-over-HTTP camera on 127.0.0.1
(tests/streams.py) and the real speech engine. Nothing the program uses is
mocked; failures are made real: a switched-off stream, a damaged copy of a
weight file, espeak-ng without its data, no ``aplay`` on PATH.
"""

from __future__ import annotations

import csv
import ctypes.util
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest

from conftest import REPO, greeted
from streams import MjpegServer, free_port, wait_until
from videos import scene_frame, write_video

ON_LINUX = sys.platform.startswith("linux")
# The speech tests drive the real engine: espeak-ng through pyttsx3 (Linux).
needs_espeak = pytest.mark.skipif(
    not ON_LINUX or ctypes.util.find_library("espeak-ng") is None,
    reason="needs Linux with espeak-ng (sudo apt-get install espeak-ng)")
SUMMARY = re.compile(r"^processed \d+ frames in [\d.]+ s \([\d.]+ fps\)(, \d+ dropped)?$",
                     re.MULTILINE)
STOP_LIMIT_S = 2.0  # Ctrl+C / SIGTERM to a clean exit


def greeter_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUNBUFFERED="1",
               **extra)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return env


class Program:
    """facenet.py running in a subprocess; its output lines are collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path,
                 script: Path = REPO / "facenet.py") -> None:
        # Ctrl+C as at a terminal even when the tests run in the background, where the
        # shell starts them, and so the program, with SIGINT ignored (and the program
        # rightly leaves it so): these tests are of what Ctrl+C does.
        self.process = subprocess.Popen(
            [sys.executable, str(script), *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.process.stdout, self.out),
                                               (self.process.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    @property
    def greetings(self) -> list[str]:
        return [name for line in list(self.out) for name in greeted(line.rstrip("\n"))]

    def text(self) -> str:
        return "\n".join(self.out) + "\n--- stderr ---\n" + "\n".join(self.err)

    def wait_for(self, lines: list[str], pattern: str, timeout: float, start: int = 0) -> int:
        """The index of the first line from ``start`` on that matches ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            exited = self.process.poll() is not None
            if exited:
                self.finish(10)  # all the output is in
            for index in range(start, len(lines)):
                if regex.search(lines[index]):
                    return index
            if exited:
                pytest.fail(f"the program exited ({self.process.returncode}) before "
                            f"{pattern!r}:\n{self.text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {pattern!r}:\n{self.text()}")
            time.sleep(0.05)

    def wait_for_greetings(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.greetings) < count:
            if time.monotonic() > deadline or self.process.poll() is not None:
                pytest.fail(f"waiting for {count} greetings:\n{self.text()}")
            time.sleep(0.05)

    def stop(self, signum: int) -> float:
        """Send ``signum``; returns the seconds until the process exited."""
        self.process.send_signal(signum)
        started = time.monotonic()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit within 30 s of signal {signum}:\n{self.text()}")
        return time.monotonic() - started

    def finish(self, timeout: float) -> int:
        """Wait for the exit and for all the output; returns the exit status."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for reader in self._readers:
            reader.join(10)
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.finish(10)


@pytest.fixture
def programs():
    """Start Programs through this; any still running at the end are killed."""
    started: list[Program] = []

    def start(*args, **kwargs) -> Program:
        program = Program(*args, **kwargs)
        started.append(program)
        return program

    yield start
    for program in started:
        program.kill()


@pytest.fixture
def obama(faces, tmp_path) -> dict[str, Path]:
    """images/ with Obama, a photo of him to show, and a 4 s video of him at the door."""
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(faces / "people/obama/obama_1.jpg", images / "barack.jpg")
    video = tmp_path / "door.avi"
    write_video(video, [(None, 0.5), (faces / "people/obama/obama_4.jpg", 3.5)])
    return {"images": images, "photo": faces / "people/obama/obama_4.jpg", "video": video}


def read_log(path: Path) -> list[dict[str, str]]:
    """The greetings log, checked to parse: every row whole, every field valid."""
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["time", "frame", "name", "distance"]
    for row in rows[1:]:
        assert len(row) == 4, rows
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", row[0]), row
        assert int(row[1]) >= 0 and 0 <= float(row[3]) < 1, row
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def assert_clean(program: Program) -> None:
    text = program.text()
    assert "Traceback" not in text, text
    assert SUMMARY.search("\n".join(program.out)), text


# -- sources -----------------------------------------------------------------

def test_camera_that_does_not_exist_fails_fast(tmp_path):
    """The source is opened before TensorFlow is imported: a wrong index costs no wait."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(REPO / "facenet.py"), "--source", "7",
                             "--images", str(tmp_path), "--no-speech", "--headless"],
                            env=greeter_env(tmp_path), capture_output=True, text=True,
                            timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert "error: camera 7 cannot be opened" in result.stderr
    assert "--source" in result.stderr or "video file" in result.stderr  # what to do
    assert "Traceback" not in result.stderr
    assert elapsed < 10, f"{elapsed:.1f} s"


def test_missing_or_corrupt_video_file(tmp_path):
    corrupt = tmp_path / "holiday.mp4"
    corrupt.write_bytes(np.random.default_rng(7).integers(0, 256, 50_000, np.uint8).tobytes())
    for source, words in ((tmp_path / "nowhere.mp4", ("nowhere.mp4", "no such file")),
                          (corrupt, ("holiday.mp4", "cannot be read as a video"))):
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(REPO / "facenet.py"), "--source",
                                 str(source), "--no-speech", "--headless"],
                                env=greeter_env(tmp_path), capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 1, result.stderr
        error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(error) == 1 and all(word in error[0] for word in words), result.stderr
        assert "Traceback" not in result.stderr
        assert time.monotonic() - started < 10


def door_stream(faces: Path):
    """Frames of a camera at the door while Obama stands there: a little shake, some noise."""
    frame = scene_frame(faces / "people/obama/obama_4.jpg")

    def frames(count: int) -> np.ndarray:
        shift = np.float32([[1, 0, count % 3 - 1], [0, 1, count % 2]])
        return cv2.warpAffine(frame, shift, frame.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)
    return frames


def test_lost_stream_is_reopened_and_recognition_resumes(faces, obama, tmp_path, programs):
    """A camera switched off mid-run: the program says so, waits, reconnects, greets
    again; then, while the camera is off again, SIGTERM stops it within 2 s."""
    frames = door_stream(faces)
    server = MjpegServer(0, frames, interval=0.1)
    port = server.port
    log = tmp_path / "greetings.csv"
    try:
        program = programs([
            "--source", server.url, "--images", str(obama["images"]), "--no-speech",
            "--headless", "--confirm", "2", "--cooldown", "0.5", "--log", str(log)],
            env=greeter_env(tmp_path), cwd=tmp_path)
        program.wait_for_greetings(1, 120)

        server.stop()  # the camera is switched off
        outage = program.wait_for(program.err, r"stopped delivering frames; reconnecting", 20)
        assert f"127.0.0.1:{port}" in program.err[outage]
        time.sleep(1.5)  # down for a while: no frames, no greetings
        greetings_while_down = len(program.greetings)
        assert program.process.poll() is None

        server = MjpegServer(port, frames, interval=0.1)  # and on again
        back = program.wait_for(program.err, r"is back", 30, start=outage)
        assert f"127.0.0.1:{port}" in program.err[back]
        restarted = time.monotonic()
        program.wait_for_greetings(greetings_while_down + 2, 30)
        assert time.monotonic() - restarted < 30

        server.stop()  # off again; the program waits for it to come back...
        program.wait_for(program.err, r"stopped delivering frames", 20, start=back)
        time.sleep(1.0)  # ...in the middle of its backoff
        elapsed = program.stop(signal.SIGTERM)
    finally:
        server.stop()
    assert program.finish(10) == 0, program.text()
    assert elapsed < STOP_LIMIT_S, f"{elapsed:.2f} s after SIGTERM"
    assert_clean(program)
    rows = read_log(log)
    assert [row["name"] for row in rows] == program.greetings
    assert set(program.greetings) == {"Barack"}


# -- images/ -----------------------------------------------------------------

def test_a_mistyped_images_folder_is_named_and_never_created(obama, tmp_path, programs):
    images = tmp_path / "people at the dor"
    program = programs(["--source", str(obama["photo"]), "--images", str(images),
                        "--no-speech", "--headless"], env=greeter_env(tmp_path), cwd=tmp_path)
    assert program.finish(60) == 2, program.text()
    assert not images.exists()
    assert any(f"--images {images}: no such folder" in line for line in program.err), \
        program.text()


def test_the_default_images_folder_is_created_private_and_explained(obama, tmp_path, programs):
    copy = tmp_path / "facenet"
    ignore = shutil.ignore_patterns("__pycache__", ".openface_cache.npz")
    shutil.copytree(REPO / "greeter", copy / "greeter", ignore=ignore)
    shutil.copytree(REPO / "weights", copy / "weights", ignore=ignore)
    shutil.copy2(REPO / "facenet.py", copy / "facenet.py")
    program = programs(["--source", str(obama["photo"]), "--no-speech", "--headless"],
                       env=greeter_env(tmp_path), cwd=tmp_path, script=copy / "facenet.py")
    assert program.finish(120) == 0, program.text()
    images = copy / "images"
    assert images.is_dir() and not any(images.iterdir())
    assert images.stat().st_mode & 0o777 == 0o700
    created = [line for line in program.err if line.startswith(f"created {images}")]
    assert created and "one photo per person" in created[0], program.text()
    hint = [line for line in program.err if "nobody to greet yet" in line]
    assert hint and str(images) in hint[0] and "alice.jpg" in hint[0], program.text()
    assert program.greetings == []
    assert_clean(program)


def test_a_second_greeter_on_the_same_folder_and_source_names_the_first_and_exits_1(
        obama, tmp_path, programs):
    options = ["--source", str(obama["video"]), "--loop", "--images", str(obama["images"]),
               "--no-speech", "--headless"]
    first = programs(options, env=greeter_env(tmp_path), cwd=tmp_path)
    first.wait_for_greetings(1, 120)
    second = programs(options, env=greeter_env(tmp_path), cwd=tmp_path)
    assert second.finish(60) == 1, second.text()
    assert any(f"another greeter (process {first.process.pid}) already watches" in line
               for line in second.err), second.text()
    assert second.greetings == []
    # Another source for the same people (a second door) is fine.
    other = programs([*options[:1], str(obama["photo"]), *options[3:]],
                     env=greeter_env(tmp_path), cwd=tmp_path)
    assert other.finish(120) == 0 and other.greetings == ["Barack"], other.text()
    first.process.kill()  # however the first one ends, it does not block the next
    first.finish(10)
    third = programs(options[:1] + [str(obama["video"])] + options[3:],
                     env=greeter_env(tmp_path), cwd=tmp_path)
    assert third.finish(120) == 0 and third.greetings == ["Barack"], third.text()


def test_wait_for_source_waits_for_a_camera_that_comes_up_later(faces, obama, tmp_path,
                                                                programs):
    port = free_port()
    url = f"http://127.0.0.1:{port}/stream.mjpg"
    options = ["--source", url, "--images", str(obama["images"]), "--no-speech", "--headless"]
    # Without it: the quick exit 1 of an interactive start.
    impatient = programs(options, env=greeter_env(tmp_path), cwd=tmp_path)
    assert impatient.finish(60) == 1, impatient.text()
    program = programs([*options, "--wait-for-source"], env=greeter_env(tmp_path), cwd=tmp_path)
    program.wait_for(program.err, r"cannot be opened yet .* waiting for it", 60)
    time.sleep(2.0)
    assert program.process.poll() is None, program.text()
    server = MjpegServer(port, door_stream(faces), interval=0.1)
    try:
        program.wait_for(program.err, rf"stream {re.escape(url)} is there", 60)
        program.wait_for_greetings(1, 120)
        program.stop(signal.SIGTERM)
    finally:
        server.stop()
    assert program.finish(10) == 0, program.text()
    assert program.greetings == ["Barack"]
    assert_clean(program)


# -- weights -----------------------------------------------------------------

@pytest.fixture(scope="module")
def pristine_copy(tmp_path_factory) -> Path:
    """The program's own files, copied: damage may be done to the copy only."""
    copy = tmp_path_factory.mktemp("repository")
    for name in ("facenet.py", "fr_utils.py", "inception_blocks_v2.py",
                 "haarcascade_frontalface_default.xml"):
        shutil.copy2(REPO / name, copy / name)
    ignore = shutil.ignore_patterns("__pycache__", ".openface_cache.npz")
    shutil.copytree(REPO / "greeter", copy / "greeter", ignore=ignore)
    shutil.copytree(REPO / "weights", copy / "weights", ignore=ignore)
    return copy


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "missing":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(data[:len(data) // 3])
    elif how == "corrupt":  # a run of bytes overwritten in the middle, as a bad disk does
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes(4096) + data[middle + 4096:])


@pytest.mark.parametrize("relative, how, detector", [
    ("weights/dlib_resnet.npz", "truncated", "faceboxes"),
    ("weights/face_landmark_68.npz", "corrupt", "faceboxes"),
    ("weights/faceboxes.pb", "missing", "faceboxes"),
    ("weights/faceboxes.pb", "corrupt", "faceboxes"),
    ("weights/face_detection_yunet_2023mar_int8bq.onnx", "missing", "yunet"),
    ("weights/face_detection_yunet_2023mar_int8bq.onnx", "corrupt", "yunet"),
    ("haarcascade_frontalface_default.xml", "missing", "haar"),
    ("haarcascade_frontalface_default.xml", "truncated", "haar"),
])
def test_broken_weight_file_is_named_without_a_stack_trace(
        pristine_copy, obama, tmp_path, relative, how, detector):
    copy = tmp_path / "repository"
    shutil.copytree(pristine_copy, copy)
    damage(copy / relative, how)
    result = subprocess.run(
        [sys.executable, str(copy / "facenet.py"), "--source", str(obama["photo"]),
         "--images", str(obama["images"]), "--no-speech", "--headless",
         "--detector", detector],
        cwd=tmp_path, env=greeter_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert str(copy / relative) in errors[0]
    assert {"missing": "missing", "truncated": "corrupt", "corrupt": "corrupt"}[how] in errors[0]
    assert "restore it" in errors[0]  # what to do


# -- speech ------------------------------------------------------------------

def speech_warnings(program: Program) -> list[str]:
    return [line for line in program.err if re.match(r"(warning: )?speech ", line)]


def assert_greetings_logged(program: Program, log: Path, at_least: int = 3) -> None:
    rows = read_log(log)
    assert [row["name"] for row in rows] == program.greetings
    assert len(rows) >= at_least


@needs_espeak
def test_espeak_without_its_data_one_warning_then_kill_9_loses_no_greeting(
        obama, tmp_path, programs):
    """espeak-ng without its data files exits while starting: one warning, greetings go on
    in text and in the log. Then kill -9: every greeting made is in the log, which parses."""
    empty = tmp_path / "no-espeak-data"
    empty.mkdir()
    log = tmp_path / "greetings.csv"
    program = programs(["--source", str(obama["video"]), "--loop", "--images",
                        str(obama["images"]), "--headless", "--cooldown", "0.5",
                        "--log", str(log)],
                       env=greeter_env(tmp_path, ESPEAK_DATA_PATH=str(empty)), cwd=tmp_path)
    program.wait_for(program.err, r"speech is off", 120)
    program.wait_for_greetings(len(program.greetings) + 3, 60)  # and greetings go on
    time.sleep(0.1)
    program.process.send_signal(signal.SIGKILL)
    program.finish(10)
    warnings = speech_warnings(program)
    assert len(warnings) == 1, program.text()
    assert "exited with code 1 while starting" in warnings[0]
    assert "apt-get install espeak-ng" in warnings[0]
    assert_greetings_logged(program, log)


@needs_espeak
def test_no_aplay_one_warning_and_sigterm_stops_within_2_s(obama, tmp_path, programs):
    """pyttsx3 plays speech with aplay; without it: one warning, greetings in text.
    SIGTERM in the middle of the frame loop: a clean exit within 2 s."""
    log = tmp_path / "greetings.csv"
    program = programs(["--source", str(obama["video"]), "--loop", "--images",
                        str(obama["images"]), "--headless", "--cooldown", "0.5",
                        "--log", str(log)],
                       env=greeter_env(tmp_path, PATH=str(tmp_path / "empty-path")),
                       cwd=tmp_path)
    program.wait_for(program.err, r"speech is off", 120)
    program.wait_for_greetings(3, 60)
    elapsed = program.stop(signal.SIGTERM)
    assert program.finish(10) == 0, program.text()
    assert elapsed < STOP_LIMIT_S, f"{elapsed:.2f} s after SIGTERM"
    warnings = speech_warnings(program)
    assert len(warnings) == 1 and "'aplay'" in warnings[0] and "alsa-utils" in warnings[0]
    assert_clean(program)
    assert_greetings_logged(program, log)


@needs_espeak
def test_speech_engine_that_cannot_start_one_warning(obama, tmp_path, programs):
    """A damaged espeak-ng library (found first on LD_LIBRARY_PATH): pyttsx3 fails to start."""
    libraries = tmp_path / "lib"
    libraries.mkdir()
    for name in ("libespeak-ng.so.1", "libespeak.so.1"):
        (libraries / name).write_bytes(b"not a shared library")
    log = tmp_path / "greetings.csv"
    program = programs(["--source", str(obama["video"]), "--images", str(obama["images"]),
                        "--headless", "--cooldown", "0.5", "--log", str(log)],
                       env=greeter_env(tmp_path, LD_LIBRARY_PATH=str(libraries)), cwd=tmp_path)
    assert program.finish(120) == 0, program.text()
    warnings = speech_warnings(program)
    assert len(warnings) == 1, program.text()
    assert "failed to start" in warnings[0] and "espeak" in warnings[0]
    assert_clean(program)
    assert_greetings_logged(program, log)


@pytest.fixture
def working_speaker(tmp_path) -> tuple[dict[str, str], Path]:
    """An environment where speech works without a sound card: an ``aplay`` that
    records what it was asked to play (the WAV files espeak-ng rendered)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    played = tmp_path / "played.txt"
    aplay = folder / "aplay"
    aplay.write_text(f'#!/bin/sh\necho "$@" >> "{played}"\n')
    aplay.chmod(0o755)
    return greeter_env(tmp_path, PATH=f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"), played


def played_count(played: Path) -> int:
    return len(played.read_text().splitlines()) if played.exists() else 0


def speech_worker(program: Program) -> psutil.Process:
    workers = [child for child in psutil.Process(program.process.pid).children()
               if "multiprocessing.spawn" in " ".join(child.cmdline())
               and "resource_tracker" not in " ".join(child.cmdline())]
    assert len(workers) == 1, [child.cmdline() for child in workers]
    return workers[0]


@needs_espeak
def test_speech_that_dies_mid_run_one_warning_greetings_go_on(
        obama, tmp_path, programs, working_speaker):
    env, played = working_speaker
    log = tmp_path / "greetings.csv"
    program = programs(["--source", str(obama["video"]), "--loop", "--images",
                        str(obama["images"]), "--headless", "--cooldown", "1",
                        "--log", str(log)], env=env, cwd=tmp_path)
    program.wait_for_greetings(1, 120)
    wait_until(lambda: played_count(played) >= 2, 30, "a greeting to be spoken")  # + the check
    speech_worker(program).kill()  # the engine dies in the middle of the run
    warned = program.wait_for(program.err, r"speech stopped", 30)
    greeted = len(program.greetings)
    program.wait_for_greetings(greeted + 2, 60)  # the video and the greetings go on
    elapsed = program.stop(signal.SIGINT)
    assert program.finish(10) == 0, program.text()
    assert elapsed < STOP_LIMIT_S
    warnings = speech_warnings(program)
    assert warnings == [program.err[warned]], program.text()
    assert "exited unexpectedly" in warnings[0] and "text only" in warnings[0]
    assert_clean(program)
    assert_greetings_logged(program, log)


@needs_espeak
def test_ctrl_c_while_speaking_stops_everything_within_2_s(
        obama, tmp_path, programs, working_speaker):
    env, played = working_speaker
    log = tmp_path / "greetings.csv"
    program = programs(["--source", str(obama["video"]), "--loop", "--images",
                        str(obama["images"]), "--headless", "--cooldown", "0.5",
                        "--log", str(log)], env=env, cwd=tmp_path)
    program.wait_for_greetings(1, 120)
    wait_until(lambda: played_count(played) >= 2, 30, "a greeting to be spoken")
    worker = speech_worker(program)
    elapsed = program.stop(signal.SIGINT)
    assert program.finish(10) == 0, program.text()
    assert elapsed < STOP_LIMIT_S, f"{elapsed:.2f} s after Ctrl+C"
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    assert speech_warnings(program) == [], program.text()
    assert_clean(program)
    assert_greetings_logged(program, log, at_least=1)


# -- signals during start-up ----------------------------------------------------

@pytest.mark.parametrize("signum, delay", [(signal.SIGINT, 1.0), (signal.SIGTERM, 1.0),
                                           (signal.SIGINT, "encoding")])
def test_signal_during_start_up_stops_cleanly_within_2_s(
        faces, tmp_path, programs, signum, delay):
    """1 s after launch TensorFlow is still being imported; "encoding": the photo
    library is being encoded (60 photos, tens of seconds on two cores), as the
    progress line says."""
    images = tmp_path / "images"
    images.mkdir()
    photos = sorted((faces / "people").glob("*/*"))
    for number in range(60):
        photo = photos[number % len(photos)]
        image = cv2.imread(str(photo))
        # A different file each time (the cache is by content), as big as a phone photo.
        image = cv2.resize(image, (1600, 1600 * image.shape[0] // image.shape[1]))
        image[0, number % image.shape[1]] = (number, 255 - number, 0)
        cv2.imwrite(str(images / f"{photo.parent.name}_{number}.jpg"), image)
    program = programs(["--source", str(faces / "people/obama/obama_4.jpg"), "--loop",
                        "--images", str(images), "--no-speech", "--headless"],
                       env=greeter_env(tmp_path), cwd=tmp_path)
    if delay == "encoding":
        program.wait_for(program.err, r"encoded \d+/60 photos", 120)  # the progress line
        assert not any("people known" in line for line in program.err), "encoding is over"
    else:
        time.sleep(delay)
    elapsed = program.stop(signum)
    assert program.finish(10) == 0, program.text()
    assert elapsed < STOP_LIMIT_S, f"{elapsed:.2f} s after the signal"
    assert_clean(program)


# -- soak --------------------------------------------------------------------

def test_short_soak_passes(faces, tmp_path):
    """tools/soak.py for half a minute: memory and threads flat, greetings steady.
    (Run it for the default hour by hand: python tools/soak.py.)"""
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "soak.py"), "--minutes", "0.5", "--interval", "2",
         "--warmup", "8", "--cooldown", "3", "--faces", str(faces)],
        env=greeter_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^\s+time\s+RSS MB\s+threads\s+greetings", result.stdout, re.MULTILINE)
    for check in ("memory", "threads", "greetings keep coming", "Ctrl+C stops it cleanly"):
        assert re.search(rf"^PASS  {re.escape(check)}:", result.stdout, re.MULTILINE), check
    assert result.stdout.rstrip().endswith("soak: passed")
