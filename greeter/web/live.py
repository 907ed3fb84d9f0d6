"""The live picture for the web page: a Reaction that keeps the newest frame.

``on_frame`` runs in the frame loop, so it only keeps references (the frame
and its faces) and counts time; drawing the boxes and encoding the JPEG are
done here in the web server's threads, once per frame however many browsers
watch, and only while someone asks. A browser that reads slowly simply gets
the newest picture each time it is ready for one: frames are dropped for it,
never queued.

Jobs that must not race the frame loop (changing the visitors list it is
writing) are handed in with :meth:`LiveView.run_in_loop` and run at the start
of the next ``on_frame``; the frame loop never waits for the web.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import cv2
import numpy as np

from greeter.crops import crop_around
from greeter.draw import draw_faces

if TYPE_CHECKING:
    from greeter.frames import Frame
    from greeter.recognise import Face

# What the stream sends: at most this many pictures a second, this JPEG quality.
STREAM_FPS = 8.0
JPEG_QUALITY = 75
# Frames kept for a greeting's crop: its event is handled a moment after its frame.
RECENT_FRAMES = 8
# A job waits for the next frame at most this long: the source may be away.
JOB_TIMEOUT = 15.0


@dataclass(frozen=True)
class Shot:
    """One processed frame and what was recognised in it."""

    frame: Frame
    faces: list[Face]
    fps: float | None


class LoopStalled(RuntimeError):
    """The frame loop did not take the job in time (no frames from the source)."""


class LiveView:
    """The newest frame and faces, handed over by the frame loop (a Reaction)."""

    def __init__(self) -> None:
        self._recent: deque[Shot] = deque(maxlen=RECENT_FRAMES)
        self._fps: float | None = None
        self._last: float | None = None
        self._jobs: deque[tuple[Callable[[], object], Future]] = deque()
        self._encode_lock = threading.Lock()
        self._encoded: tuple[int, bytes] | None = None  # frame index, JPEG
        self._new_frame = threading.Condition()
        self.frames = 0
        self.closed = False

    # -- the frame loop's side: nearly free ---------------------------------

    def on_frame(self, frame: Frame, faces: list[Face]) -> None:
        now = time.monotonic()
        if self._last is not None:
            instant = 1 / max(now - self._last, 1e-6)
            self._fps = instant if self._fps is None else 0.9 * self._fps + 0.1 * instant
        self._last = now
        self._recent.append(Shot(frame, list(faces), self._fps))
        self.frames += 1
        if self._jobs:
            job, future = self._jobs.popleft()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except Exception as error:  # the web's job must never stop the greeter
                    future.set_exception(error)
        with self._new_frame:
            self._new_frame.notify_all()

    def close(self) -> None:
        self.closed = True
        while self._jobs:
            self._jobs.popleft()[1].cancel()
        with self._new_frame:
            self._new_frame.notify_all()

    # -- the web's side -----------------------------------------------------

    def newest(self) -> Shot | None:
        return self._recent[-1] if self._recent else None

    def fps(self) -> float | None:
        """The frame loop's smoothed rate; None before two frames or once stalled."""
        if self._last is None or time.monotonic() - self._last > 5.0:
            return None
        return self._fps

    def run_in_loop(self, job: Callable[[], object], timeout: float = JOB_TIMEOUT) -> object:
        """``job()``'s result, run by the frame loop between two frames.

        Raises LoopStalled when no frame came within ``timeout`` s.
        """
        future: Future = Future()
        self._jobs.append((job, future))
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise LoopStalled("the greeter is not processing frames now (is the source "
                              "away?); try again once the live picture moves") from None

    def wait_for_frame(self, after: int, timeout: float) -> bool:
        """Wait until more than ``after`` frames were handed over (or close)."""
        with self._new_frame:
            return self._new_frame.wait_for(lambda: self.frames > after or self.closed,
                                            timeout)

    def jpeg(self) -> tuple[int, bytes] | None:
        """The newest frame drawn as the window draws it, as (frame index, JPEG); encoded
        once per frame, whichever browser asks first."""
        shot = self.newest()
        if shot is None:
            return None
        with self._encode_lock:
            if self._encoded is None or self._encoded[0] != shot.frame.index:
                picture = draw_faces(shot.frame.image, [face.box for face in shot.faces],
                                     [face.match for face in shot.faces], shot.fps)
                ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY,
                                                          JPEG_QUALITY])
                if not ok:
                    return None
                self._encoded = (shot.frame.index, data.tobytes())
            return self._encoded

    def crop_of(self, name: str | None = None, track: int | None = None,
                frame_index: int | None = None) -> np.ndarray | None:
        """A crop (as enroll saves) of the face of ``name`` or ``track``, from frame
        ``frame_index`` if still kept, else from the newest frame showing it."""
        shots = list(self._recent)
        shots.sort(key=lambda shot: (shot.frame.index != frame_index, -shot.frame.index))
        for shot in shots:
            for face in shot.faces:
                if (name is not None and face.match.name == name) or \
                        (track is not None and face.track == track):
                    return crop_around(shot.frame.image, face.box)
        return None


class CpuMeter:
    """The process's CPU use, in CPU-seconds per second, over the time between calls."""

    def __init__(self) -> None:
        self._then = (time.monotonic(), self._cpu())
        self.value: float | None = None

    @staticmethod
    def _cpu() -> float:
        times = os.times()
        return times.user + times.system

    def read(self) -> float | None:
        now, cpu = time.monotonic(), self._cpu()
        if now - self._then[0] >= 1.0:
            self.value = (cpu - self._then[1]) / (now - self._then[0])
            self._then = (now, cpu)
        return self.value
