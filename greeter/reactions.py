"""What the greeter does with each frame's faces: one reaction each, in turn.

Every reaction has the same two methods (Frigate's real-time processors'
``process_frame`` and ``shutdown``): ``on_frame(frame, faces)`` with the
frame and the faces recognised in it, and ``close()``. The greeter feeds
every frame to each of its reactions and closes them all at the end; a new
thing to do with the faces (a web page) is one more reaction, not another
branch of the frame loop.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from greeter.draw import Window, draw_faces
from greeter.events import Event, EventSender, EventType, utc_now
from greeter.frames import Frame
from greeter.greet import GreetingLog, GreetingPolicy
from greeter.greetings import Greeter, Greeting
from greeter.presence import Presence, Sighting
from greeter.recognise import Face
from greeter.report import warn
from greeter.speak import Speaker
from greeter.visits import VisitWatcher

# How long the window shows a still photo of a slideshow.
STILL_SECONDS = 2.0


class Reaction(Protocol):
    """Something done with every frame's faces."""

    def on_frame(self, frame: Frame, faces: list[Face]) -> None:
        """React to ``faces``, those recognised in ``frame``; must return quickly."""

    def close(self) -> None:
        """Let go of what it holds; called once, after the last frame."""


class WindowClosed(Exception):
    """The user closed the window: the greeter stops."""


class FrameRate:
    """Counts the frames processed and keeps their smoothed rate; says when the first
    one is done (the start-up time)."""

    def __init__(self, description: str, launched: float | None) -> None:
        self.description = description
        self.launched = launched
        self.frames = 0
        self.fps: float | None = None
        self.started = self._last = time.monotonic()

    def start(self) -> None:
        """The frame loop starts now (after the networks and photos are loaded)."""
        self.started = self._last = time.monotonic()

    def on_frame(self, frame: Frame, faces: list[Face]) -> None:
        self.frames += 1
        now = time.monotonic()
        if self.frames == 1:
            warn(f"watching {self.description}: first frame processed "
                 f"{now - (self.launched or self.started):.1f} s after launch")
        instant = 1 / max(now - self._last, 1e-6)
        # Smoothed, so that the number on screen can be read.
        self.fps = instant if self.fps is None else 0.9 * self.fps + 0.1 * instant
        self._last = now

    def summary(self, dropped: int | None) -> str:
        """"processed N frames in S s (F fps)", with ", D dropped" for a live source."""
        elapsed = time.monotonic() - self.started
        return (f"processed {self.frames} frames in {elapsed:.1f} s "
                f"({self.frames / max(elapsed, 1e-9):.1f} fps)"
                + (f", {dropped} dropped" if dropped is not None else ""))

    def close(self) -> None:
        pass


def say(greeting: Greeting, speaker: Speaker | None) -> None:
    """Print ``greeting``'s sentence, and speak it in its own voice if there is a speaker."""
    # A sound in place of the sentence is shown as the names and the sound.
    text = greeting.text.strip() or \
        f"({', '.join(greeting.names)}: {os.path.basename(greeting.sound or '')})"
    print(f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {text}", flush=True)
    if speaker is not None:
        speaker.say(greeting.text, greeting.voice, greeting.rate, greeting.volume,
                    greeting.sound)


class Welcomer:
    """Welcomes the people recognised: who is home (arrived, left), whom to greet now
    (GreetingPolicy), in which words (Greeter); each greeting in the log first (so
    that a crash loses no greeting that was shown), then in text and by voice, then
    as events. ``people()`` gives the names known now (the photo library's); the
    ``log`` is its opener's to close, the ``speaker`` this one's. With ``speech_files``
    (--speech-to) the last greetings' files are waited for at the end."""

    def __init__(self, policy: GreetingPolicy, greeter: Greeter, presence: Presence,
                 people: Callable[[], Iterable[str]], source: str, log: GreetingLog | None = None,
                 speaker: Speaker | None = None, events: EventSender | None = None,
                 speech_files: bool = False) -> None:
        self.policy, self.greeter, self.presence = policy, greeter, presence
        self.speech_files = speech_files
        self.people, self.source = people, source
        self.log, self.speaker, self.events = log, speaker, events
        self._known: list[str] | None = None
        self._distances: dict[str, float] = {}
        self._frame_index = 0

    def on_frame(self, frame: Frame, faces: list[Face]) -> None:
        self._frame_index = frame.index
        known = [face for face in faces if face.match.known]
        names = [face.match.name for face in known]
        self._distances.update((face.match.name, face.match.distance) for face in known)
        self._note_people()
        for change in self.presence.update(names, Sighting(frame.time, utc_now(),
                                                           self.source)):
            self._emit(Event(change.kind, utc_now(), frame.index, self.source,
                             name=change.name, last_seen=change.last_seen.utc))
        self.greeter.add(self.policy.update(names, frame.time, frame.still,
                                            [face.track for face in known]), frame.time)
        # A still is a scene of its own (a slideshow): nobody else arrives with it.
        for greeting in self.greeter.flush() if frame.still else \
                self.greeter.ready(frame.time, self.policy.confirming):
            self.welcome(greeting)

    def welcome(self, greeting: Greeting) -> None:
        """Greet ``greeting.names``: log, then text and voice (unless they asked not to
        be), then events."""
        now = utc_now()
        if self.log is not None:
            for name in greeting.names:
                self.log.write(now, self._frame_index, name, self._distances[name])
        if greeting.shown:
            say(greeting, self.speaker)
        for name in greeting.names:
            self._emit(Event(EventType.GREETING, now, self._frame_index, self.source,
                             name=name, distance=self._distances[name]))

    def finish(self) -> None:
        """The source ended: greet those still gathering, and let their speech files
        be written (they are what was asked for)."""
        for greeting in self.greeter.flush():
            self.welcome(greeting)
        if self.speaker is not None and self.speech_files:
            self.speaker.wait_spoken()

    def _note_people(self) -> None:
        people = list(self.people())
        if people != self._known:  # photos added or removed
            self._known = people
            self.presence.keep_only(people)
            if self.events is not None:
                self.events.people(people)

    def _emit(self, event: Event) -> None:
        if self.events is not None:
            self.events.emit(event)

    def close(self) -> None:
        if self.speaker is not None:
            self.speaker.close()


class VisitorReaction:
    """Keeps the unknown visitors (VisitWatcher): says each new visit, greets the visitor
    if a sentence is set for unknown visitors, and sends it as an event."""

    def __init__(self, watcher: VisitWatcher, greeter: Greeter, source: str,
                 speaker: Speaker | None = None, events: EventSender | None = None) -> None:
        self.watcher, self.greeter, self.source = watcher, greeter, source
        self.speaker, self.events = speaker, events

    def on_frame(self, frame: Frame, faces: list[Face]) -> None:
        for visit in self.watcher.update(faces, frame):
            print(f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')} visitor {visit.visitor} "
                  f"at the door (visit {visit.visits}): {visit.crop}", flush=True)
            welcome = self.greeter.unknown()
            if welcome is not None:
                say(welcome, self.speaker)
            if self.events is not None:
                self.events.emit(Event(EventType.VISITOR, utc_now(), frame.index, self.source,
                                       visitor=visit.visitor, distance=visit.distance,
                                       crop=visit.crop))

    def close(self) -> None:
        self.watcher.close()


class WindowReaction:
    """Shows each frame with its faces' boxes and names, and the frame rate."""

    def __init__(self, window: Window, rate: FrameRate) -> None:
        self.window, self.rate = window, rate

    def on_frame(self, frame: Frame, faces: list[Face]) -> None:
        wait_ms = int(STILL_SECONDS * 1000) if frame.still else 1
        picture = draw_faces(frame.image, [face.box for face in faces],
                             [face.match for face in faces], self.rate.fps)
        if not self.window.show(picture, wait_ms):
            raise WindowClosed

    def close(self) -> None:
        self.window.close()
