"""``python facenet.py enroll NAME``: take a photo of a person at the door for images/.

The photo is taken once exactly one face is in view, large enough, steady
(its box moves less than STEADY_SHIFT of its width, and changes size less
than STEADY_RESIZE, over STEADY_FRAMES frames and STEADY_SECONDS) and sharp
(the variance of the Laplacian of the face, scaled to crops.SHARPNESS_SIZE
pixels, is at least MIN_SHARPNESS). A still photo given as --source counts
as steady on its own. What is saved is a square crop with a margin around
the face, checked before saving: the greeter's detector must find the face
in it and its encoding must be near the live face's.

Only new files are made: ``images/NAME.jpg``, else the first free
``NAME_2.jpg``, ``NAME_3.jpg``..., or, when the person has a folder
``images/NAME/``, the next ``NAME_<n>.jpg`` in it. The file is written in
full under a hidden temporary name and then hard-linked to its name, which
fails rather than replace a file that appeared meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import cv2
import numpy as np

from greeter.capture import Source
from greeter.common import load_models_or_say_why
from greeter.crops import crop_around, head_turn, sharpness
from greeter.database import PHOTO_NUMBER, person_name
from greeter.detect import Box, photo_min_face
from greeter.draw import (KNOWN_COLOUR, UNKNOWN_COLOUR, Window, display_available, draw_boxes,
                          draw_caption)
from greeter.files import write_new_file
from greeter.match import face_distance
from greeter.photos import is_photo_file
from greeter.report import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, warn
from greeter.settings import RecognitionSettings, Settings
from greeter.speak import Speaker
from greeter.visits import VisitorBook, default_visitors_dir

if TYPE_CHECKING:
    from greeter.encode import FaceEncoder

# Smaller faces make a poor photo to recognise from: the person should come closer.
MIN_FACE_PIXELS = 80
# Steady: the cascade's box jitters by a few per cent on a still face.
STEADY_SHIFT = 0.06
STEADY_RESIZE = 0.10
STEADY_FRAMES = 5
STEADY_SECONDS = 0.5
# crops.sharpness of sharp faces is 130 to 330, of the same faces blurred by
# half a percent of the frame (a moving head) 5 to 30.
MIN_SHARPNESS = 40.0
# The saved photo's encoding may be at most this share of the threshold
# from the live face's: it then stands for this person with room to spare.
MAX_SELF_DISTANCE_SHARE = 0.5
JPEG_QUALITY = 95
# Photos copied by ``enroll NAME --from-visitor ID``: those of the visitor's best visits
# that pass the checks of a photo from the camera, and are near-frontal: a face
# turned more than this (crops.head_turn) is skipped. Heads turned about 30
# degrees measure 0.19 to 0.48 (IMM face database), frontal photos at most
# 0.05, the slight turns of ../shared/faces' Obama photos 0.14 and 0.18.
VISITOR_PHOTOS = 3
MAX_HEAD_TURN = 0.2
# Characters no file name may hold on Windows, macOS or Linux.
_FORBIDDEN = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


@dataclass(frozen=True)
class Target:
    """Where a person's photos go: ``folder`` and file ``stem``; ``own_folder`` when
    the person has a folder of photos (files there are ``stem_<n>.jpg``); ``person``
    the name the greeter will show and speak."""

    folder: str
    stem: str
    own_folder: bool
    person: str


class BadNameError(ValueError):
    """The NAME given cannot name a photo file; the message says what to do."""


def file_stem(name: str) -> str:
    """The file name stem for the person ``name`` ("Mary Jane" -> "Mary_Jane").

    Raises BadNameError when the greeter would read another name from it, or
    no file may be called so.
    """
    stem = re.sub(r"\s+", "_", name.strip())
    if not stem or stem.strip("._-") == "":
        raise BadNameError(f"{name!r} is not a name; give the person's name, e.g. alice")
    if _FORBIDDEN.search(stem):
        raise BadNameError(f"{name!r} holds a character no file name may hold "
                           "(\\ / : * ? \" < > |); leave it out")
    if stem.startswith("."):
        raise BadNameError(f"{name!r} starts with a dot, which hides the file; leave it out")
    if PHOTO_NUMBER.search(stem):
        dashed = PHOTO_NUMBER.sub(r"-\1", stem)
        raise BadNameError(f"{name!r} ends in _<number>, which the greeter reads as a photo "
                           f"number; write it with a dash instead ({dashed})")
    return stem


def find_target(images_dir: str, name: str) -> Target:
    """Where photos of ``name`` go in ``images_dir``: the person's folder if they have one
    (one whose name reads as the same person), else ``images_dir`` itself."""
    stem = file_stem(name)
    person = person_name(images_dir, os.path.join(images_dir, stem + ".jpg"))
    if os.path.isdir(os.path.join(images_dir, stem)):
        return Target(os.path.join(images_dir, stem), stem, True, person)
    try:
        entries = sorted(os.listdir(images_dir))
    except FileNotFoundError:
        entries = []
    for entry in entries:
        folder = os.path.join(images_dir, entry)
        if (not entry.startswith(".") and os.path.isdir(folder)
                and person_name(images_dir, os.path.join(folder, "x.jpg")) == person):
            return Target(folder, stem, True, person)
    return Target(images_dir, stem, False, person)


def candidate_names(target: Target) -> list[str]:
    """File names to try, best first, none of which is taken now (any extension, any case).

    In a person's folder: ``stem_<n>.jpg`` from one past the photo count; else
    ``stem.jpg``, then ``stem_2.jpg``, ``stem_3.jpg``...
    """
    try:
        entries = os.listdir(target.folder)
    except FileNotFoundError:
        entries = []
    taken = {os.path.splitext(entry)[0].lower() for entry in entries}
    if target.own_folder:
        first = sum(is_photo_file(entry) and not entry.startswith(".") for entry in entries) + 1
        numbers = range(first, first + 1000)
        stems = [f"{target.stem}_{number}" for number in numbers]
    else:
        stems = [target.stem] + [f"{target.stem}_{number}" for number in range(2, 1002)]
    return [stem + ".jpg" for stem in stems if stem.lower() not in taken]


def save_new_photo(target: Target, image: np.ndarray) -> str:
    """Write ``image`` as a JPEG under the first free name of :func:`candidate_names`;
    returns its path. Never replaces a file: a name taken meanwhile is skipped.

    Raises OSError when the folder cannot be written.
    """
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise OSError(f"cannot encode the photo as JPEG for {target.folder}")
    return write_new_file(target.folder, candidate_names(target), data.tobytes(),
                          prefix=".enroll-", suffix=".jpg")


def _close(a: Box, b: Box) -> bool:
    """True when box ``b`` is within the steady tolerances of box ``a``."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    shift = np.hypot((ax + aw / 2) - (bx + bw / 2), (ay + ah / 2) - (by + bh / 2))
    return shift <= STEADY_SHIFT * aw and abs(bw - aw) <= STEADY_RESIZE * aw


