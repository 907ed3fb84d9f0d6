"""Speaking greetings without ever freezing the video loop.

All speech happens in a worker process of its own (see
:mod:`greeter.speech_worker`), fed by a small queue: :class:`Speaker` only
ever drops a sentence into the queue, reads the worker's news without
waiting, and kills the worker on ``close()``. If speech cannot start, the
Speaker warns once and turns itself off; greetings go on as text.

The worker runs under the "spawn" start method (the one that works on Linux,
macOS and Windows alike): a program that uses :class:`Speaker` must start
from an ``if __name__ == "__main__":`` block, and should keep heavy imports
out of its main module's top level, because the worker re-imports that module.
"""

from __future__ import annotations

import multiprocessing.connection
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from greeter.report import Trouble, warning
from greeter.speech_worker import (CONTEXT, SpeechError, Utterance, Voice, install_hint,
                                   render_worker, speech_worker, stop_process, voices_worker)

# A few waiting sentences absorb a burst; beyond that say() drops sentences,
# because the worker is behind and they would come too late anyway.
_QUEUE_SIZE = 3


@dataclass(frozen=True)
class SpeechSettings:
    """How greetings are spoken: the voice (a language or a voice name; None: that of
    ``language``), rate (words per minute) and volume (0-1), None keeping the engine's;
    ``speech_to`` a folder that receives each greeting as a WAV file; ``play`` whether
    they are played too."""

    voice: str | None = None
    language: str = "en"
    rate: int | None = None
    volume: float | None = None
    speech_to: str | None = None
    play: bool = True

    @property
    def default_voice(self) -> str | None:
        """The voice to ask for; None keeps the engine's own (English)."""
        return self.voice or (self.language if self.language != "en" else None)

    @property
    def wanted(self) -> bool:
        """Whether there is speech to make at all."""
        return self.play or self.speech_to is not None


class Speaker:
    """Speaks sentences in a worker process; ``say()`` never blocks.

    If the engine fails to start, or fails or dies later, the Speaker calls
    ``on_warning`` once with what failed and what to do, ``available`` turns
    False and later ``say()`` calls are ignored: the caller goes on showing
    greetings as text. The caller hears of a failure on its next ``say()``,
    ``poll()``, ``wait_ready()`` or ``available``, never from another thread.

    ``record_to`` names a folder where the worker writes each sentence as a
    numbered WAV file (0001.wav, ..., with its sentence and voice in 0001.txt):
    for machines without sound, and for tests; it is then not played unless
    ``play`` is True.
    """

    def __init__(
        self,
        *,
        driver_name: str | None = None,
        rate: int | None = None,
        voice: str | None = None,
        volume: float | None = None,
        max_delay: float = 5.0,
        record_to: str | None = None,
        play: bool | None = None,
        on_warning: Callable[[str], None] = warning,
    ) -> None:
        """Start the worker and return at once; the engine starts in the worker.

        ``driver_name`` is pyttsx3's ("espeak", "sapi5", "nsss"; None: the
        platform's default); ``rate`` (words per minute), ``voice`` (a voice
        id or name, or a language: "fr") and ``volume`` keep the engine's
        defaults when None; a voice that is not there is named once, through
        ``on_warning``, and the default one speaks. A sentence still
        waiting ``max_delay`` seconds after ``say()`` is dropped unspoken.
        """
        self._on_warning = on_warning
        self._available = True
        self._trouble = Trouble(on_warning)
        self._closed = False
        self._ready = False
        self._spoken = self._said = self._late = 0
        self._commands = CONTEXT.Queue(maxsize=_QUEUE_SIZE)
        self._status, worker_status = CONTEXT.Pipe(duplex=False)
        self._process = CONTEXT.Process(
            target=speech_worker,
            args=(self._commands, worker_status, driver_name, rate, voice, volume,
                  max_delay, record_to, record_to is None if play is None else play),
            name="greeter-speech",
            # Daemonic: should the caller forget close(), multiprocessing
            # terminates the worker at exit instead of waiting for it.
            daemon=True,
        )
        self._process.start()
        self._pid = self._process.pid
        # Only the worker may hold the writing end, so that its death reads
        # as end-of-file here.
        worker_status.close()

    @classmethod
    def from_settings(cls, settings: SpeechSettings,
                      on_warning: Callable[[str], None] = warning) -> Speaker:
        """The Speaker that ``settings`` ask for (the caller checks ``settings.wanted``)."""
        return cls(rate=settings.rate, voice=settings.default_voice, volume=settings.volume,
                   record_to=settings.speech_to, play=settings.play, on_warning=on_warning)

    @property
    def available(self) -> bool:
        """Return False once speech has failed or the Speaker is closed."""
        return self.poll()

    @property
    def ready(self) -> bool:
        """Return True once the worker has started its engine."""
        self.poll()
        return self._ready

    @property
    def spoken(self) -> int:
        """Return how many sentences the engine has finished so far."""
        self.poll()
        return self._spoken

    @property
    def pid(self) -> int:
        """Return the worker's process id."""
        return self._pid

    def say(self, text: str, voice: str | None = None, rate: int | None = None,
            volume: float | None = None, sound: str | None = None) -> None:
        """Queue ``text`` to be spoken and return at once; return None.

        ``voice``, ``rate`` and ``volume``, when given, replace the Speaker's own
        for this sentence; ``sound`` is a sound file played before it (or
        alone, when ``text`` is blank). Ignored when speech is unavailable or
        there is neither text nor sound; dropped when sentences
        are already waiting (the worker is behind).
        """
        if not self.poll() or not (text.strip() or sound):
            return
        try:
            self._commands.put_nowait((time.time(), Utterance(text, voice, rate, volume,
                                                              sound)))
            self._said += 1
        except queue.Full:
            pass  # a greeting that would come late is worse than none

    def poll(self) -> bool:
        """Read the worker's news without blocking; return ``available``.

        Emits the single warning when the worker reported a failure or died.
        """
        if not self._available:
            return False
        error = self._read_status()
        if error is None and not self._process.is_alive():
            # It may have reported its error just before exiting.
            error = self._read_status() or self._death_message()
        if error is not None:
            self._fail(error)
        return self._available

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """Block up to ``timeout`` s for the engine to start; return ``ready``.

        Returns False at once when speech failed (the warning is emitted).
        """
        deadline = time.monotonic() + timeout
        while self.poll() and not self._ready:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            multiprocessing.connection.wait(
                [self._status, self._process.sentinel], remaining)
        return self._ready and self._available

    def wait_spoken(self, timeout: float = 20.0) -> bool:
        """Block up to ``timeout`` s until every sentence queued is spoken (or written);
        return whether they all were. Returns at once when speech has failed."""
        deadline = time.monotonic() + timeout
        while self.poll() and self._spoken + self._late < self._said:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            multiprocessing.connection.wait([self._status, self._process.sentinel],
                                            remaining)
        return self._available and self._spoken + self._late >= self._said

    def close(self, timeout: float = 1.0) -> None:
        """Stop speaking and end the worker; return None. Safe to call twice.

        An idle worker leaves when asked; one that is mid-sentence (or hung)
        is killed after 0.1 s. Returns within about ``timeout`` s.
        """
        if self._closed:
            return
        self._closed = True
        self._available = False
        try:
            self._commands.put_nowait(None)
        except (queue.Full, ValueError, OSError):
            pass  # it is busy or gone: it gets killed below
        grace = min(0.1, timeout)
        stop_process(self._process, grace=grace, timeout=timeout - grace)
        # Don't let interpreter exit wait to flush sentences to a dead reader.
        self._commands.cancel_join_thread()
        self._commands.close()
        self._status.close()
        if not self._process.is_alive():
            self._process.close()

    def __enter__(self) -> Speaker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _read_status(self) -> str | None:
        """Take in the worker's messages; return its error message, if any."""
        try:
            while self._status.poll():
                kind, detail = self._status.recv()
                if kind == "ready":
                    self._ready = True
                elif kind == "spoken":
                    self._spoken += 1
                elif kind == "late":
                    self._late += 1
                elif kind == "warning":
                    self._on_warning(detail)
                elif kind == "error":
                    return detail
        except (EOFError, OSError):
            pass  # the worker is gone; the caller looks at is_alive()
        return None

    def _death_message(self) -> str:
        code = self._process.exitcode
        if self._ready:
            return (f"speech stopped: the speech worker exited unexpectedly "
                    f"(exit code {code}); greetings are shown as text only")
        return (f"speech is off: the speech engine exited with code {code} "
                f"while starting ({install_hint()})")

    def _fail(self, message: str) -> None:
        self._available = False
        # The worker is useless now; end it at once rather than leave it.
        stop_process(self._process, grace=0.0, timeout=0.5)
        self._trouble.failed(message)  # speech stays off: said once


