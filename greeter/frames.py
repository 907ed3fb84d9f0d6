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
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

# FFmpeg writes its own errors to stderr ("[tcp @ 0x..] Connection refused",
# "[h264 @ 0x..] error while decoding MB" on every lost packet of a stream);
# Source reports the failures that matter in words, so FFmpeg is kept quiet
# unless the user asks otherwise. OpenCV reads this when it first uses FFmpeg.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


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
