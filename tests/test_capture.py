"""greeter.capture on real files and a real MJPEG stream served over HTTP on 127.0.0.1."""

from __future__ import annotations

import itertools
import os
import threading
import time

import cv2
import numpy as np
import pytest

from greeter.capture import SourceError, open_source
from streams import MjpegServer, free_port, grey, wait_until
from videos import write_video

VIDEO_FPS = 10.0
VIDEO_FRAMES = 20
STEP = 12  # frame i of the test video is flat grey STEP * i


def shade(image: np.ndarray) -> int:
    """The mean grey level of a frame, rounded."""
    return int(round(float(image.mean())))


def frame_number(image: np.ndarray) -> int:
    """Which frame of the test video ``image`` is (MJPG shifts greys a little)."""
    return int(round(float(image.mean()) / STEP))


@pytest.fixture
def video(tmp_path) -> str:
    """A 20-frame MJPG .avi at 10 fps; frame i is flat grey STEP * i."""
    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), VIDEO_FPS, (64, 48))
    assert writer.isOpened()
    for i in range(VIDEO_FRAMES):
        writer.write(grey(STEP * i))
    writer.release()
    return path


def test_video_delivers_every_frame_in_order(video):
    with open_source(video) as source:
        assert (source.live, source.fps) == (False, VIDEO_FPS)
        assert source.description == f"video {video}"
        frames = list(source)
    assert [frame.index for frame in frames] == list(range(VIDEO_FRAMES))
    assert [frame_number(frame.image) for frame in frames] == list(range(VIDEO_FRAMES))
    assert [frame.time for frame in frames] == pytest.approx(
        [i / VIDEO_FPS for i in range(VIDEO_FRAMES)])
    assert all(not frame.still and frame.image.shape == (48, 64, 3)
               and frame.image.dtype == np.uint8 for frame in frames)


def test_looped_video_keeps_counting_index_and_time(video):
    with open_source(video, loop=True) as source:
        frames = list(itertools.islice(source, 50))
    assert [frame.index for frame in frames] == list(range(50))
    assert [frame.time for frame in frames] == pytest.approx([i / VIDEO_FPS for i in range(50)])
    assert [frame_number(frame.image) for frame in frames] == [i % VIDEO_FRAMES for i in range(50)]


def test_close_ends_iteration_and_can_be_repeated(video):
    source = open_source(video)
    assert next(source).index == 0
    source.close()
    source.close()
    assert list(source) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts Linux threads")
def test_looping_leaks_no_threads(video):
    def threads() -> tuple[int, int]:
        return threading.active_count(), len(os.listdir("/proc/self/task"))

    with open_source(video, loop=True) as source:  # starts OpenCV's own pools once
        list(itertools.islice(source, 30))
    before = threads()
    for _ in range(3):
        with open_source(video, loop=True) as source:
            list(itertools.islice(source, 5 * VIDEO_FRAMES))  # five passes, four reopens
    assert threads() == before


def test_photo_is_one_still_frame(tmp_path):
    path = str(tmp_path / "anna.png")
    cv2.imwrite(path, grey(77))
    with open_source(path) as source:
        frames = list(source)
    assert len(frames) == 1 and frames[0].still and frames[0].index == 0
    assert shade(frames[0].image) == 77
    with open_source(path, loop=True) as source:
        assert [frame.index for frame in itertools.islice(source, 3)] == [0, 1, 2]


def test_folder_slideshow_skips_other_files_and_reports_bad_photos(tmp_path):
    cv2.imwrite(str(tmp_path / "a.jpg"), grey(50))
    cv2.imwrite(str(tmp_path / "b.png"), grey(100))
    (tmp_path / "c_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 10)
    (tmp_path / "notes.txt").write_text("not a photo")
    cv2.imwrite(str(tmp_path / "d.jpg"), grey(150))
    messages = []
    with open_source(str(tmp_path), on_message=messages.append) as source:
        assert (source.live, source.fps) == (False, None)
        frames = list(source)
    assert [shade(frame.image) for frame in frames] == [50, 100, 150]
    assert [frame.index for frame in frames] == [0, 1, 2]
    assert all(frame.still for frame in frames)
    assert len(messages) == 1 and "c_broken.jpg" in messages[0]

    messages.clear()
    with open_source(str(tmp_path), loop=True, on_message=messages.append) as source:
        frames = list(itertools.islice(source, 7))
    assert [shade(frame.image) for frame in frames] == [50, 100, 150, 50, 100, 150, 50]
    assert len(messages) == 1  # reported on the first pass only


def assert_fails_fast(spec: str, *words: str) -> None:
    started = time.monotonic()
    with pytest.raises(SourceError) as raised:
        open_source(spec)
    assert time.monotonic() - started < 10
    for word in words:
        assert word in str(raised.value)


def test_missing_file(tmp_path):
    assert_fails_fast(str(tmp_path / "nowhere.mp4"), "nowhere.mp4", "no such file")


def test_corrupt_video(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, np.uint8).tobytes())
    assert_fails_fast(str(path), "broken.mp4", "cannot be read as a video")


