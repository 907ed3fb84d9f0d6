"""Sources read from files in the caller's thread: a video, a photo, a folder of photos.

Every frame of a file is delivered, however long the caller takes over
each, so that a benchmark or a test sees them all.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np

from greeter.frames import (Frame, NewestFrame, Source, SourceError, file_backend, first_frame_or_release,
                            read_frame, reported_fps)
from greeter.photos import PhotoError, opencv_quiet, read_photo

# The rate assumed for a video file that does not say its own (FFmpeg's default).
ASSUMED_VIDEO_FPS = 25.0


class VideoFile(Source):
    """Every frame of a video file, read in the caller's thread."""

    live = False

    def __init__(self, spec: str, path: str, loop: bool) -> None:
        self.description = f"video {spec}"
        self._path = path
        self._loop = loop
        self._capture, self._pending = _open_video_capture(path)
        if self._capture is None:
            raise SourceError(_unreadable_video_message(spec, path))
        self.fps = reported_fps(self._capture)
        self._rate = self.fps or ASSUMED_VIDEO_FPS
        self._index = 0
        self._read_this_pass = 0

    def __next__(self) -> Frame:
        if self._capture is None:
            raise StopIteration
        image, self._pending = self._pending, None
        if image is None:
            image = read_frame(self._capture)
        if image is None and self._loop and self._read_this_pass > 0:
            # Reopening is the one way back to frame 0 that every codec and
            # container gets exactly right; seeking may land on a keyframe.
            self._capture.release()
            self._capture, image = _open_video_capture(self._path)
            self._read_this_pass = 0
        if image is None:
            self.close()
            raise StopIteration
        # Counting on across passes keeps index and time increasing: each
        # pass adds its own length, frames / fps.
        frame = Frame(image, self._index, self._index / self._rate, still=False)
        self._index += 1
        self._read_this_pass += 1
        return frame

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        self._pending = None


class RealtimeVideo(Source):
    """A video file played at its own frame rate, as the camera that recorded it
    would deliver it: a reading thread hands over each frame at its time, and
    frames the caller is too slow for are dropped (``--realtime``)."""

    live = False

    def __init__(self, video: VideoFile) -> None:
        self.description = f"{video.description} in real time"
        self.fps = video.fps
        self._video = video
        self._frames = NewestFrame()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, name=f"play {video.description}",
                                        daemon=True)

    def _play(self) -> None:
        """Read the video, handing each frame over at its time, until its end or close()."""
        started = time.monotonic()
        try:
            for frame in self._video:
                # An Event wait, not a sleep, so that close() ends it at once.
                if self._stop.wait(max(0.0, started + frame.time - time.monotonic())):
                    break
                self._frames.put(frame)
        finally:
            self._video.close()  # in this thread, the one that reads it
            self._frames.close()

    def __next__(self) -> Frame:
        # The video starts when the first frame is asked for, as a recording
        # played once the program is ready, not while it starts up.
        if self._thread.ident is None and not self._stop.is_set():
            self._thread.start()
        return self._frames.take(lambda message: None, stop_at_once=False)

    @property
    def dropped(self) -> int:
        return self._frames.dropped

    def close(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join()
        else:  # never played
            self._video.close()
            self._frames.close()


def _open_video_capture(path: str) -> tuple[cv2.VideoCapture | None, np.ndarray | None]:
    """The opened capture of the video at ``path`` and its first frame, or (None, None).

    The first frame is read here because a file FFmpeg opens may still hold
    nothing it can decode.
    """
    with opencv_quiet():
        capture = cv2.VideoCapture(path, file_backend())
    return first_frame_or_release(capture)


def _unreadable_video_message(spec: str, path: str) -> str:
    if not os.access(path, os.R_OK):
        return (f"{spec}: permission denied; make the file readable (chmod a+r) "
                "or choose another --source")
    return (f"{spec} cannot be read as a video (corrupt, or a format this OpenCV "
            "cannot decode); convert it to MP4 (H.264), or choose another --source")


class Stills(Source):
    """A slideshow of photos, read in the caller's thread when they are due."""

    live = False
    fps = None

    def __init__(self, description: str, paths: list[str], loop: bool,
                 on_message: Callable[[str], None], first: np.ndarray | None = None) -> None:
        self.description = description
        self._paths = paths
        self._loop = loop
        self._on_message = on_message
        self._pending = first  # paths[0], already read to fail early
        self._start = time.monotonic()
        self._position = 0  # in paths
        self._index = 0
        self._delivered_this_pass = 0
        self._reported: set[str] = set()  # a bad photo is reported once, not every pass
        self._closed = False

    def __next__(self) -> Frame:
        while not self._closed:
            if self._position == len(self._paths):
                # A pass that delivered nothing would repeat forever doing nothing.
                if not self._loop or self._delivered_this_pass == 0:
                    break
                self._position = 0
                self._delivered_this_pass = 0
            path = self._paths[self._position]
            self._position += 1
            image, self._pending = self._pending, None
            if image is None:
                try:
                    image = read_photo(path)
                except PhotoError as error:
                    if path not in self._reported:
                        self._reported.add(path)
                        self._on_message(f"skipping a photo: {error}")
                    continue
            frame = Frame(image, self._index, time.monotonic() - self._start, still=True)
            self._index += 1
            self._delivered_this_pass += 1
            return frame
        self.close()
        raise StopIteration

    def close(self) -> None:
        self._closed = True
        self._pending = None
