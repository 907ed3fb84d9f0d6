"""The motion gate: camera noise and light changes are no motion, people walking are;
an empty hall runs no face detection, a person walking in is found at once."""

from __future__ import annotations

import cv2
import numpy as np

from videos import hallway_clip


def camera_frames(still: np.ndarray, count: int, seed: int = 0) -> list[np.ndarray]:
    """``still`` as a 30 fps camera sends it ``count`` times over, as bench/live.py
    serves its empty hall: new sensor noise in every frame (4 grey levels),
    light drifting by 10% up and down over 10 s, an auto-exposure step of 10%
    halfway, JPEG-compressed as MJPEG is."""
    from bench.live import camera_jpegs
    return [cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            for jpeg in camera_jpegs(still, count, seed)]


def test_noise_and_light_are_no_motion_and_people_walking_are():
    from greeter.motion import MotionGate
    walking = hallway_clip("face-demographics-walking-and-pause.gif", (1280, 720))
    gate = MotionGate()
    quiet = [gate.moved(frame) for frame in camera_frames(walking[0], 300)]
    assert quiet[0] and not any(quiet[1:])  # the first frame has nothing to compare with
    # The three people walk on (the clip's next frames, noise and all):
    # motion in the first two frames.
    moving = [gate.moved(frame) for frame in camera_frames(walking[1], 1, seed=1)
              + camera_frames(walking[2], 1, seed=2)]
    assert any(moving), moving


class CountedSearches:
    """The real detector, counting its whole-frame searches."""

    def __init__(self, detector) -> None:
        self.detector, self.searches = detector, 0

    def face_locations(self, image, min_face=40):
        self.searches += 1
        return self.detector.face_locations(image, min_face)

    def __getattr__(self, name):
        return getattr(self.detector, name)


def test_an_empty_hall_runs_no_detection_and_a_person_walking_in_is_found_at_once(encoder):
    """A real room in which nobody is large enough to be a face to greet (the
    classroom clip at 640x360: faces under 30 px), sent as a camera would; then
    people come into view (the walking clip, faces 55-75 px)."""
    from greeter.match import Gallery
    from greeter.recognise import FaceRecogniser, Tracking
    hall = hallway_clip("classroom.gif", (640, 360))[0]
    walking = hallway_clip("face-demographics-walking-and-pause.gif", (640, 360))
    detector = CountedSearches(encoder.detector)
    recogniser = FaceRecogniser(detector, encoder, encoder.threshold)
    gallery = Gallery.empty()
    empty = [recogniser.recognise(frame, gallery) for frame in camera_frames(hall, 300)]
    assert not any(empty)
    # The first frame, and while nothing moves only the one every
    # quiet_frames_per_scan frames, for a person who stands still.
    assert detector.searches == 1 + 299 // Tracking().quiet_frames_per_scan, detector.searches
    found = [recogniser.recognise(frame, gallery) for frame in walking[10:12]]
    assert any(len(faces) >= 1 for faces in found), found
