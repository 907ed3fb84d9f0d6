"""Who is in a frame: detect every face, then name each, re-encoding only when needed.

A face found again where it was in the previous frame keeps the name found
then, for at most REUSE_FRAMES frames: encoding is the costly stage, and a
face that has not moved has not changed identity. A face that moves or
changes size notably, or a new gallery, gets a fresh encoding at once. A box
that turns out to hold no face is left out, and stays out while it stays put.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from greeter.detect import Box, face_locations
from greeter.match import Match, match_faces

REUSE_FRAMES = 5
# Boxes overlapping this much (intersection over union) are the same face, unmoved.
SAME_PLACE_IOU = 0.7


def box_overlap(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes, 0..1."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


@dataclass(frozen=True)
class Face:
    """One face in a frame: where it is, who it is, and what it was encoded as."""

    box: Box
    match: Match
    encoding: np.ndarray  # (128,) float32, the network's output for this face
    track: int  # the same number in every frame while the face is followed


@dataclass
class _Tracked:
    box: Box
    face: Face | None  # None: the box holds no face
    age: int  # frames since this face was last encoded


@dataclass
class StageTimes:
    """Seconds spent in each stage, summed over frames (for the benchmark)."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    frames: int = 0

    def per_frame_ms(self) -> dict[str, float]:
        return {stage: 1000 * total / max(self.frames, 1) for stage, total in self.seconds.items()}


class FaceRecogniser:
    """Finds and names the faces of consecutive frames of one source."""

    def __init__(self, encoder, threshold: float, reuse_frames: int = REUSE_FRAMES) -> None:
        self.encoder = encoder
        self.threshold = threshold
        self.reuse_frames = reuse_frames
        self.times = StageTimes()
        self._tracked: list[_Tracked] = []
        self._gallery = None
        self._tracks = itertools.count()

    def _reusable(self, box: Box) -> _Tracked | None:
        """The face of the previous frame at ``box``'s place, if it may keep its name."""
        overlap, best = max(((box_overlap(t.box, box), t) for t in self._tracked),
                            key=lambda pair: pair[0], default=(0.0, None))
        if best is not None and best.age < self.reuse_frames and overlap >= SAME_PLACE_IOU:
            return best
        return None

    def recognise(self, image: np.ndarray, gallery, still: bool = False) -> list[Face]:
        """The faces in a BGR frame, largest first, each with who it is.

        ``still``: the frame is a photo of its own (a slideshow), not the next
        moment of the same scene: no face keeps the name of one in the last frame.
        """
        if still or gallery is not self._gallery:  # every face is looked at afresh
            self._tracked, self._gallery = [], gallery
        started = time.perf_counter()
        boxes = face_locations(self.encoder.detector, image)
        detected = time.perf_counter()
        previous = [self._reusable(box) for box in boxes]
        fresh = [i for i, seen in enumerate(previous) if seen is None]
        encodings, is_face = self.encoder.checked_face_encodings(image, [boxes[i] for i in fresh])
        encoded = time.perf_counter()
        found = iter(match_faces(gallery, encodings[is_face], self.threshold))
        fresh_faces = {i: Face(boxes[i], next(found), encodings[row], next(self._tracks))
                       if face else None
                       for row, (i, face) in enumerate(zip(fresh, is_face))}
        faces = [fresh_faces[i] if seen is None
                 else seen.face and Face(box, seen.face.match, seen.face.encoding,
                                         seen.face.track)
                 for i, (box, seen) in enumerate(zip(boxes, previous))]
        self._tracked = [_Tracked(box, face, 0 if seen is None else seen.age + 1)
                         for box, face, seen in zip(boxes, faces, previous)]
        self.times.seconds["detect"] += detected - started
        self.times.seconds["align+encode"] += encoded - detected
        self.times.seconds["match"] += time.perf_counter() - encoded
        self.times.frames += 1
        return [face for face in faces if face is not None]