class SteadyFace:
    """Tells, frame by frame, whether a single face is ready for its photo."""

    def __init__(self) -> None:
        self.anchor: Box | None = None  # the first box of the current steady run
        self.frames = 0
        self.since = 0.0
        self.reasons: Counter[str] = Counter()
        self.best_sharpness = 0.0

    def update(self, image: np.ndarray, boxes: list[Box], at: float,
               still: bool) -> tuple[bool, str]:
        """(ready, what the person should do) for the faces ``boxes`` in ``image`` at
        source time ``at``; the reasons for not being ready are counted in ``reasons``."""
        reason = self._problem(image, boxes, at, still)
        if reason:
            self.reasons[reason.split(":")[0]] += 1
            return False, reason
        return True, "hold still..."

    def _problem(self, image: np.ndarray, boxes: list[Box], at: float, still: bool) -> str:
        if len(boxes) != 1:
            self.anchor = None
            return ("no face: step in front of the camera" if not boxes else
                    f"{len(boxes)} faces: only the person to enroll should be in view")
        box = boxes[0]
        if box[2] < MIN_FACE_PIXELS:
            self.anchor = None
            return f"face too small: {box[2]} pixels wide, needs {MIN_FACE_PIXELS}; come closer"
        if self.anchor is None or not _close(self.anchor, box):
            self.anchor, self.frames, self.since = box, 0, at
        self.frames += 1
        if not still and (self.frames < STEADY_FRAMES or at - self.since < STEADY_SECONDS):
            return "not steady yet: hold still"
        value = sharpness(image, box)
        self.best_sharpness = max(self.best_sharpness, value)
        if value < MIN_SHARPNESS:
            return (f"blurred: sharpness {value:.0f}, needs {MIN_SHARPNESS:.0f}; hold still, "
                    "and check the light and the camera's focus")
        return ""


def enroll_command(settings: Settings, name: str, timeout: float = 60.0,
                   encoder: FaceEncoder | None = None) -> int:
    """``enroll NAME``: wait for a good view of one face in the source and save it for
    ``name`` (``enroll NAME --from-visitor ID`` is :func:`enroll_from_visitor`).

    Returns 0 once saved; 1 when the source fails, ends or ``timeout`` seconds pass
    first, or the photo cannot be written; 2 for a NAME no file can take.
    ``encoder`` is an already loaded FaceEncoder to use (else the settings' one loads).
    """
    if not timeout > 0:
        warn(f"error: --timeout {timeout:g}: give the seconds to wait, more than 0")
        return EXIT_USAGE
    try:
        target = find_target(settings.recognition.images, name)
    except BadNameError as error:
        warn(f"error: {error}")
        return EXIT_USAGE
    from greeter.capture import SourceError, open_source
    with contextlib.ExitStack() as stack:
        try:
            source = stack.enter_context(open_source(settings.source.source, on_message=warn))
        except SourceError as error:
            warn(f"error: {error}")
            return EXIT_FAILURE
        encoder = encoder or load_models_or_say_why(settings.recognition)
        if encoder is None:
            return EXIT_FAILURE
        speaker = window = None
        if settings.speech.play:  # starts while we wait for the face
            speaker = stack.enter_context(Speaker.from_settings(settings.speech,
                                                                on_warning=warn))
        if settings.window and display_available():
            window = stack.enter_context(contextlib.closing(
                Window(f"facenet enroll {target.person}")))
        if settings.progress:
            warn(f"enrolling {target.person}: look at the camera ({source.description}) and "
                 f"hold still; giving up after {timeout:g} s")
        photo = _wait_for_face(source, encoder, settings, window, timeout)
        return EXIT_FAILURE if photo is None else _save(target, photo, speaker)


def _save(target: Target, photo: np.ndarray, speaker: Speaker | None) -> int:
    """Save ``photo`` as the target's new photo and thank them; the exit status."""
    try:
        path = save_new_photo(target, photo)
    except OSError as error:
        warn(f"error: cannot save the photo in {target.folder} "
             f"({getattr(error, 'strerror', None) or error}); make the folder writable")
        return EXIT_FAILURE
    person, count = target.person, _photo_count(target)
    print(f"saved {path}: {person} will be welcomed from now on "
          f"({count} photo{'s' if count != 1 else ''} of {person})", flush=True)
    if speaker is not None:
        _say_and_wait(speaker, f"Thank you, {person}. I will welcome you from now on.")
    return EXIT_OK


def _wait_for_face(source: Source, encoder: FaceEncoder, settings: Settings,
                   window: Window | None, timeout: float) -> np.ndarray | None:
    """The checked crop around the first good face in ``source``, or None after
    saying why none came (the source ended, ``timeout`` passed, the window closed)."""
    steady = SteadyFace()
    deadline = time.monotonic() + timeout
    said = ""
    frames = 0
    for frame in source:
        frames += 1
        boxes = encoder.detector.face_locations(frame.image)
        ready, advice = steady.update(frame.image, boxes, frame.time, frame.still)
        if ready:
            crop = crop_around(frame.image, boxes[0])
            problem = _check_crop(encoder, settings.recognition.threshold, frame.image,
                                  boxes[0], crop)
            if not problem:
                return crop
            advice = problem
            steady.reasons[problem.split(":")[0]] += 1
        kind = advice.split(":")[0]
        if kind != said and (settings.verbose or settings.progress and window is None):
            # A line when the kind of advice changes, not every frame.
            warn(f"  {advice}")
        said = kind
        if window is not None:
            colour = KNOWN_COLOUR if len(boxes) == 1 else UNKNOWN_COLOUR
            canvas = draw_caption(draw_boxes(frame.image, boxes, [colour] * len(boxes)),
                                  advice[:60])
            if not window.show(canvas, 1):
                warn("enrollment cancelled: the window was closed; nothing saved")
                return None
        if time.monotonic() > deadline:
            warn(f"error: no suitable face within {timeout:g} s "
                 f"({_seen(steady, frames)}); nothing saved. {_hint(steady)}")
            return None
    warn(f"error: {source.description} ended without a suitable face "
         f"({_seen(steady, frames)}); nothing saved. {_hint(steady)}")
    return None


def _check_crop(encoder: FaceEncoder, threshold: float, image: np.ndarray, box: Box,
                crop: np.ndarray) -> str:
    """"" when ``crop`` would serve as the photo of the face at ``box`` in ``image``,
    else the problem: the detector must find exactly one face in the crop, and
    its encoding be within MAX_SELF_DISTANCE_SHARE of the threshold of the live face's."""
    found = encoder.photo_detector.face_locations(crop, photo_min_face(crop))
    saved = encoder.encode_photo_image(crop, "crop").encoding if len(found) == 1 else None
    if saved is None:
        return ("photo check failed: the detector does not find the face in the crop; "
                "face the camera")
    live = encoder.face_encodings(image, [box])[0]
    distance = float(face_distance(live[None], saved)[0])
    if distance > MAX_SELF_DISTANCE_SHARE * threshold:
        return (f"photo check failed: the photo's face is {distance:.2f} from the live one; "
                "face the camera and hold still")
    return ""


def _seen(steady: SteadyFace, frames: int) -> str:
    """What the frames showed, e.g. "30 frames: 2 faces in 25, no face in 5"."""
    if not steady.reasons:
        return f"{frames} frames"
    parts = ", ".join(f"{reason} in {count}" for reason, count in steady.reasons.most_common())
    return f"{frames} frames: {parts}"


def _hint(steady: SteadyFace) -> str:
    top = steady.reasons.most_common(1)[0][0] if steady.reasons else ""
    if top.endswith("faces"):
        return "Only the person to enroll should be in view."
    if top == "blurred":
        return (f"The sharpest face measured {steady.best_sharpness:.0f} (needs "
                f"{MIN_SHARPNESS:.0f}): more light, or clean or focus the camera.")
    if top == "face too small":
        return "Come closer to the camera."
    return "Stand in front of the camera, face it and hold still for a second."


def _photo_count(target: Target) -> int:
    """How many photos the person has now, counting the new one."""
    entries = os.listdir(target.folder)
    if target.own_folder:
        return sum(is_photo_file(entry) and not entry.startswith(".") for entry in entries)
    pattern = re.compile(rf"{re.escape(target.stem.lower())}(_\d+)?$")
    return sum(is_photo_file(entry) and bool(pattern.match(os.path.splitext(entry)[0].lower()))
               for entry in entries)


def _say_and_wait(speaker, sentence: str, timeout: float = 8.0) -> None:
    """Speak ``sentence`` and wait (up to ``timeout`` s) until it is spoken or speech fails."""
    deadline = time.monotonic() + timeout
    if not speaker.wait_ready(timeout):
        return
    before = speaker.spoken
    speaker.say(sentence)
    while speaker.available and speaker.spoken <= before and time.monotonic() < deadline:
        time.sleep(0.05)


def visitor_photo_problem(encoder, image: np.ndarray) -> str:
    """Why the visitor's photo ``image`` is not fit to greet someone from (as a photo
    enroll takes from the camera: one face, large and sharp enough; and turned
    at most MAX_HEAD_TURN), or "" when it is."""
    boxes = encoder.photo_detector.face_locations(image, photo_min_face(image))
    if len(boxes) != 1:  # said of a photo, not of the camera's view
        return f"{len(boxes)} faces in it" if boxes else "no face found in it"
    ready, reason = SteadyFace().update(image, boxes, 0.0, still=True)
    if not ready:  # too small or blurred; the advice after ";" is for the camera
        return reason.split(";")[0]
    box, points, note = encoder.photo_face(image)
    if points is None:
        return note
    turn = head_turn(points[0])
    if abs(turn) > MAX_HEAD_TURN:
        return f"head turned: {abs(turn):.2f} of an eye distance, at most {MAX_HEAD_TURN:g}"
    return ""


def copy_fit_photos(encoder: FaceEncoder, crops: list[str], target: Target,
                    on_skip: Callable[[str], None]) -> list[str]:
    """Save into ``target`` the first VISITOR_PHOTOS of the visitor's ``crops`` (best
    first) that are fit to greet from (:func:`visitor_photo_problem`), never
    overwriting a file; ``on_skip`` hears of each one skipped and why. Returns the
    paths saved; raises OSError when the folder cannot be written."""
    saved: list[str] = []
    for path in crops:
        if len(saved) == VISITOR_PHOTOS:
            break
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        problem = "cannot be read" if image is None else visitor_photo_problem(encoder, image)
        if problem:
            on_skip(f"skipped {path}: {problem}")
            continue
        saved.append(save_new_photo(target, image))
    return saved


def enroll_from_visitor(recognition: RecognitionSettings, name: str, visitor_id: int,
                        encoder: FaceEncoder | None = None) -> int:
    """``enroll NAME --from-visitor ID``: copy the visitor's best crops that are fit to
    greet from (:func:`visitor_photo_problem`) into the images folder for ``name``,
    never overwriting a file, and say which were skipped and why; 0 when copied, 1
    when none is fit, 2 for an unknown id. ``encoder``: as for :func:`enroll_command`."""
    try:
        target = find_target(recognition.images, name)
    except BadNameError as error:
        warn(f"error: {error}")
        return EXIT_USAGE
    book = VisitorBook(default_visitors_dir(), on_message=warn)
    visitor = book.find(visitor_id)
    if visitor is None:
        warn(f"error: no visitor {visitor_id} in {book.folder}; "
             "`python facenet.py visitors` lists them")
        return EXIT_USAGE
    encoder = encoder or load_models_or_say_why(recognition)
    if encoder is None:
        return EXIT_FAILURE
    try:
        saved = copy_fit_photos(encoder, [book.path(visit) for visit in
                                          visitor.best_visits(len(visitor.visits))], target, warn)
    except OSError as error:
        warn(f"error: cannot save the photo in {target.folder} "
             f"({getattr(error, 'strerror', None) or error}); make the folder writable")
        return EXIT_FAILURE
    if not saved:
        warn(f"error: no photo of visitor {visitor.id} is fit to greet from (one sharp, "
             "near-frontal face); nothing was saved. Enrol them from the camera: "
             f"python facenet.py enroll {name}")
        return EXIT_FAILURE
    visitor.enrolled_as = target.person
    book.save()
    print(f"saved {', '.join(saved)}: {target.person} will be welcomed from now on")
    return EXIT_OK
