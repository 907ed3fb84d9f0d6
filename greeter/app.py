"""The greeter: watch a source, recognise the people in images/, welcome them."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading
import time
from datetime import datetime

from greeter.capture import SourceError, open_source
from greeter.common import EXIT_FAILURE, EXIT_OK, warn
from greeter.database import PhotoLibrary, watch_library
from greeter.detect import DetectorError
from greeter.draw import Window, display_available, draw_faces
from greeter.events import (GREETING, VISITOR, Event, EventSender, make_sinks, redact_url,
                            utc_now)
from greeter.files import make_private_folders
from greeter.greet import GreetingLog, GreetingLogError, GreetingPolicy
from greeter.greetings import Greeter, Greeting
from greeter.instance import AlreadyRunning, claim_instance, outbox_path
from greeter.outbox import Outbox
from greeter.presence import Presence, Sighting
from greeter.progress import progress_for
from greeter.recognise import FaceRecogniser
from greeter.settings import (greeting_settings, presence_settings, speech_settings,
                              unknown_people)
from greeter.speak import Speaker
from greeter.visits import NewVisit, VisitorBook, VisitWatcher, default_visitors_dir
from greeter.weights import WeightsError

# How long the window shows a still photo of a slideshow.
STILL_SECONDS = 2.0


class Interrupts:
    """Ctrl+C and SIGTERM stop the program through the same clean-up (KeyboardInterrupt);
    inside :meth:`held` they wait until the block is done, so that a greeting is never
    logged and printed without its event, nor an event queued without its log row."""

    def __init__(self) -> None:
        self._holding = self._pending = False
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._stop)
            # Left ignored where it is (started in the background by a shell).
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                signal.signal(signal.SIGINT, self._stop)

    def _stop(self, signum, frame) -> None:
        if self._holding:
            self._pending = True
            return
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def held(self):
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
            if self._pending:
                raise KeyboardInterrupt


def open_library(images_dir: str, encoder, on_progress=None) -> PhotoLibrary:
    """The photo library of ``images_dir`` (created with a hint if missing), loaded once;
    ``on_progress(done, total)`` follows the photos being encoded."""
    if not os.path.isdir(images_dir):
        make_private_folders(images_dir)  # photos of people: for the owner only
        warn(f"created {images_dir}: put one photo per person there, named after them "
             "(alice.jpg, bob_2.jpg); they are picked up while the program runs")
    library = PhotoLibrary(images_dir, encoder, on_message=warn)
    library.refresh(on_progress)
    if library.photo_counts:
        people = ", ".join(f"{name} ({count})" for name, count in library.photo_counts.items())
        warn(f"{len(library.photo_counts)} people known: {people}")
    else:
        warn(f"nobody to greet yet: add one photo per person to {images_dir}, named after "
             "them (alice.jpg); they are picked up while the program runs")
    return library


def welcome(greeting: Greeting, distances: dict[str, float], frame_index: int,
            speaker: Speaker | None, log: GreetingLog | None,
            events: EventSender | None = None, source: str = "") -> None:
    """Greet ``greeting.names``: in the log first (so that a crash loses no greeting
    that was shown), then in text and by voice (if there is a speaker) unless they
    asked not to be, and as events (if any). ``distances``: each name's last distance."""
    now = utc_now()
    if log is not None:
        for name in greeting.names:
            log.write(now, frame_index, name, distances[name])
    if greeting.shown:
        say(greeting, speaker)
    if events is not None:
        for name in greeting.names:
            events.emit(Event(GREETING, now, frame_index, source, name=name,
                              distance=distances[name]))


