"""The greeter: watch a source, recognise the people in images/, welcome them.

The frame loop reads as its sentence: for each frame of the source, recognise
the faces, and hand them to every reaction (the frame rate, the welcome, the
visitors, the window; see :mod:`greeter.reactions`). Everything opened is
closed through one ExitStack, in the reverse order of opening, however the
loop ends.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from greeter.capture import Source, SourceError, open_source
from greeter.common import load_models
from greeter.database import PhotoLibrary, watch_library
from greeter.detect import DetectorError
from greeter.draw import Window, display_available
from greeter.events import EventSender, make_sinks
from greeter.files import make_private_folders
from greeter.greet import GreetingLog, GreetingLogError, GreetingPolicy
from greeter.greetings import Greeter
from greeter.interrupts import Interrupts
from greeter.instance import AlreadyRunning, InstanceLock, claim_instance, outbox_path
from greeter.outbox import Outbox
from greeter.presence import Presence
from greeter.progress import progress_for
from greeter.reactions import (FrameRate, Reaction, VisitorReaction, Welcomer, WindowClosed,
                               WindowReaction)
from greeter.recognise import FaceRecogniser
from greeter.report import EXIT_FAILURE, EXIT_OK, redact_url, warn, warning
from greeter.settings import Settings, unknown_people
from greeter.speak import Speaker
from greeter.visits import VisitorBook, VisitWatcher, default_visitors_dir
from greeter.weights import WeightsError

if TYPE_CHECKING:
    from greeter.web.page import WebPage

# What stops the greeter before its first frame: each names what to do.
START_ERRORS = (SourceError, GreetingLogError, WeightsError, DetectorError, AlreadyRunning)


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


def run_greeter(settings: Settings, launched: float | None = None) -> int:
    """The greeter's frame loop; returns the exit status.

    ``launched`` is the time.monotonic() of the program's start, for the
    start-up time reported once the first frame is processed. Ctrl+C or
    SIGTERM at any moment, start-up included, ends it the same clean way:
    source released, window closed, speech stopped, log closed, summary printed.
    """
    interrupts = Interrupts()  # first: a SIGTERM during start-up is a clean stop too
    run = _Run(settings, FrameRate("", launched))
    with contextlib.ExitStack() as stack:
        stack.callback(run.close)  # registered first: runs last, once all else is closed
        try:
            interrupts.stop_if_asked()  # one that came while the program was importing
            try:
                loop = _start(settings, run, stack)
            except START_ERRORS as error:
                warn(f"error: {error}")
                run.failed = True
                return EXIT_FAILURE
            run.rate.start()
            for frame in loop.source:
                faces = loop.recogniser.recognise_frame(frame, loop.library.gallery)
                with interrupts.held():
                    for reaction in loop.reactions:
                        reaction.on_frame(frame, faces)
            with interrupts.held():
                loop.welcomer.finish()  # those still gathering when the source ended
        except (KeyboardInterrupt, WindowClosed):
            pass
    return EXIT_OK


@dataclass
class _Run:
    """What the summary at the end needs: the frame count, the source, the events."""

    settings: Settings
    rate: FrameRate
    source: Source | None = None
    events: EventSender | None = None
    instance: InstanceLock | None = None
    failed: bool = False  # a start-up error was said: no summary

    def close(self) -> None:
        """Print the summaries (frames, then events) and let the instance go."""
        if not self.failed:
            # A camera, a stream or --realtime drops what the program cannot keep up with.
            live = self.source is not None and (self.source.live or self.settings.source.realtime)
            print(self.rate.summary(self.source.dropped if live else None), flush=True)
        if self.events is not None:
            summary = self.events.close()
            if not self.failed:
                print(summary, flush=True)
        if self.instance is not None:
            self.instance.release()


@dataclass(frozen=True)
class _Loop:
    """What the frame loop runs with: the frames, who is in them, what is done then."""

    source: Source
    recogniser: FaceRecogniser
    library: PhotoLibrary
    reactions: list[Reaction]
    welcomer: Welcomer  # one of the reactions: it also greets at the source's end


def _start(settings: Settings, run: _Run, stack: contextlib.ExitStack) -> _Loop:
    """Claim the images folder and source for this greeter, start the events (first, so
    that what waited since the last run goes out while the source opens), open the
    source and the log, load the networks and photos, make the reactions. Raises
    one of START_ERRORS."""
    run.instance = claim_instance(settings.recognition.images, settings.source.source,
                                  _source_words(settings.source.source))
    sinks = make_sinks(settings.events)
    web = _web_page(settings)
    if web is not None:
        sinks.append(web.sink)  # the page's history is one more event destination
    if sinks:
        run.events = EventSender(sinks, on_warning=warn, outbox=Outbox(
            outbox_path(settings.recognition.images, settings.source.source), on_warning=warn))
    run.source = source = open_source(settings.source.source, loop=settings.source.loop,
                                      on_message=warn, realtime=settings.source.realtime,
                                      wait=settings.source.wait)
    stack.callback(source.close)
    run.rate.description = source.description
    log = GreetingLog(settings.welcome.log) if settings.welcome.log else None
    if log is not None:
        stack.callback(log.close)
    encoder = load_models(settings.recognition)
    recogniser, library = _recogniser_and_library(settings, encoder, stack)
    reactions = _reactions(settings, library, source, run.events, log, run.rate)
    if web is not None:  # it acts on the visitors list the frame loop keeps, if it keeps one
        watcher = next((reaction.watcher for reaction in reactions
                        if isinstance(reaction, VisitorReaction)), None)
        web.start(library, encoder, watcher.book if watcher else None, run.events,
                  source.description, settings.welcome.greetings.people, settings.file.path)
        reactions.append(web)
    for reaction in reactions:
        stack.callback(reaction.close)
    welcomer = next(reaction for reaction in reactions if isinstance(reaction, Welcomer))
    return _Loop(source, recogniser, library, reactions, welcomer)


def _web_page(settings: Settings) -> WebPage | None:
    """The page --web asks for, not serving yet (None without --web, or after saying
    why it cannot keep its history)."""
    if settings.web is None:
        return None
    from greeter.web.page import open_web_page  # Starlette and uvicorn only when asked for
    return open_web_page(settings.web, settings.recognition.images, settings.source.source,
                         settings.visitors.keep_days, warn)


def _recogniser_and_library(settings: Settings, encoder, stack: contextlib.ExitStack
                            ) -> tuple[FaceRecogniser, PhotoLibrary]:
    """The networks warmed up, the photos of --images loaded (and watched for changes
    until the greeter stops), and the recogniser that names the faces of each frame."""
    recognition = settings.recognition
    encoder.warm_up()
    library = open_library(recognition.images, encoder,
                           progress_for(settings.progress))
    for text in unknown_people(settings, library.photo_counts):
        warning(text)
    stop = threading.Event()
    watch_library(library, stop)
    stack.callback(stop.set)
    return FaceRecogniser(encoder.detector, encoder, recognition.threshold,
                          first_looks=recognition.first_looks,
                          tracking=recognition.tracking), library


def _reactions(settings: Settings, library: PhotoLibrary, source: Source,
               events: EventSender | None, log: GreetingLog | None,
               rate: FrameRate) -> list[Reaction]:
    """What is done with each frame's faces, in order: counted, welcomed, visitors kept,
    shown in the window."""
    speech, welcome = settings.speech, settings.welcome
    speaker = Speaker.from_settings(speech, on_warning=warn) if speech.wanted else None
    greeter = Greeter(welcome.greetings)
    reactions: list[Reaction] = [rate, Welcomer(
        GreetingPolicy(welcome.confirm, welcome.cooldown), greeter,
        Presence(settings.presence), lambda: library.photo_counts, source.description,
        log, speaker, events, speech_files=speech.speech_to is not None)]
    visitors = settings.visitors
    if visitors.keep:
        watcher = VisitWatcher(
            VisitorBook(visitors.folder or default_visitors_dir(), on_message=warn),
            settings.recognition.threshold, welcome.confirm, visitors.visit_gap,
            visitors.keep_days)
        reactions.append(VisitorReaction(watcher, greeter, source.description, speaker, events))
    if settings.window and display_available():
        reactions.append(WindowReaction(Window(), rate))
    return reactions


def _source_words(source: str) -> str:
    """How a --source value is named in a message before it is opened."""
    return f"camera {source}" if source.isascii() and source.isdigit() else redact_url(source)