# ------------------------------------------------------------ rendering files


def render_speech_to_file(text: str, path: str, timeout: float = 20,
                          driver_name: str | None = None, voice: str | None = None) -> str:
    """Render ``text`` into the audio file ``path`` (replacing it) in ``voice`` (a
    language or a voice name; None: the default); return the id of the voice used.

    Uses pyttsx3's ``save_to_file`` in a worker process, so a hung engine
    cannot hang the caller. The file is WAV (AIFF data with macOS's nsss
    driver). Raises SpeechError with the reason when the engine fails, has no
    such voice, does not finish within ``timeout`` seconds, or writes no audio.
    """
    path = os.path.abspath(path)
    if os.path.exists(path):
        os.remove(path)  # so that an old file can't pass for the new one
    used = _in_worker(render_worker, (text, path, driver_name, voice), timeout)
    if not os.path.exists(path) or os.path.getsize(path) <= 44:  # 44: WAV header
        # pyttsx3's espeak driver silently writes nothing for long texts.
        raise SpeechError(f"the speech engine wrote no audio to {path} "
                          f"(pyttsx3's espeak driver silently drops texts of more than a "
                          f"few sentences)")
    return used


def list_voices(timeout: float = 20, driver_name: str | None = None) -> list[Voice]:
    """The speech engine's voices; raises SpeechError when the engine cannot start."""
    return _in_worker(voices_worker, (driver_name,), timeout)


def _in_worker(target: Callable, args: tuple, timeout: float):
    """Run ``target(*args, results)`` in a worker process, which sends (error, result);
    return the result, or raise SpeechError with the error, a crash or a hang."""
    results, worker_results = CONTEXT.Pipe(duplex=False)
    process = CONTEXT.Process(target=target, name="greeter-speech-once",
                              args=(*args, worker_results), daemon=True)
    process.start()
    worker_results.close()
    finished = False
    try:
        if not results.poll(timeout):
            raise SpeechError(f"the speech engine did not finish within {timeout} s")
        error, result = results.recv()
        finished = True
    except EOFError:
        process.join(1.0)
        raise SpeechError(f"the speech engine crashed (exit code {process.exitcode}); "
                          f"{install_hint()}") from None
    finally:
        # A worker that answered is exiting by itself; one that did not, is hung.
        stop_process(process, grace=1.0 if finished else 0.0, timeout=1.0)
        results.close()
        if not process.is_alive():
            process.close()
    if error:
        raise SpeechError(error)
    return result
