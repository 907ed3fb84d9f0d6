"""The motion gate: camera noise and light changes are no motion, people walking are;
an empty hall runs no face detection, a person walking in is found at once."""

from __future__ import annotations

import threading

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
    from greeter.motion import MotionGate, motion_copy
    walking = hallway_clip("face-demographics-walking-and-pause.gif", (1280, 720))
    gate = MotionGate()
    quiet = [gate.moved(motion_copy(frame)) for frame in camera_frames(walking[0], 300)]
    assert quiet[0] and not any(quiet[1:])  # the first frame has nothing to compare with
    # The three people walk on (the clip's next frames, noise and all):
    # motion in the first two frames.
    moving = [gate.moved(motion_copy(frame)) for frame in camera_frames(walking[1], 1, seed=1)
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


def test_a_jpeg_decoded_at_reduced_size_gives_the_motion_copy_of_the_whole_frame():
    """What an MJPEG stream's frames are compared by while nothing is followed: the
    JPEG decoded at a half, a quarter or an eighth of its size. It must tell the
    same story as the whole frame, which the same stream gives while faces are
    followed: no pixel of the copies apart by half a change."""
    from greeter.frames import Frame
    from greeter.motion import PIXEL_CHANGE
    for size in ((640, 360), (1280, 720), (1920, 1080), (2560, 1440)):
        for name in ("classroom.gif", "face-demographics-walking-and-pause.gif"):
            for image in hallway_clip(name, size)[::20][:3]:
                jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1]
                reduced = Frame.from_jpeg(jpeg, 0, 0.0, decode_now=False)
                whole = Frame.from_jpeg(jpeg, 0, 0.0, decode_now=True)
                assert not reduced.decoded and whole.decoded
                apart = np.abs(reduced.motion_copy() - whole.motion_copy()).max()
                assert apart < PIXEL_CHANGE / 2, (size, name, apart)
                assert not reduced.decoded
                assert reduced.image.shape == (size[1], size[0], 3)  # in full when asked


def test_a_jpeg_that_cannot_be_decoded_is_no_frame_or_a_black_one():
    """What a stream may send when packets are lost: no JPEG at all is skipped; a
    JPEG whose data is broken after its header, when it is decoded lazily, is a
    black frame in which nothing moved twice and nothing is found."""
    from greeter.frames import Frame
    image = hallway_clip("classroom.gif", (640, 360))[0]
    jpeg = cv2.imencode(".jpg", image)[1]
    broken = jpeg.copy()
    broken[200:2000] = 0  # the tables and the start of the image data gone
    for data in (np.frombuffer(b"not a jpeg at all", np.uint8), jpeg[:100]):
        for decode_now in (False, True):
            assert Frame.from_jpeg(data, 0, 0.0, decode_now) is None
    assert Frame.from_jpeg(broken, 0, 0.0, decode_now=True) is None
    lazy = Frame.from_jpeg(broken, 0, 0.0, decode_now=False)
    assert lazy.motion_copy().shape == (180, 320) and not lazy.motion_copy().any()
    assert lazy.image.shape == (360, 640, 3) and not lazy.image.any()


def test_an_mjpeg_stream_of_an_empty_hall_is_not_decoded_until_someone_walks_in(encoder):
    """The stream a camera sends (JPEGs over HTTP): while nothing moves, the frames
    are decoded only at reduced size for the motion check, apart from the search
    now and then; people walking in are found, and their frames decoded."""
    from streams import MjpegServer

    from greeter.live_sources import open_stream
    from greeter.match import Gallery
    from greeter.recognise import FaceRecogniser, Tracking
    hall = camera_frames(hallway_clip("classroom.gif", (640, 360))[0], 120)
    walking = hallway_clip("face-demographics-walking-and-pause.gif", (640, 360))[10:]
    walk_in = threading.Event()

    def frames(count: int) -> np.ndarray:
        return walking[count % len(walking)] if walk_in.is_set() else hall[count % len(hall)]

    server = MjpegServer(frames=frames, interval=1 / 30)
    recogniser = FaceRecogniser(encoder.detector, encoder, encoder.threshold)
    gallery = Gallery.empty()
    try:
        with open_stream(server.url, on_message=print) as source:
            empty = []
            for frame in source:
                assert not recogniser.recognise_frame(frame, gallery)
                empty.append(frame)
                if len(empty) == 150:
                    break
            walk_in.set()
            found = []
            for frame in source:
                found.append(bool(recogniser.recognise_frame(frame, gallery)))
                if any(found) or len(found) == 60:
                    break
    finally:
        server.stop()
    decoded = sum(frame.decoded for frame in empty[1:])
    # The first frame, the search every quiet_frames_per_scan frames, and after each
    # the next frame decoded ahead: a frame the program asked the image of.
    searches = 149 // Tracking().quiet_frames_per_scan + 1
    assert decoded <= 2 * searches + 1, (decoded, searches)
    # Motion was looked for on every other frame: the others were not decoded at all.
    checked = sum(frame.motion_checked or frame.decoded for frame in empty[1:])
    assert checked <= 149 // Tracking().frames_per_motion_check + 2 * searches + 1, checked
    assert any(found), "nobody found in 60 frames of people walking in"
    assert frame.decoded
