"""Where frames come from: a camera, a video file, a stream URL, a photo or a folder of photos.

``open_source(spec)`` turns what the user passed to ``--source`` into a Source,
an iterator of Frame values:

- ``"0"``, ``"1"``, ...: a camera index (live);
- anything containing ``"://"`` (rtsp://, http://, ...): a stream URL (live);
- a folder: a slideshow of the photos in it, in sorted path order;
- a file with a photo extension (see greeter.photos): one still frame;
- any other file: a video, every frame in order.

Live sources are read by a capture thread that keeps only the newest frame, so
the greeter never lags behind the door; when they stop delivering frames they
are reopened until they come back. Files are read in the caller's thread, so
a benchmark sees every frame.
"""

from __future__ import annotations

import math
import os
import re
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from greeter.photos import PhotoError, is_photo_file, list_photos, read_photo
from greeter.photos import opencv_quiet as _opencv_quiet

# FFmpeg writes its own errors to stderr ("[tcp @ 0x..] Connection refused",
# "[h264 @ 0x..] error while decoding MB" on every lost packet of a stream);
# Source reports the failures that matter in words, so FFmpeg is kept quiet
# unless the user asks otherwise. OpenCV reads this when it first uses FFmpeg.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET

# A stream that takes longer than this to connect, or to send the next frame,
# counts as down. Cameras get none: backends refuse to open with parameters
# they do not support, and not every camera backend supports these.
STREAM_TIMEOUT_MS = 5000
# Waits between attempts to reopen a live source that stopped delivering.
FIRST_RECONNECT_DELAY_S = 0.5
MAX_RECONNECT_DELAY_S = 10.0
# close() waits this long for the capture thread; a thread stuck in a read
# (a stalled stream, up to STREAM_TIMEOUT_MS) finishes and releases on its own.
CLOSE_WAIT_S = 0.9
# The rate assumed for a video file that does not say its own (FFmpeg's default).
ASSUMED_VIDEO_FPS = 25.0


@dataclass(frozen=True)
class Frame:
    """One image from a Source."""

    image: np.ndarray  # BGR uint8, height x width x 3
    # 0-based: a video's frame number (still counting up on later passes of
    # loop=True); for a live source the number of frames read since it was
    # opened, including those dropped because the caller was busy; for
    # stills the number of photos delivered before this one.
    index: int
    # Seconds: a video's own time (index / fps); for live sources and stills
    # time.monotonic() minus the moment the source was opened.
    time: float
    still: bool  # True for a photo: a still counts as confirmed on its own


class SourceError(RuntimeError):
    """A source cannot be opened; the message names it and says what to do."""


class Source(ABC):
    """An iterator of Frame values; close() it, or use it in a ``with`` block.

    Iteration ends at the end of a file (never with loop=True) and after
    close(); a live source's iteration blocks until a newer frame is there.
    """

    description: str  # e.g. "camera 0", "video clip.mp4", "folder images/"
    live: bool  # a camera or a stream
    fps: float | None  # the file's or the camera's reported rate, if any

    def __iter__(self) -> Iterator[Frame]:
        return self

    @abstractmethod
    def __next__(self) -> Frame:
        """The next Frame; raises StopIteration at the end or after close()."""

    @abstractmethod
    def close(self) -> None:
        """Release the camera or file and stop any thread; calling it again does nothing."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()


def _print_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def open_source(spec: str, loop: bool = False,
                on_message: Callable[[str], None] = _print_to_stderr) -> Source:
    """The Source that ``spec`` (a --source value) names; see the module docstring.

    ``loop`` plays a video, a photo or a folder again and again; live sources
    ignore it. ``on_message`` gets one line about each unreadable photo of a
    folder, and when a live source stops delivering frames and when it is
    back; it is called in the thread that iterates the Source.
    Raises SourceError when the source cannot be opened or read at all.
    """
    if spec.isascii() and spec.isdigit():
        return _open_camera(int(spec), on_message)
    if "://" in spec:
        return _open_stream(spec, on_message)
    path = os.path.expanduser(spec)
    if os.path.isdir(path):
        photos = list_photos([path])
        if not photos:
            raise SourceError(f"folder {spec} has no photos in it; add JPEG or PNG photos, "
                              "or choose another --source")
        return _Stills(f"folder {spec}", photos, loop, on_message)
    if not os.path.exists(path):
        raise SourceError(f"{spec}: no such file or folder; check the path, or give a "
                          "camera index (--source 0) or a stream URL")
    if is_photo_file(path):
        try:
            first = read_photo(path)
        except PhotoError as error:
            raise SourceError(str(error)) from None
        return _Stills(f"photo {spec}", [path], loop, on_message, first)
    return _VideoFile(spec, path, loop)


# -- video files ------------------------------------------------------------

class _VideoFile(Source):
    """Every frame of a video file, read in the caller's thread."""

    live = False

    def __init__(self, spec: str, path: str, loop: bool) -> None:
        self.description = f"video {spec}"
        self._path = path
        self._loop = loop
        self._capture, self._pending = _open_video_capture(path)
        if self._capture is None:
            raise SourceError(_unreadable_video_message(spec, path))
        self.fps = _reported_fps(self._capture)
        self._rate = self.fps or ASSUMED_VIDEO_FPS
        self._index = 0
        self._read_this_pass = 0

    def __next__(self) -> Frame:
        if self._capture is None:
            raise StopIteration
        image, self._pending = self._pending, None
        if image is None:
            image = _read(self._capture)
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


