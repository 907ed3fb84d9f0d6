"""Frames and the Source they come from: what every kind of source shares.

A Source is an iterator of Frame values. :mod:`greeter.live_sources`
(cameras and streams, read by a thread of their own) and
:mod:`greeter.file_sources` (video files and photos, read in the caller's
thread) build on it, and on the OpenCV helpers at the end of this module;
:func:`greeter.capture.open_source` picks one for a ``--source`` value.
"""

from __future__ import annotations

import math
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator

import cv2
import numpy as np

from greeter import motion

# FFmpeg writes its own errors to stderr ("[tcp @ 0x..] Connection refused",
# "[h264 @ 0x..] error while decoding MB" on every lost packet of a stream);
# Source reports the failures that matter in words, so FFmpeg is kept quiet
# unless the user asks otherwise. OpenCV reads this when it first uses FFmpeg.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


class Frame:
    """One image from a Source.

    A frame of an MJPEG stream comes as its JPEG (greeter.live_sources reads
    those streams undecoded) and is decoded only as far as it is used: the
    motion check's small grey copy from the JPEG decoded at reduced size (a
    quarter of the width of a 720p or 1080p frame, for a fifth of the cost of
    the whole), the image in full when it is first asked for. An empty hall's
    frames are mostly not decoded at all: the motion check looks at every
    other one (greeter.recognise).
    """

    def __init__(self, image: np.ndarray, index: int, time: float, still: bool) -> None:
        """``image``: BGR uint8, height x width x 3 (a JPEG's frame: from_jpeg)."""
        # 0-based: a video's frame number (still counting up on later passes of
        # loop=True); for a live source the number of frames read since it was
        # opened, including those dropped because the caller was busy; for
        # stills the number of photos delivered before this one.
        self.index = index
        # Seconds: a video's own time (index / fps); for live sources and stills
        # time.monotonic() minus the moment the source was opened.
        self.time = time
        self.still = still  # True for a photo: a still counts as confirmed on its own
        self._image: np.ndarray | None = image
        self._jpeg: np.ndarray | None = None
        self._jpeg_size: tuple[int, int] | None = None  # (height, width) from its header
        self._motion_copy: np.ndarray | None = None
        self._image_asked = False

    @property
    def image(self) -> np.ndarray:
        """The frame, BGR uint8, height x width x 3 (decoded now if it came as a JPEG)."""
        self._image_asked = True
        if self._image is None:
            self._image = self._decoded()
        return self._image

    def _decoded(self) -> np.ndarray:
        """The JPEG decoded in full."""
        image = cv2.imdecode(self._jpeg, cv2.IMREAD_COLOR)
        # Its header was read (from_jpeg made sure), so its data is broken: a
        # black frame then, in which nothing is found, not a crashed loop.
        return image if image is not None else np.zeros((*self._jpeg_size, 3), np.uint8)

    @property
    def decoded(self) -> bool:
        """Whether the image is there already (asked for, decoded ahead, or never a JPEG)."""
        return self._image is not None

    @property
    def image_asked(self) -> bool:
        """Whether anyone asked for the image (not only for the motion copy)."""
        return self._image_asked

    @property
    def motion_checked(self) -> bool:
        """Whether the motion copy was made (see motion_copy)."""
        return self._motion_copy is not None

    def motion_copy(self) -> np.ndarray:
        """The small grey copy that greeter.motion compares: made from the JPEG
        decoded at reduced size while the image itself is not needed."""
        if self._motion_copy is None:
            # The image itself where it was decoded already; not self.image,
            # which would count as asked and have the next frames decoded ahead.
            source = self._image if self._image is not None else reduced_grey(
                self._jpeg, self._jpeg_size, motion.MOTION_WIDTH)
            if source is None:
                source = self._image = self._decoded()
            self._motion_copy = motion.motion_copy(source)
        return self._motion_copy

    @classmethod
    def from_jpeg(cls, jpeg: np.ndarray, index: int, time: float,
                  decode_now: bool) -> Frame | None:
        """A live frame of ``jpeg`` (its bytes, uint8): decoded now, or else only as
        far as it is used. None when it is no JPEG (no image header), or when it
        was to be decoded now and could not be."""
        size = jpeg_size(jpeg)
        if size is None:
            return None
        frame = cls(None, index, time, still=False)
        frame._jpeg, frame._jpeg_size = jpeg, size
        if decode_now:
            frame._image = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
            return frame if frame._image is not None else None
        return frame