def say(greeting: Greeting, speaker: Speaker | None) -> None:
    """Print ``greeting``'s sentence, and speak it in its own voice if there is a speaker."""
    # A sound in place of the sentence is shown as the names and the sound.
    text = greeting.text.strip() or \
        f"({', '.join(greeting.names)}: {os.path.basename(greeting.sound or '')})"
    print(f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {text}", flush=True)
    if speaker is not None:
        speaker.say(greeting.text, greeting.voice, greeting.rate, greeting.volume,
                    greeting.sound)


def note_visits(visits: list[NewVisit], frame_index: int, events: EventSender | None,
                source: str, welcome_visitor: Greeting | None = None,
                speaker: Speaker | None = None) -> None:
    """Say that each of ``visits`` began, greet the visitor (if a sentence is set for
    unknown visitors), and send it as an event."""
    now = utc_now()
    for visit in visits:
        print(f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')} visitor {visit.visitor} at "
              f"the door (visit {visit.visits}): {visit.crop}", flush=True)
        if welcome_visitor is not None:
            say(welcome_visitor, speaker)
        if events is not None:
            events.emit(Event(VISITOR, now, frame_index, source, visitor=visit.visitor,
                              distance=visit.distance, crop=visit.crop))


def note_presence(presence: Presence, names: list[str], frame_time: float, frame_index: int,
                  events: EventSender | None, source: str) -> None:
    """Note who is seen in this frame; send each arrival and departure as an event."""
    changes = presence.update(names, Sighting(frame_time, utc_now(), source))
    if events is not None:
        for change in changes:
            events.emit(Event(change.kind, utc_now(), frame_index, source, name=change.name,
                              last_seen=change.last_seen.utc))


def run_greeter(args: argparse.Namespace, launched: float | None = None) -> int:
    """The greeter's frame loop; returns the exit status.

    ``launched`` is the time.monotonic() of the program's start, for the
    start-up time reported once the first frame is processed. Ctrl+C or
    SIGTERM at any moment, start-up included, ends it the same clean way:
    source released, window closed, speech stopped, log closed, summary printed.
    """
    interrupts = Interrupts()  # first: a SIGTERM during start-up is a clean stop too
    frames, fps, failed = 0, None, False
    started = last = time.monotonic()
    source = log = speaker = window = events = watcher = instance = web = None
    stop = threading.Event()
    try:
        try:
            instance = claim_instance(args.images, args.source, _source_words(args.source))
            sinks = make_sinks(args.on_greet, args.webhook, args.mqtt, args.hook_timeout)
            if args.web:  # its history is one more event destination
                from greeter.web.page import open_web_page
                web = open_web_page(args.web, args.web_password, args.images, args.source,
                                    args.keep_visitors, warn)
                sinks += [web.sink] if web is not None else []
            # First, so that what waited since the last run goes out while the source opens.
            events = EventSender(sinks, on_warning=warn, outbox=Outbox(
                outbox_path(args.images, args.source), on_warning=warn)) if sinks else None
            source = open_source(args.source, loop=args.loop, on_message=warn,
                                 realtime=args.realtime, wait=args.wait_for_source)
            log = GreetingLog(args.log) if args.log else None
            # TensorFlow is imported only now, so that a wrong --source or --log fails at once.
            from greeter.encode import FaceEncoder
            encoder = FaceEncoder(args.model, args.weights, detector=args.detector)
        except (SourceError, GreetingLogError, WeightsError, DetectorError,
                AlreadyRunning) as error:
            warn(f"error: {error}")
            failed = True
            return EXIT_FAILURE
        encoder.warm_up()
        threshold = args.threshold if args.threshold is not None else encoder.threshold
        library = open_library(args.images, encoder, progress_for(args))
        for warning in unknown_people(args, library.photo_counts):
            warn(f"warning: {warning}")
        watch_library(library, stop)
        speech = speech_settings(args)
        speaker = Speaker.from_settings(speech, on_warning=warn) if speech.wanted else None
        window = Window() if not args.headless and display_available() else None
        policy = GreetingPolicy(args.confirm, args.cooldown)
        greeter = Greeter(greeting_settings(args))
        distances: dict[str, float] = {}
        presence, people = Presence(presence_settings(args)), None
        recogniser = FaceRecogniser(encoder, threshold, first_looks=args.confirm)
        if not args.no_visitors:
            watcher = VisitWatcher(VisitorBook(default_visitors_dir(), on_message=warn),
                                   threshold, args.confirm, args.visit_gap * 60,
                                   args.keep_visitors)
        if web is not None:
            web.start(library, encoder, watcher.book if watcher is not None else None, events,
                      source.description, args.settings.greetings.people, args.settings.path)
        started = last = time.monotonic()
        for frame in source:
            faces = recogniser.recognise(frame.image, library.gallery, frame.still)
            matches = [face.match for face in faces]
            known = [face for face in faces if face.match.known]
            distances.update((face.match.name, face.match.distance) for face in known)
            if people != list(library.photo_counts):  # photos added or removed
                people = list(library.photo_counts)
                presence.keep_only(people)
                if events is not None:
                    events.people(people)
            with interrupts.held():
                note_presence(presence, [face.match.name for face in known], frame.time,
                              frame.index, events, source.description)
                greeter.add(policy.update([face.match.name for face in known], frame.time,
                                          frame.still, [face.track for face in known]),
                            frame.time)
                # A still is a scene of its own (a slideshow): nobody else arrives with it.
                for greeting in greeter.flush() if frame.still else \
                        greeter.ready(frame.time, policy.confirming):
                    welcome(greeting, distances, frame.index, speaker, log, events,
                            source.description)
                if watcher is not None:
                    visits = watcher.update(faces, frame.image, frame.time, frame.still)
                    note_visits(visits, frame.index, events, source.description,
                                greeter.unknown(), speaker)
            if web is not None:
                web.on_frame(frame, faces)
            frames += 1
            now = time.monotonic()
            if frames == 1:
                warn(f"watching {source.description}: first frame processed "
                     f"{now - (launched or started):.1f} s after launch")
            instant = 1 / max(now - last, 1e-6)
            # Smoothed, so that the number on screen can be read.
            fps = instant if fps is None else 0.9 * fps + 0.1 * instant
            last = now
            if window is not None:
                wait_ms = int(STILL_SECONDS * 1000) if frame.still else 1
                picture = draw_faces(frame.image, [face.box for face in faces], matches, fps)
                if not window.show(picture, wait_ms):
                    break
        with interrupts.held():
            for greeting in greeter.flush():  # those gathering when the source ended
                welcome(greeting, distances, frames, speaker, log, events,
                        source.description)
        if speaker is not None and speech.speech_to is not None:
            speaker.wait_spoken()  # the files of the last greetings are what was asked for
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if source is not None:
            source.close()
        if window is not None:
            window.close()
        if speaker is not None:
            speaker.close()
        if log is not None:
            log.close()
        if watcher is not None:
            watcher.close()
        if web is not None:
            web.close()
        if not failed:
            elapsed = time.monotonic() - started
            # A camera, a stream or --realtime drops what the program cannot keep up with.
            live = source is not None and (source.live or args.realtime)
            dropped = f", {source.dropped} dropped" if live else ""
            print(f"processed {frames} frames in {elapsed:.1f} s "
                  f"({frames / max(elapsed, 1e-9):.1f} fps){dropped}", flush=True)
        if events is not None:
            summary = events.close()
            if not failed:
                print(summary, flush=True)
        if instance is not None:
            instance.release()
    return EXIT_OK


def _source_words(source: str) -> str:
    """How a --source value is named in a message before it is opened."""
    return f"camera {source}" if source.isascii() and source.isdigit() else redact_url(source)