def _open_video_capture(path: str) -> tuple[cv2.VideoCapture | None, np.ndarray | None]:
    """The opened capture of the video at ``path`` and its first frame, or (None, None).

    The first frame is read here because a file FFmpeg opens may still hold
    nothing it can decode.
    """
    with _opencv_quiet():
        capture = cv2.VideoCapture(path, _file_backend())
    return _open_live(capture)


def _unreadable_video_message(spec: str, path: str) -> str:
    if not os.access(path, os.R_OK):
        return (f"{spec}: permission denied; make the file readable (chmod a+r) "
                "or choose another --source")
    return (f"{spec} cannot be read as a video (corrupt, or a format this OpenCV "
            "cannot decode); convert it to MP4 (H.264), or choose another --source")


# -- photos -----------------------------------------------------------------

class _Stills(Source):
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


# -- live sources: cameras and streams --------------------------------------

class _Live(Source):
    """A camera or stream read continuously by a capture thread, newest frame only."""

    live = True

    def __init__(self, description: str, reopen: Callable[[], cv2.VideoCapture | None],
                 capture: cv2.VideoCapture, first: np.ndarray, start: float,
                 on_message: Callable[[str], None]) -> None:
        self.description = description
        self.fps = _reported_fps(capture)
        self._reopen = reopen
        self._on_message = on_message
        self._start = start
        self._changed = threading.Condition()
        # Guarded by _changed: what the capture thread hands over.
        self._newest = Frame(first, 0, time.monotonic() - start, still=False)
        self._messages: list[str] = []
        self._closed = False
        self._delivered = -1  # index of the last frame returned
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._capture_loop, args=(capture,),
                                        name=f"capture {description}", daemon=True)
        self._thread.start()

    def __next__(self) -> Frame:
        while True:
            with self._changed:
                # Waiting in slices lets Ctrl+C through on Windows too, where a
                # lock wait without a timeout cannot be interrupted.
                while not self._changed.wait_for(self._ready, timeout=0.5):
                    pass
                messages, self._messages = self._messages, []
                frame = self._newest if self._newest.index > self._delivered else None
                closed = self._closed
            # Called outside the lock and in the caller's thread, so that a
            # slow or non-thread-safe callback never holds up the capture.
            for message in messages:
                self._on_message(message)
            if closed:
                raise StopIteration
            if frame is not None:
                self._delivered = frame.index
                return frame

    def _ready(self) -> bool:
        return self._closed or bool(self._messages) or self._newest.index > self._delivered

    def close(self) -> None:
        self._stop.set()
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(CLOSE_WAIT_S)

    def _capture_loop(self, capture: cv2.VideoCapture | None) -> None:
        """Read frames until close(); reopen the source with backoff while it delivers none.

        The capture is used and released in this thread only: releasing it
        from another thread in the middle of a read could crash.
        """
        count = 1  # frame 0 was read when the source was opened
        delay = FIRST_RECONNECT_DELAY_S
        in_outage = False
        try:
            while not self._stop.is_set():
                if capture is not None:
                    image = _read(capture)
                    if image is not None:
                        self._hand_over(Frame(image, count, time.monotonic() - self._start,
                                              still=False),
                                        f"{self.description} is back" if in_outage else None)
                        count += 1
                        in_outage = False
                        delay = FIRST_RECONNECT_DELAY_S
                        continue
                    capture.release()
                    capture = None
                    if not in_outage:
                        in_outage = True
                        self._hand_over(None, f"{self.description} stopped delivering "
                                              "frames; reconnecting...")
                # An Event wait, not a sleep, so that close() ends it at once.
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, MAX_RECONNECT_DELAY_S)
                capture = self._reopen()
        finally:
            if capture is not None:
                capture.release()

    def _hand_over(self, frame: Frame | None, message: str | None) -> None:
        with self._changed:
            if frame is not None:
                self._newest = frame  # an older one not yet taken is dropped
            if message is not None:
                self._messages.append(message)
            self._changed.notify_all()