def test_corrupt_photo_and_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_fails_fast(str(tmp_path / "empty"), "no photos")
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    assert_fails_fast(str(tmp_path / "bad.jpg"), "bad.jpg", "decoded")


def test_missing_camera():
    assert_fails_fast("97", "camera 97 cannot be opened", "plugged in")


def test_unreachable_stream():
    assert_fails_fast(f"http://user:secret@127.0.0.1:{free_port()}/stream.mjpg",
                      "cannot be opened", "***:***@127.0.0.1")


def test_stream_reconnects_after_outage_and_closes_fast():
    server = MjpegServer(0)
    port = server.port
    messages, frames = [], []
    try:
        source = open_source(f"http://127.0.0.1:{port}/stream.mjpg", on_message=messages.append)
    except BaseException:
        server.stop()
        raise
    assert source.live and source.description.startswith("stream http://127.0.0.1")
    consumer = threading.Thread(target=lambda: frames.extend(source))
    consumer.start()
    try:
        wait_until(lambda: len(frames) >= 5, 10, "the first frames")
        server.stop()
        wait_until(lambda: messages, 15, "the outage to be reported")
        assert "stopped delivering frames; reconnecting" in messages[0]
        before_outage = len(frames)

        server = MjpegServer(port)
        wait_until(lambda: len(messages) >= 2 and len(frames) > before_outage + 5, 20,
                   "the stream to come back")
        assert messages[1] == f"stream http://127.0.0.1:{port}/stream.mjpg is back"

        server.stop()  # a second outage is reported again, and close() cuts the backoff short
        wait_until(lambda: len(messages) >= 3, 15, "the second outage to be reported")
        time.sleep(1.2)  # into the backoff
        started = time.monotonic()
        source.close()
        assert time.monotonic() - started < 1.5
    finally:
        source.close()
        server.stop()
        consumer.join(5)
    assert not consumer.is_alive()  # iteration ended with close()
    assert len(messages) == 3 and "stopped delivering" in messages[2]
    indices = [frame.index for frame in frames]
    times = [frame.time for frame in frames]
    assert indices == sorted(set(indices)) and times == sorted(times)
    assert not any(thread.name.startswith("capture stream") for thread in threading.enumerate())


def test_live_source_hands_over_the_newest_frame():
    server = MjpegServer(0)
    try:
        with open_source(f"http://127.0.0.1:{server.port}/stream.mjpg") as source:
            first = next(source)
            time.sleep(0.6)  # the server sends a frame every 40 ms meanwhile
            newest = next(source)
    finally:
        server.stop()
    assert newest.index > first.index + 3  # the ones in between were dropped


def test_realtime_video_drops_frames_only_when_the_caller_is_slower(tmp_path):
    """--realtime: a 10 fps video read at its own rate. A caller taking 0.25 s a frame
    gets about a quarter of the frames, the rest counted as dropped; a quick caller
    gets every frame and none is dropped."""
    path = tmp_path / "clip.avi"
    frames = write_video(path, [(None, 3)], fps=10)  # 30 frames, 3 s
    started = time.monotonic()
    with open_source(str(path), realtime=True) as source:
        quick = [frame.index for frame in source]
        assert source.dropped == 0
    assert quick == list(range(frames))
    assert time.monotonic() - started >= 2.7  # played at its own rate, not as fast as read
    with open_source(str(path), realtime=True) as source:
        slow = []
        for frame in source:
            slow.append(frame.index)
            time.sleep(0.25)
        dropped = source.dropped
    assert 8 <= len(slow) <= 16, slow
    assert slow == sorted(slow) and slow[-1] >= frames - 3  # the newest frame, to the end
    assert dropped == frames - len(slow)
