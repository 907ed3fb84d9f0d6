"""The motion gate: camera noise and light changes are no motion, people walking are;
an empty hall runs no face detection, a person walking in is found at once."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import REPO

HALLWAY = REPO.parent / "shared" / "videos" / "hallway"


def clip(name: str, size: tuple[int, int] = (1280, 720)) -> list[np.ndarray]:
    """The frames of a real hallway clip, scaled to ``size``."""
    path = HALLWAY / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR))
    return frames


def camera_frames(still: np.ndarray, count: int, seed: int = 0) -> list[np.ndarray]:
    """``still`` as a 30 fps camera would send it ``count`` times over: new sensor
    noise in every frame (4 grey levels), light that drifts by 10% up and down
    over 10 s, and an auto-exposure step of 10% halfway, JPEG-compressed as
    MJPEG is."""
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(count):
        gain = 1 + 0.1 * np.sin(2 * np.pi * index / 300) + (0.1 if index > count // 2 else 0)
        noisy = still.astype(np.float32) * gain + rng.normal(0, 4, still.shape)
        jpeg = cv2.imencode(".jpg", np.clip(noisy, 0, 255).astype(np.uint8),
                            [cv2.IMWRITE_JPEG_QUALITY, 85])[1]
        frames.append(cv2.imdecode(jpeg, cv2.IMREAD_COLOR))
    return frames


def test_noise_and_light_are_no_motion_and_people_walking_are():
    from greeter.motion import MotionGate
    walking = clip("face-demographics-walking-and-pause.gif")
    gate = MotionGate()
    quiet = [gate.moved(frame) for frame in camera_frames(walking[0], 300)]
    assert quiet[0] and not any(quiet[1:])  # the first frame has nothing to compare with
    # The three people walk on (the clip's next frames, noise and all):
    # motion in the first two frames.
    moving = [gate.moved(frame) for frame in camera_frames(walking[1], 1, seed=1)
              + camera_frames(walking[2], 1, seed=2)]
    assert any(moving), moving


def test_an_empty_hall_runs_no_detection_and_a_person_walking_in_is_found_at_once(encoder):
    """A real room in which nobody is large enough to be a face to greet (the
    classroom clip at 640x360: faces under 30 px), sent as a camera would; then
    people come into view (the walking clip, faces 55-75 px)."""
    from greeter.match import Gallery
    from greeter.recognise import QUIET_FRAMES_PER_SCAN, FaceRecogniser
    hall = clip("classroom.gif", (640, 360))[0]
    walking = clip("face-demographics-walking-and-pause.gif", (640, 360))
    recogniser = FaceRecogniser(encoder, encoder.threshold)
    searches = []
    original = encoder.detector.face_locations

    def counted(image, min_face=40):
        searches.append(len(searches))
        return original(image, min_face)

    encoder.detector.face_locations = counted
    gallery = Gallery.empty()
    try:
        empty = [recogniser.recognise(frame, gallery) for frame in camera_frames(hall, 300)]
        assert not any(empty)
        # The first frame, and while nothing moves only the one every
        # QUIET_FRAMES_PER_SCAN frames, for a person who stands still.
        assert len(searches) == 1 + 299 // QUIET_FRAMES_PER_SCAN, len(searches)
        found = [recogniser.recognise(frame, gallery) for frame in walking[10:12]]
    finally:
        del encoder.detector.face_locations
    assert any(len(faces) >= 1 for faces in found), found
