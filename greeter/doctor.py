"""``python facenet.py doctor``: one report of what works and what does not.

Each line is ``ok``, ``warn`` or ``FAIL``. FAIL is what the greeter cannot
run without: a required package, the face detector file, the network's
weights, the camera or --source, and a readable images folder. A warning is
what it runs without, worse: speech (greetings are then shown as text
only), a window, the encoding cache, photos that are skipped, an empty
images folder, the visitors folder, and an --on-greet command, --webhook or
--mqtt broker that does not take a test event (type "test"). The exit
status is 1 when any line is FAIL, else 0.
"""

from __future__ import annotations

import ctypes.util
import importlib
import os
import platform
import shutil
import sys
import tempfile
import time
import wave
from collections import Counter

from greeter.common import load_models
from greeter.events import EventSettings
from greeter.paths import WEIGHTS_DIR
from greeter.report import EXIT_FAILURE, EXIT_OK
from greeter.settings import RecognitionSettings, Settings, unknown_people

OK, WARN, FAIL = "ok", "warn", "FAIL"
# How long the source is read to measure its frame size and rate.
SOURCE_SECONDS = 2.0
SOURCE_MAX_FRAMES = 60
TEST_PHRASE = "Welcome to facenet, have a nice day!"
SPEECH_START_S = 10.0


class Report:
    """The doctor's lines, printed as they come (some checks take seconds)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.counts: Counter[str] = Counter()

    def add(self, level: str, text: str) -> None:
        """Record and print one finding; with ``quiet`` only warnings and failures print."""
        self.counts[level] += 1
        if level != OK or not self.quiet:
            print(f"{level:4}  {text}", flush=True)

    def detail(self, text: str) -> None:
        """Print an indented line that belongs to the finding before it."""
        if not self.quiet:
            print(f"        {text}", flush=True)

    @property
    def failed(self) -> bool:
        return self.counts[FAIL] > 0


def doctor_command(settings: Settings) -> int:
    """``doctor``: check everything the greeter needs and print one report.

    Returns 1 when something the greeter needs is broken (see the module
    docstring), else 0.
    """
    report = Report(not settings.progress)
    if not check_versions(report):
        _summary(report)
        return EXIT_FAILURE
    check_source(report, settings.source.source)
    check_display(report)
    if settings.speech.play:
        check_speech(report)
    encoder = check_weights(report, settings.recognition)
    people = check_images(report, settings, encoder)
    check_greetings(report, settings, people)
    check_cache(report)
    check_visitors(report)
    check_events(report, settings.events)
    check_outbox(report)
    _summary(report)
    return EXIT_FAILURE if report.failed else EXIT_OK


def _summary(report: Report) -> None:
    failures, warnings = report.counts[FAIL], report.counts[WARN]
    if failures:
        print(f"doctor: {_plural(failures, 'problem', 'problems')} the greeter cannot run "
              f"with, {_plural(warnings, 'warning', 'warnings')}: see the FAIL lines")
    elif warnings:
        print(f"doctor: the greeter can run; {_plural(warnings, 'warning', 'warnings')}")
    else:
        print("doctor: everything works")


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


# -- packages ---------------------------------------------------------------

# (module, shown as, required by the greeter, what it is for when optional)
PACKAGES = (
    ("numpy", "numpy", True, ""),
    ("cv2", "OpenCV", True, ""),
    ("tensorflow", "TensorFlow", True, ""),
    ("keras", "Keras", True, ""),
    ("platformdirs", "platformdirs", True, ""),
    ("pyttsx3", "pyttsx3", False, "speech"),
    ("matplotlib", "matplotlib", False, "the plot of `calibrate`"),
)


def check_versions(report: Report) -> bool:
    """Report Python's and each package's version; False when a required one is missing."""
    report.add(OK, f"Python {platform.python_version()} ({platform.system()} "
                   f"{platform.machine()}, {sys.executable})")
    found, complete = [], True
    for module, shown, required, purpose in PACKAGES:
        try:
            imported = importlib.import_module(module)
        except Exception as error:  # a broken install raises more than ImportError
            if required:
                complete = False
                report.add(FAIL, f"{shown} cannot be imported ({type(error).__name__}: "
                                 f"{error}); install it: pip install -r requirements.txt")
            else:
                report.add(WARN, f"{shown} is not installed, so {purpose} is off; "
                                 "pip install -r requirements.txt")
            continue
        version = getattr(imported, "__version__", None)
        if version is None:
            from importlib.metadata import PackageNotFoundError, version as package_version
            try:
                version = package_version(module)
            except PackageNotFoundError:
                version = "version unknown"
        found.append(f"{shown} {version}")
    if found:
        report.add(OK, ", ".join(found))
    return complete


# -- camera or source -------------------------------------------------------

def check_source(report: Report, spec: str) -> None:
    """Open ``spec`` (a --source value) and report its frame size and rate."""
    from greeter.capture import SourceError, open_source
    messages: list[str] = []
    try:
        source = open_source(spec, on_message=messages.append)
    except SourceError as error:
        report.add(FAIL, f"source: {error}")
        return
    started = time.monotonic()
    sizes: Counter[tuple[int, int]] = Counter()
    frames = 0
    with source:
        for frame in source:
            frames += 1
            sizes[(frame.image.shape[1], frame.image.shape[0])] += 1
            if frames >= SOURCE_MAX_FRAMES or time.monotonic() - started >= SOURCE_SECONDS:
                break
    elapsed = time.monotonic() - started
    if frames == 0:
        report.add(FAIL, f"source: {source.description} opens but gives no frames; "
                         "check it, or choose another --source")
        return
    (width, height), _ = sizes.most_common(1)[0]
    size = f"{width}x{height}" + (" (and other sizes)" if len(sizes) > 1 else "")
    if source.live:
        rate = f"{frames / max(elapsed, 1e-9):.1f} fps measured over {elapsed:.1f} s"
        if source.fps:
            rate += f" ({source.fps:g} fps reported)"
    elif source.fps:
        rate = f"{source.fps:g} fps (the file's own rate)"
    else:
        rate = "stills"
    report.add(OK, f"source: {source.description} gives frames: {size}, {rate}")
    for message in messages:
        report.add(WARN, f"source: {message}")


def check_display(report: Report) -> None:
    from greeter.draw import display_available
    if display_available():
        report.add(OK, "display: a window can open")
    else:
        report.add(WARN, "display: none (no DISPLAY or WAYLAND_DISPLAY); the greeter runs "
                         "headless, without a window")


# -- speech -----------------------------------------------------------------

def _speech_driver() -> str:
    """pyttsx3's default driver on this platform, and the engine it needs."""
    if sys.platform == "darwin":
        return "pyttsx3's nsss driver (macOS speech)"
    if sys.platform == "win32":
        return "pyttsx3's sapi5 driver (Windows SAPI5)"
    library = ctypes.util.find_library("espeak-ng") or ctypes.util.find_library("espeak")
    aplay = shutil.which("aplay")
    return (f"pyttsx3's espeak driver (engine library: {library or 'not found'}; "
            f"player: {aplay or 'aplay not found'})")


def check_speech(report: Report) -> None:
    """Render a test phrase to a file, then start the live Speaker; warnings only."""
    from greeter.speak import Speaker, SpeechError, render_speech_to_file
    driver = _speech_driver()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "test.wav")
        try:
            started = time.monotonic()
            render_speech_to_file(TEST_PHRASE, path)
            seconds = time.monotonic() - started
        except SpeechError as error:
            report.add(WARN, f"speech: cannot render speech ({error}); greetings will be "
                             f"shown as text only [{driver}]")
            return
        report.add(OK, f"speech: rendered a test phrase ({_audio_length(path)} of audio "
                       f"in {seconds:.1f} s) with {driver}")
    warnings: list[str] = []
    speaker = Speaker(on_warning=warnings.append)
    try:
        ready = speaker.wait_ready(SPEECH_START_S)
    finally:
        speaker.close()
    if ready:
        report.add(OK, "speech playback: the engine started and plays to the sound device")
    else:
        reason = warnings[0] if warnings else f"the engine did not start in {SPEECH_START_S:g} s"
        report.add(WARN, f"speech playback: {reason}")


def _audio_length(path: str) -> str:
    try:
        with wave.open(path, "rb") as audio:
            return f"{audio.getnframes() / audio.getframerate():.1f} s"
    except (wave.Error, EOFError, OSError):
        return f"{os.path.getsize(path)} bytes"  # macOS writes AIFF


# -- weights and photos -----------------------------------------------------

def check_weights(report: Report, recognition: RecognitionSettings):
    """Load the face detector and the networks; the FaceEncoder, or None after a FAIL."""
    from greeter.detect import PHOTO_DETECTOR, DetectorError
    from greeter.weights import WeightsError
    started = time.monotonic()
    try:
        encoder = load_models(recognition)
    except (WeightsError, DetectorError) as error:
        lines = str(error).splitlines()
        report.add(FAIL, f"weights: the {recognition.model} network cannot load: {lines[0]}")
        for line in lines[1:]:
            report.detail(line.strip())
        return None
    where = recognition.weights if recognition.model == "openface" else WEIGHTS_DIR
    report.add(OK, f"weights: face detectors ({recognition.detector} for frames, "
                   f"{PHOTO_DETECTOR} for photos), landmarks and the "
                   f"{recognition.model} "
                   f"network loaded in {time.monotonic() - started:.1f} s (from {where}); threshold "
                   f"{recognition.threshold:g}")
    return encoder


def check_images(report: Report, settings: Settings, encoder) -> list[str]:
    """Report the people in --images, their photo counts, each photo with the person it
    is taken for, and every photo skipped; returns the people's names."""
    images = settings.recognition.images
    if not os.path.exists(images):
        report.add(WARN, f"images: {images} does not exist; the greeter creates it: put one "
                         "photo per person there, named after them (alice.jpg)")
        return []
    if not os.path.isdir(images):
        report.add(FAIL, f"images: {images} is not a folder; give a folder with --images")
        return []
    try:
        os.listdir(images)
    except OSError as error:
        report.add(FAIL, f"images: {images} cannot be read ({error.strerror or error}); make "
                         "it readable (chmod u+rx)")
        return []
    from greeter.database import PhotoLibrary, is_note_on, person_name, scan_images
    if encoder is None:
        photos, _ = scan_images(images)
        names = Counter(person_name(images, photo.path) for photo in photos)
        report.add(WARN, f"images: {len(photos)} photos of {len(names)} people in {images}, "
                         "not checked (the network did not load)")
        return sorted(names)
    from greeter.progress import progress_for
    notes: list[str] = []
    library = PhotoLibrary(images, encoder, on_message=notes.append)
    library.refresh(on_progress=progress_for(settings.progress))
    counts = library.photo_counts
    if counts:
        people = ", ".join(f"{name} ({count})" for name, count in counts.items())
        photos = sum(counts.values())
        report.add(OK, f"images: {_plural(len(counts), 'person', 'people')} with "
                       f"{_plural(photos, 'photo', 'photos')} in {images}: {people}")
    else:
        report.add(WARN, f"images: nobody to greet: {images} has no usable photo; add one "
                         "per person, named after them (alice.jpg)")
    for path, reason in library.skipped.items():
        report.add(WARN, f"images: skipped {path}: {reason}")
    encoded = list(library.photo_paths)
    # Always: "Stranger_1" ... "Stranger_8" being one person shows before the first greeting.
    for path, name in zip(encoded, library.gallery.names):
        report.add(OK, f"images: {path}: {name}")
    for note in notes:
        if note.startswith("skipped "):
            continue  # those are the lines just above
        if not is_note_on(note, encoded):
            report.add(WARN, f"images: {note}")
        elif settings.verbose:  # how an encoded photo's face was found: no problem
            report.add(OK, f"images: {note}")
    return list(counts)


def check_greetings(report: Report, settings: Settings, people: list[str]) -> None:
    """Say how each person is greeted and in which voice; warn of a [people."NAME"] table
    that names nobody in --images, and of a voice the engine does not have."""
    from greeter.greetings import Greeter
    from greeter.speak import SpeechError, list_voices
    from greeter.speech_worker import find_voice, voice_hint
    greetings, speech = settings.welcome.greetings, settings.speech
    for warning in unknown_people(settings, people):
        report.add(WARN, f"greetings: {warning}")
    try:
        voices = list_voices() if speech.play else []
    except SpeechError:
        voices = []  # the speech check above said why
    greeter = Greeter(greetings)
    for name in people:
        greeter.add([name], 0.0)
        [greeting] = greeter.flush()
        wanted = greeting.voice or speech.default_voice
        voice = find_voice(voices, wanted) if wanted and voices else None
        if not greeting.shown:
            report.add(OK, f"greetings: {name}: recognised, never greeted (greet = false)")
        elif voices and wanted and voice is None:
            report.add(WARN, f"greetings: {name}: \"{greeting.text}\", but there is no voice "
                             f"for {wanted!r}; {voice_hint()}")
        else:
            spoken = f"voice {voice.id} ({voice.name})" if voice else "the default voice"
            report.add(OK, f"greetings: {name}: \"{greeting.text}\" in {spoken}")


def check_cache(report: Report) -> None:
    """Whether the encoding cache folder can be written (else every start encodes all)."""
    from greeter.database import default_cache_dir
    from greeter.files import make_private_folders
    folder = default_cache_dir()
    try:
        make_private_folders(folder)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as error:
        report.add(WARN, f"cache: {folder} cannot be written ({error.strerror or error}); "
                         "every start encodes all photos again")
        return
    report.add(OK, f"cache: encodings are kept in {folder}")


def check_visitors(report: Report) -> None:
    """How many unknown visitors are kept, where, and whether that folder can be written."""
    from greeter.visits import VisitorBook, default_visitors_dir
    folder = default_visitors_dir()
    messages: list[str] = []
    book = VisitorBook(folder, on_message=messages.append)
    for message in messages:
        report.add(WARN, f"visitors: {message}")
    if os.path.isdir(folder) and not os.access(folder, os.W_OK | os.X_OK):
        report.add(WARN, f"visitors: {folder} cannot be written; unknown visitors are not "
                         "kept (make it writable, or run with --no-visitors)")
        return
    visits = sum(len(visitor.visits) for visitor in book.visitors)
    report.add(OK, f"visitors: {_plural(len(book.visitors), 'visitor', 'visitors')} "
                   f"({_plural(visits, 'visit', 'visits')}) kept in {folder}")


# How long the doctor waits for a broker to accept the connection.
EVENTS_CONNECT_S = 5.0


def check_events(report: Report, events: EventSettings) -> None:
    """Send a test event to the --on-greet command, --webhook and --mqtt broker given."""
    from greeter.events import Event, EventType, make_sinks, utc_now
    sinks = make_sinks(events)
    test = Event(EventType.TEST, utc_now(), 0, "facenet doctor", name="test")
    for sink in sinks:
        try:
            if not sink.ready(EVENTS_CONNECT_S):
                problem = sink.problem or "no answer"
                report.add(WARN, f"events: the {sink.description} cannot be reached "
                                 f"({problem}) within {EVENTS_CONNECT_S:g} s; check the host, "
                                 "port and credentials")
                continue
            started = time.monotonic()
            sink.send(test)
        except RuntimeError as error:
            report.add(WARN, f"events: the {sink.description} failed a test event: {error}")
        else:
            report.add(OK, f"events: the {sink.description} took a test event in "
                           f"{time.monotonic() - started:.1f} s")
        finally:
            sink.close()


def check_outbox(report: Report) -> None:
    """How many events wait in the greeters' outboxes, for which destination."""
    from greeter.instance import outbox_paths
    from greeter.outbox import read_waiting
    counts: dict[str, int] = {}
    for path in outbox_paths():
        for sink, _ in read_waiting(path)[0].values():
            counts[sink] = counts.get(sink, 0) + 1
    if not counts:
        report.add(OK, "events: none wait to be sent")
    for sink, count in counts.items():
        report.add(WARN, f"events: {_plural(count, 'event waits', 'events wait')} for the "
                         f"{sink}; sent first when the greeter starts again with it")