def reduced_grey(jpeg: np.ndarray, size: tuple[int, int], min_width: int) -> np.ndarray | None:
    """``jpeg``, of ``size`` (height, width: jpeg_size), decoded in grey at 1/2, 1/4
    or 1/8 of its size, the smallest that is still ``min_width`` wide; None when
    it cannot be decoded."""
    factor = next((f for f in (8, 4, 2) if size[1] // f >= min_width), 1)
    return cv2.imdecode(jpeg, {8: cv2.IMREAD_REDUCED_GRAYSCALE_8, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
                               2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 1: cv2.IMREAD_GRAYSCALE}[factor])


# The JPEG markers that start a frame header (SOF0-SOF15 but DHT, JPG and DAC),
# which holds the image's size.
_FRAME_HEADERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_size(jpeg: np.ndarray) -> tuple[int, int] | None:
    """(height, width) from a JPEG's frame header, or None if it has none before
    its image data: what the reduced decode needs to know, read in microseconds."""
    data = jpeg.tobytes()
    if data[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 9 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _FRAME_HEADERS:
            height, width = int.from_bytes(data[at + 5:at + 7], "big"), int.from_bytes(data[at + 7:at + 9], "big")
            return (height, width) if height and width else None
        if marker == 0xDA:  # the image data starts: no header came
            return None
        at += 2 + int.from_bytes(data[at + 2:at + 4], "big")
    return None


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
    # Frames that came while the caller was busy and were replaced by newer
    # ones: always 0 for a source that waits for its caller.
    dropped: int = 0

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


class NewestFrame:
    """Where a reading thread hands frames to the caller, keeping only the newest.

    The reader calls put() for each frame (and for messages about the
    source), then end() when it has no more; the caller's take() waits for a
    frame newer than the last it took. A frame not taken before the next one
    comes is dropped, as a camera drops what nobody reads.
    """

    def __init__(self, first: Frame | None = None) -> None:
        self._changed = threading.Condition()
        # All guarded by _changed.
        self._newest = first
        self._messages: list[str] = []
        self._closed = False  # no frame will come any more
        self._taken = -1  # index of the last frame taken
        self._last_taken: Frame | None = None
        self._put = 0 if first is None else 1
        self._taken_count = 0

    def put(self, frame: Frame | None, message: str | None = None) -> None:
        """Hand over ``frame`` (replacing one not yet taken) and/or a message."""
        with self._changed:
            if frame is not None:
                self._newest = frame
                self._put += 1
            if message is not None:
                self._messages.append(message)
            self._changed.notify_all()

    def close(self) -> None:
        """No more frames: take() raises StopIteration once the newest one is taken."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def take(self, on_message: Callable[[str], None], stop_at_once: bool = True) -> Frame:
        """The next newer frame, waiting for it; messages go to ``on_message`` first,
        in the caller's thread. After close(), StopIteration: at once, or
        (``stop_at_once=False``) once the last frame is taken."""
        while True:
            with self._changed:
                # Waiting in slices lets Ctrl+C through on Windows too, where a
                # lock wait without a timeout cannot be interrupted.
                while not self._changed.wait_for(self._ready, timeout=0.5):
                    pass
                messages, self._messages = self._messages, []
                frame = self._newest if self._is_new() else None
                finished = self._closed and (stop_at_once or frame is None)
                if frame is not None and not finished:
                    if self._taken_count == 0:
                        # Frames that came while the program started up were not
                        # dropped for want of speed: count from the first one taken.
                        self._put = 1
                    self._taken, self._last_taken = frame.index, frame
                    self._taken_count += 1
            # Outside the lock, so that a slow or non-thread-safe callback
            # never holds up the reader.
            for message in messages:
                on_message(message)
            if finished:
                raise StopIteration
            if frame is not None:
                return frame

    @property
    def last_taken(self) -> Frame | None:
        """The frame the caller took last (None before the first)."""
        with self._changed:
            return self._last_taken

    @property
    def dropped(self) -> int:
        """How many frames were replaced before the caller took them."""
        with self._changed:
            return self._put - self._taken_count - (1 if self._is_new() else 0)

    def _is_new(self) -> bool:
        return self._newest is not None and self._newest.index > self._taken

    def _ready(self) -> bool:
        return self._closed or bool(self._messages) or self._is_new()


# -- OpenCV helpers ---------------------------------------------------------

def first_frame_or_release(
        capture: cv2.VideoCapture | None) -> tuple[cv2.VideoCapture | None, np.ndarray | None]:
    """``capture`` and its first frame, or (None, None) released when it gives none.

    A camera that another program holds may open and then deliver nothing,
    and so may a file FFmpeg opens: a source only counts as open once a
    frame came.
    """
    if capture is None:
        return None, None
    if capture.isOpened():
        first = read_frame(capture)
        if first is not None:
            return capture, first
    capture.release()
    return None, None


def read_frame(capture: cv2.VideoCapture) -> np.ndarray | None:
    """The next frame of ``capture``, or None when it gives none."""
    ok, image = capture.read()
    return image if ok and image is not None and image.size else None


def reported_fps(capture: cv2.VideoCapture) -> float | None:
    fps = capture.get(cv2.CAP_PROP_FPS)
    # Backends report 0, NaN or absurd values when they do not know.
    return fps if math.isfinite(fps) and 0 < fps <= 1000 else None


def file_backend() -> int:
    # Naming FFmpeg keeps OpenCV from trying its other backends one after
    # the other on a file none of them can read, each printing a warning.
    return cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY
