"""Live sources: a camera or a stream, read by a capture thread that keeps only the newest frame.

The greeter never lags behind the door: a frame the caller was too busy to
take is dropped for a newer one. A live source that stops delivering frames
is reopened, with growing waits, until it comes back.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np

from greeter.report import redact_url
from greeter.frames import (Frame, NewestFrame, Source, SourceError, file_backend, first_frame_or_release,
                            read_frame, reported_fps)
from greeter.photos import opencv_quiet

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
# FFmpeg's codec tag of MJPEG, and the capture format that makes FFmpeg hand
# over each packet (for MJPEG: one whole JPEG) undecoded.
MJPEG_FOURCC = cv2.VideoWriter_fourcc(*"MJPG")
RAW_PACKETS = -1


class _Live(Source):
    """A camera or stream read continuously by a capture thread, newest frame only."""

    live = True

    def __init__(self, description: str, reopen: Callable[[], cv2.VideoCapture | None],
                 capture: cv2.VideoCapture, first: Frame, start: float,
                 on_message: Callable[[str], None]) -> None:
        self.description = description
        self.fps = reported_fps(capture)
        self._reopen = reopen
        self._on_message = on_message
        self._start = start
        self._frames = NewestFrame(first)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._capture_loop, args=(capture,),
                                        name=f"capture {description}", daemon=True)
        self._thread.start()

    def __next__(self) -> Frame:
        return self._frames.take(self._on_message)

    @property
    def dropped(self) -> int:
        return self._frames.dropped

    def close(self) -> None:
        self._stop.set()
        self._frames.close()
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
                    data = read_frame(capture)
                    if data is not None:
                        frame = _frame(capture, data, count, time.monotonic() - self._start,
                                       self._caller_uses_images())
                        if frame is not None:  # else a JPEG that cannot be decoded: skipped
                            self._frames.put(frame, f"{self.description} is back" if in_outage
                                             else None)
                            count += 1
                        in_outage = False
                        delay = FIRST_RECONNECT_DELAY_S
                        continue
                    capture.release()
                    capture = None
                    if not in_outage:
                        in_outage = True
                        self._frames.put(None, f"{self.description} stopped delivering "
                                               "frames; reconnecting...")
                # An Event wait, not a sleep, so that close() ends it at once.
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, MAX_RECONNECT_DELAY_S)
                capture = self._reopen()
        finally:
            if capture is not None:
                capture.release()

    def _caller_uses_images(self) -> bool:
        """Whether the caller asked for the image of the last frame it took: then the
        next JPEG is decoded here, beside the caller's work, not by the caller.
        An empty hall's frames are never decoded in full (Frame.from_jpeg)."""
        last = self._frames.last_taken
        return last is None or last.image_asked


def _frame(capture: cv2.VideoCapture, data: np.ndarray, index: int, at: float,
           decode_now: bool) -> Frame | None:
    """The Frame of what ``capture`` read: an image, or the JPEG of an MJPEG stream
    read undecoded (see _stream_capture); None for a JPEG that cannot be decoded."""
    if capture.get(cv2.CAP_PROP_FORMAT) != RAW_PACKETS:
        return Frame(data, index, at, still=False)
    return Frame.from_jpeg(data.reshape(-1), index, at, decode_now)


def _first_frame(capture: cv2.VideoCapture | None,
                 start: float) -> tuple[cv2.VideoCapture | None, Frame | None]:
    """``capture`` and its first Frame, or (None, None) released when it gives none."""
    capture, data = first_frame_or_release(capture)
    if capture is None:
        return None, None
    frame = _frame(capture, data, 0, time.monotonic() - start, decode_now=True)
    if frame is None:
        capture.release()
        return None, None
    return capture, frame


def _open_live_source(description: str, make_capture: Callable[[], cv2.VideoCapture | None],
                      advice: str, on_message: Callable[[str], None], wait: bool) -> _Live:
    """A live source reading ``make_capture()``'s capture, which it makes again to
    reconnect. When the first one gives no frame: SourceError with ``advice``, or
    with ``wait``, tries again with the pauses of a lost source until it does."""
    def reopen() -> cv2.VideoCapture | None:
        capture, _ = first_frame_or_release(make_capture())
        return capture

    start = time.monotonic()
    capture, first = _first_frame(make_capture(), start)
    delay = FIRST_RECONNECT_DELAY_S
    if capture is None and wait:
        on_message(f"{description} cannot be opened yet ({advice}); waiting for it...")
        while capture is None:
            time.sleep(delay)  # Ctrl+C or SIGTERM ends it
            delay = min(delay * 2, MAX_RECONNECT_DELAY_S)
            start = time.monotonic()
            capture, first = _first_frame(make_capture(), start)
        on_message(f"{description} is there")
    if capture is None:
        raise SourceError(f"{description} cannot be opened: {advice}")
    return _Live(description, reopen, capture, first, start, on_message)


def open_camera(index: int, on_message: Callable[[str], None], wait: bool = False) -> Source:
    """Camera ``index`` as a live Source; SourceError saying what to try when it gives no
    frame, or with ``wait``, waits until it does."""
    return _open_live_source(f"camera {index}", lambda: _camera_capture(index),
                             "is it plugged in and not used by another program? "
                             + _camera_hint(index), on_message, wait)


def _camera_capture(index: int) -> cv2.VideoCapture | None:
    """A capture of camera ``index``, or None when there is no such camera for sure."""
    if sys.platform.startswith("linux"):
        # Without the device node V4L2 can only fail, and the default
        # backend order would also try FFmpeg and Orbbec, each printing
        # errors; with V4L2 named a missing camera fails in milliseconds.
        if not os.path.exists(f"/dev/video{index}"):
            return None
        with opencv_quiet():
            return cv2.VideoCapture(index, cv2.CAP_V4L2)
    with opencv_quiet():
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


def open_stream(url: str, on_message: Callable[[str], None], wait: bool = False) -> Source:
    """The stream at ``url`` as a live Source; SourceError saying what to check when it
    gives no frame, or with ``wait``, waits until it does."""
    return _open_live_source(f"stream {redact_url(url)}", lambda: _stream_capture(url),
                             "check the address, that the camera is on and reachable from "
                             "this computer, and its user name and password", on_message, wait)


def _stream_capture(url: str) -> cv2.VideoCapture:
    """A capture of ``url``; an MJPEG stream's is set to give each JPEG undecoded,
    for Frame.from_jpeg (most IP cameras and ESP32-CAMs send MJPEG over HTTP)."""
    timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS]
    with opencv_quiet():
        capture = cv2.VideoCapture(url, file_backend(), timeouts)
    if capture.isOpened() and int(capture.get(cv2.CAP_PROP_FOURCC)) == MJPEG_FOURCC:
        capture.set(cv2.CAP_PROP_FORMAT, RAW_PACKETS)
    return capture