def _open_live_source(description: str, make_capture: Callable[[], cv2.VideoCapture | None],
                      advice: str, on_message: Callable[[str], None]) -> _Live:
    """A live source reading ``make_capture()``'s capture, which it makes again to
    reconnect; SourceError with ``advice`` when the first one gives no frame."""
    def reopen() -> cv2.VideoCapture | None:
        capture, _ = _open_live(make_capture())
        return capture

    start = time.monotonic()
    capture, first = _open_live(make_capture())
    if capture is None:
        raise SourceError(f"{description} cannot be opened: {advice}")
    return _Live(description, reopen, capture, first, start, on_message)


def _open_camera(index: int, on_message: Callable[[str], None]) -> _Live:
    return _open_live_source(f"camera {index}", lambda: _camera_capture(index),
                             "is it plugged in and not used by another program? "
                             + _camera_hint(index), on_message)


def _camera_capture(index: int) -> cv2.VideoCapture | None:
    """A capture of camera ``index``, or None when there is no such camera for sure."""
    if sys.platform.startswith("linux"):
        # Without the device node V4L2 can only fail, and the default
        # backend order would also try FFmpeg and Orbbec, each printing
        # errors; with V4L2 named a missing camera fails in milliseconds.
        if not os.path.exists(f"/dev/video{index}"):
            return None
        with _opencv_quiet():
            return cv2.VideoCapture(index, cv2.CAP_V4L2)
    with _opencv_quiet():
        return cv2.VideoCapture(index)


def _camera_hint(index: int) -> str:
    if not sys.platform.startswith("linux"):
        return "Try another index (--source 0, 1, ...), or a video file."
    found = sorted(int(name[5:]) for name in os.listdir("/dev")
                   if name.startswith("video") and name[5:].isdigit())
    others = [str(number) for number in found if number != index]
    if not others:
        return "No camera is connected (no /dev/video*): connect one, or use a video file."
    # A USB camera often has a second node for metadata only, so more than
    # one index may be listed for a single camera.
    return f"Camera devices found: {', '.join(others)}; try --source {others[0]}, or a video file."


def _open_stream(url: str, on_message: Callable[[str], None]) -> _Live:
    return _open_live_source(f"stream {_without_password(url)}", lambda: _stream_capture(url),
                             "check the address, that the camera is on and reachable from "
                             "this computer, and its user name and password", on_message)


def _stream_capture(url: str) -> cv2.VideoCapture:
    timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS]
    with _opencv_quiet():
        return cv2.VideoCapture(url, _file_backend(), timeouts)


def _open_live(capture: cv2.VideoCapture | None) -> tuple[cv2.VideoCapture | None,
                                                          np.ndarray | None]:
    """``capture`` and its first frame, or (None, None) released when it gives none.

    A camera that another program holds may open and then deliver nothing,
    and so may a file FFmpeg opens: a source only counts as open once a
    frame came.
    """
    if capture is None:
        return None, None
    if capture.isOpened():
        first = _read(capture)
        if first is not None:
            return capture, first
    capture.release()
    return None, None


def _without_password(url: str) -> str:
    """``url`` with the password of user:password@ replaced by ***, for messages."""
    return re.sub(r"(://[^/@:]*:)[^/]*@", r"\1***@", url)


# -- OpenCV helpers ---------------------------------------------------------

def _read(capture: cv2.VideoCapture) -> np.ndarray | None:
    """The next frame of ``capture``, or None when it gives none."""
    ok, image = capture.read()
    return image if ok and image is not None and image.size else None


def _reported_fps(capture: cv2.VideoCapture) -> float | None:
    fps = capture.get(cv2.CAP_PROP_FPS)
    # Backends report 0, NaN or absurd values when they do not know.
    return fps if math.isfinite(fps) and 0 < fps <= 1000 else None


def _file_backend() -> int:
    # Naming FFmpeg keeps OpenCV from trying its other backends one after
    # the other on a file none of them can read, each printing a warning.
    return cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY
