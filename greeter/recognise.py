"""Who is in a frame: find every face, follow each from frame to frame, name each.

The whole frame is searched for faces every few frames (as often as the
detector's cost for the frame's size allows, see
FaceDetector.frames_per_scan), and only when something moved (greeter.motion;
a search now and then all the same, for a person who stands still): an
empty hall costs no detection. Motion is looked for on every other frame:
half an empty hall's frames are not even decoded. In between, the faces
already found are looked for around where they were. A face is followed as
a track while its box overlaps the one it had in the last frames. Encoding
is the costly stage (tens of milliseconds a face, more than a frame's time
at 30 fps), so a frame encodes at most what Tracking.encodes_per_frame allows, new
faces first, and a frame with a whole-frame search one face at most: a
burst of new faces is spread over the next frames. A track is encoded only:

- on each of its first ``first_looks`` frames (the frames --confirm counts),
  so that the greeting is decided from several looks, not one;
- when its face has grown or shrunk notably since its last encoding (a
  person walking up to the camera shows more detail; a face of another
  size may be another face);
- and otherwise once every Tracking.reencode_frames frames.

A track is named from all its last encodings, not from one frame (a blurred
or turned frame cannot alone give a wrong name), by the median of their
distances to each photo (match.match_looks): never by their mean, which is
nearer to every photo than the looks are. A look far from the track's others
starts a new track (another person where the face was). A box whose
landmarks show it holds no face is left out, and looked at again later.

With two networks (dlib+sface), the second (five times the first's cost) is
run only where it can change a decision: on a track's first encoding, when
no look kept has it (a track split from another person's is encoded again at
once for it), and again every Tracking.second_network_frames frames while the track
is within second_network_near of the threshold (named, or nearly).
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace

import numpy as np

from greeter.detect import MIN_FACE_PX, Box, FaceDetector
from greeter.frames import Frame
from greeter.match import UNKNOWN, Gallery, Match, match_looks
from greeter.motion import MotionGate

@dataclass(frozen=True)
class Tracking:
    """How faces are followed and how often they are encoded (the module docstring
    tells why); the settings file's ``[tracking]`` table sets them."""

    # Encoded again after this many frames at the latest (a third of a second at 30 fps).
    reencode_frames: int = 10
    # The second network again after this many frames (a second at 30 fps), for a
    # track whose distance is within second_network_near x the threshold; a track
    # farther than that is a stranger whatever the second network says of it now.
    second_network_frames: int = 30
    second_network_near: float = 1.25
    # A face this much wider or narrower than at its last encoding is encoded again at once.
    size_change_to_reencode: float = 1.25
    # The encodings a track is named from: the last second or so of its looks.
    looks_kept: int = 10
    # A box overlapping a track's last box this much (intersection over union)
    # is the same face, moved.
    same_face_iou: float = 0.3
    # A track missing from this many frames in a row is ended: the person left.
    missed_frames_to_end: int = 5
    # Faces encoded per frame on average, and at most at once: one face costs
    # about a frame's time, so a busy door encodes every other frame and keeps
    # up; a new face still gets its first looks on consecutive frames.
    encodes_per_frame: float = 0.5
    encodes_at_once: float = 2.0
    # Nothing moved for this many frames: the whole frame is searched all the
    # same (a person standing still; 2 s at 30 fps, a few ms every 2 s).
    quiet_frames_per_scan: int = 60
    # Motion is looked for on every this many frames: a person walking in is
    # seen a frame later at most, and an empty hall costs half the decoding
    # (Frame.motion_copy).
    frames_per_motion_check: int = 2

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not value > 0:
                raise ValueError(f"[tracking] {name.replace('_', '-')} must be more than 0")


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
    encoding: np.ndarray  # (width,) float32: the track's latest look of each network
    track: int  # the same number in every frame while the face is followed


def one_face_per_person(faces: list[Face]) -> list[Face]:
    """``faces`` with each person's name kept only on the face nearest to them: one
    person is in one place. The others are unknown (their distance kept).

    Two faces of one frame both under the threshold of one person happen with
    small, blurred faces (a 50-pixel face of another woman came 0.56 from a
    still of the woman beside her).
    """
    nearest: dict[str, float] = {}
    for face in faces:
        if face.match.known:
            nearest[face.match.name] = min(nearest.get(face.match.name, np.inf),
                                           face.match.distance)
    return [face if not face.match.known or face.match.distance == nearest[face.match.name]
            else replace(face, match=Match(UNKNOWN, face.match.distance)) for face in faces]


def _latest_look(looks: list[np.ndarray]) -> np.ndarray:
    """The newest look (width,) float32, each part a network skipped (NaN) taken
    from the newest look that has it."""
    latest = looks[-1].copy()
    for look in reversed(looks[:-1]):
        missing = np.isnan(latest)
        if not missing.any():
            break
        latest[missing] = look[missing]
    return latest


@dataclass
class _Track:
    number: int
    box: Box
    looks: list[np.ndarray] = field(default_factory=list)  # the last encodings (NaN: skipped)
    match: Match | None = None  # None: not yet seen to hold a face
    encoded: int = 0  # how often it was encoded (a box that held no face included)
    encoded_width: int = 0  # the box's width at the last encoding
    frames_since_encoded: int = 0
    frames_since_second: int = 0  # since the second network last ran on it
    missed: int = 0  # consecutive frames without a box

    def needs_encoding(self, first_looks: int, tracking: Tracking) -> bool:
        return (self.encoded < first_looks
                or self.frames_since_encoded >= tracking.reencode_frames
                # Split from another person's track on a look without the second
                # network: it cannot be named until it has one (issue 20).
                or self.looks and self.lacks_second()
                or not 1 / tracking.size_change_to_reencode
                < self.box[2] / max(self.encoded_width, 1) < tracking.size_change_to_reencode)

    def lacks_second(self) -> bool:
        """True when no look kept has the second network's part (or there is no look)."""
        return all(np.isnan(look[-1]) for look in self.looks)

    def needs_second(self, threshold: float, tracking: Tracking) -> bool:
        """Whether this encoding should also run the second network (module docstring)."""
        if self.lacks_second():
            return True
        return (self.frames_since_second >= tracking.second_network_frames
                and self.match is not None
                and self.match.distance <= tracking.second_network_near * threshold)


@dataclass
class StageTimes:
    """Seconds spent in each stage, summed over frames (for the benchmark)."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    frames: int = 0

    def per_frame_ms(self) -> dict[str, float]:
        return {stage: 1000 * total / max(self.frames, 1) for stage, total in self.seconds.items()}


class FaceRecogniser:
    """Finds, follows and names the faces of consecutive frames of one source."""

    def __init__(self, detector: FaceDetector, encoder, threshold: float, first_looks: int = 3,
                 min_face: int = MIN_FACE_PX, tracking: Tracking = Tracking()) -> None:
        """Find faces with ``detector``, encode them with ``encoder`` (a FaceEncoder:
        ``checked_face_encodings``, ``parts`` and ``first_part_share``), name them
        within ``threshold``. ``first_looks``: how many of a new face's first frames
        are each encoded (the greeter passes --confirm); ``min_face``: the narrowest
        face looked for; ``tracking``: how faces are followed."""
        self.detector = detector
        self.encoder = encoder
        self.tracking = tracking
        self.threshold = threshold
        self.first_looks = max(1, first_looks)
        self.min_face = min_face
        self.times = StageTimes()
        self._tracks: list[_Track] = []
        self._gallery: Gallery | None = None
        self._numbers = itertools.count()
        self._frames_to_scan = 0  # until the next whole-frame search
        self._motion = MotionGate(tracking.frames_per_motion_check)
        self._moved_since_scan = True
        self._frames_to_motion_check = 0
        self._encode_credit = tracking.encodes_at_once  # faces that may be encoded now

    def recognise(self, image: np.ndarray, gallery: Gallery, still: bool = False) -> list[Face]:
        """The faces in a BGR frame, largest first, each with who it is.

        ``still``: the frame is a photo of its own (a slideshow), not the next
        moment of the same scene: no face is followed from the last frame.
        """
        return self.recognise_frame(Frame(image, 0, 0.0, still), gallery)

    def recognise_frame(self, frame: Frame, gallery: Gallery) -> list[Face]:
        """As :meth:`recognise`, for a Source's frame: one that came as a JPEG is
        decoded only when a face is looked for in it, so an empty hall is never
        decoded in full (apart from the search now and then)."""
        if frame.still:
            self._tracks, self._frames_to_scan = [], 0
        started = time.perf_counter()
        boxes, scanned = self._find_faces(frame)
        detected = time.perf_counter()
        seen = self._follow(boxes)
        due = [track for track in seen if track.needs_encoding(self.first_looks, self.tracking)]
        if not frame.still:  # a photo's faces are encoded now: the next frame is another photo
            due = self._encoding_turns(due, scanned)
        second = np.array([track.needs_second(self.threshold, self.tracking) for track in due],
                          bool)
        encodings, is_face = self.encoder.checked_face_encodings(
            frame.image, [track.box for track in due], second) if due else ([], [])
        encoded = time.perf_counter()
        first = slice(*self.encoder.parts[0])
        for track, encoding, face, with_second in zip(due, encodings, is_face, second):
            if face and track.looks and np.median(np.linalg.norm(
                    np.array(track.looks)[:, first] - encoding[first], axis=1)
            ) > self.threshold * self.encoder.first_part_share:
                # Someone else where the face was (people crossing, a cut in a
                # video): the first network alone says another person than the
                # track's looks; a new face, not a new look.
                track.number, track.looks, track.match, track.encoded = (
                    next(self._numbers), [], None, 0)
            track.frames_since_encoded, track.encoded_width = 0, track.box[2]
            track.encoded += 1
            if face:
                track.looks = (track.looks + [encoding])[-self.tracking.looks_kept:]
                if with_second:
                    track.frames_since_second = 0
        if gallery is not self._gallery:  # new people: every track is named afresh
            self._gallery = gallery
            due = self._tracks
        for track in due:
            if track.looks:
                track.match = match_looks(gallery, np.array(track.looks), self.threshold,
                                          self.encoder.parts)
        self.times.seconds["detect"] += detected - started
        self.times.seconds["align+encode"] += encoded - detected
        self.times.seconds["match"] += time.perf_counter() - encoded
        self.times.frames += 1
        faces = [Face(track.box, track.match, _latest_look(track.looks), track.number)
                 for track in seen if track.match is not None]
        return one_face_per_person(faces)

    def _encoding_turns(self, due: list[_Track], scanned: bool) -> list[_Track]:
        """Those of ``due`` to encode in this frame: as many as the credit allows,
        the tracks with the fewest encodings first, then those waiting longest."""
        self._encode_credit = min(self._encode_credit + self.tracking.encodes_per_frame,
                                  self.tracking.encodes_at_once)
        # The search took much of this frame's time: one face at most.
        allowed = min(int(self._encode_credit), 1 if scanned else len(due))
        turns = sorted(due, key=lambda track: (track.encoded, -track.frames_since_encoded))
        turns = turns[:allowed]
        self._encode_credit -= len(turns)
        return turns

    def _find_faces(self, frame: Frame) -> tuple[list[Box], bool]:
        """This frame's face boxes, and whether they come from a whole-frame search
        (when one is due and something moved since the last), else from around
        the faces being followed (none: the image is not even decoded)."""
        detector = self.detector
        self._moved_since_scan |= self._moved(frame)
        self._frames_to_scan -= 1
        # On a schedule of its own, not whenever nobody is followed: a busy
        # doorway then costs no more than a quiet one.
        if self._frames_to_scan <= 0 and (self._moved_since_scan
                                         or self._frames_to_scan <= -self.tracking.quiet_frames_per_scan):
            self._frames_to_scan = detector.frames_per_scan(frame.image.shape, self.min_face)
            self._moved_since_scan = False
            return detector.face_locations(frame.image, self.min_face), True
        if not self._tracks:
            return [], False
        boxes: list[Box] = []
        for box in detector.faces_near(frame.image, [track.box for track in self._tracks]):
            # Two followed faces may lead to the same face: it counts once.
            if box is not None and all(box_overlap(box, other) < self.tracking.same_face_iou
                                       for other in boxes):
                boxes.append(box)
        return sorted(boxes, key=lambda box: box[2] * box[3], reverse=True), False

    def _moved(self, frame: Frame) -> bool:
        """Whether anything moved, looked for in this frame if it is one of every
        Tracking.frames_per_motion_check (a photo: always)."""
        if frame.still:
            return True
        self._frames_to_motion_check -= 1
        if self._frames_to_motion_check > 0:
            return False
        self._frames_to_motion_check = self.tracking.frames_per_motion_check
        return self._motion.moved(frame.motion_copy())

    def _follow(self, boxes: list[Box]) -> list[_Track]:
        """The tracks of this frame's boxes, in the boxes' order: each box joins the
        track whose last box it overlaps most, or starts a new one."""
        pairs = sorted(((box_overlap(track.box, box), t, b)
                        for t, track in enumerate(self._tracks)
                        for b, box in enumerate(boxes)), reverse=True)
        track_of: dict[int, _Track] = {}
        taken = set()
        for overlap, t, b in pairs:
            if overlap < self.tracking.same_face_iou:
                break
            if t not in taken and b not in track_of:
                taken.add(t)
                track_of[b] = self._tracks[t]
        for t, track in enumerate(self._tracks):
            track.frames_since_encoded += 1
            track.frames_since_second += 1
            track.missed = 0 if t in taken else track.missed + 1
        seen = []
        for b, box in enumerate(boxes):
            track = track_of.get(b) or _Track(next(self._numbers), box)
            track.box = box
            seen.append(track)
        kept = [track for track in self._tracks if track.missed < self.tracking.missed_frames_to_end]
        self._tracks = kept + [track for track in seen if track not in kept]
        return seen
