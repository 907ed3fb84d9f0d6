"""The speech worker: the process in which pyttsx3 runs, and how it is ended.

pyttsx3 speaks through the platform's engine (espeak-ng on Linux, SAPI5 on
Windows, NSSpeechSynthesizer on macOS). Its ``runAndWait()`` blocks for the
whole sentence, its engine misbehaves when driven from several threads, and
espeak-ng can even ``exit()`` the process when its data files are missing.
So the engine lives only here, in a process of its own: a crashing or
hanging engine takes down nothing but this process, which the caller kills.

Without sound: pyttsx3 (2.99 here) on Linux renders each sentence with espeak-ng
and plays it by running ``aplay``; when ``aplay`` is missing, or there is no
sound device, it prints an error to stderr for every sentence and speaks into
nothing. The worker therefore plays a moment of silence through ``aplay``
when it starts, and reports an error if that fails.

The worker side talks to :mod:`greeter.speak` through a queue of sentences
in and a pipe of ("ready" | "spoken" | "error", detail) messages out.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.queues import Queue
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyttsx3

# "spawn" starts a fresh interpreter: the only start method on Windows and the
# default on macOS; using it everywhere makes Linux behave the same, and a
# fresh process holds no copies of the caller's camera, windows or threads.
CONTEXT = multiprocessing.get_context("spawn")


class SpeechError(RuntimeError):
    """The speech engine could not start, failed, or did not finish in time."""


@dataclass(frozen=True)
class Utterance:
    """One sentence to speak; None keeps the speaker's own voice, rate and volume.

    ``voice`` is a voice id or name, or a language ("fr"); ``sound`` a sound
    file played before the sentence.
    """

    text: str
    voice: str | None = None
    rate: int | None = None
    volume: float | None = None
    sound: str | None = None


@dataclass(frozen=True)
class Voice:
    """One of the engine's voices: its id, name and language codes."""

    id: str
    name: str
    languages: tuple[str, ...]


# espeak-ng names Chinese by its spoken varieties; the greeter's "zh" is Mandarin.
_LANGUAGE_ALIASES = {"zh": "cmn"}


def voice_hint() -> str:
    """What to install for a voice that is missing."""
    if sys.platform == "win32":
        return ("add the language's voice in Windows Settings, Time & language, Speech "
                "(python facenet.py voices lists those installed)")
    if sys.platform == "darwin":
        return ("download the voice in System Settings, Accessibility, Spoken Content "
                "(python facenet.py voices lists those installed)")
    return ("install espeak-ng's voices: sudo apt-get install espeak-ng-data "
            "(python facenet.py voices lists those installed)")


def engine_voices(engine: pyttsx3.Engine) -> list[Voice]:
    """The engine's voices, their language codes as text ("fr-fr")."""
    voices = []
    for voice in engine.getProperty("voices"):
        languages = tuple(
            (code.decode("utf-8", "replace") if isinstance(code, bytes) else str(code))
            .lstrip("\x05").lower() for code in (voice.languages or ()))
        voices.append(Voice(str(voice.id), str(voice.name or voice.id), languages))
    return voices


def find_voice(voices: list[Voice], wanted: str) -> Voice | None:
    """The voice whose id or name is ``wanted``, else the best one for the language
    ``wanted``: espeak-ng's own voice of that name ("gmw/en"), else one speaking
    exactly it, then fr-fr for fr, then any fr-...; else None."""
    wanted = wanted.strip().lower()
    for voice in voices:
        if wanted in (voice.id.lower(), voice.name.lower()):
            return voice
    code = _LANGUAGE_ALIASES.get(wanted, wanted)
    for voice in voices:
        if voice.id.lower().rsplit("/", 1)[-1] == code:
            return voice
    for rank in (lambda lang: lang == code, lambda lang: lang == f"{code}-{code}",
                 lambda lang: lang.startswith(code + "-")):
        for voice in voices:
            if any(rank(language) for language in voice.languages):
                return voice
    return None


def install_hint() -> str:
    """Return what to install so that pyttsx3 finds this platform's engine."""
    if sys.platform == "darwin":
        return "pyttsx3 needs PyObjC on macOS: pip install pyobjc"
    if sys.platform == "win32":
        return "pyttsx3 needs comtypes and pywin32 on Windows: pip install comtypes pywin32"
    return "install espeak-ng: sudo apt-get install espeak-ng"


def stop_process(process: multiprocessing.process.BaseProcess, grace: float,
                 timeout: float) -> None:
    """End ``process`` and the players it started; return once it has exited
    (or after ``grace`` + ``timeout`` s, should even a kill not take).

    Waits ``grace`` s for it to leave by itself, then kills it: the worker
    has nothing to save, so there is no point in asking politely.
    """
    process.join(grace)
    if process.is_alive():
        _kill_group(process)
        process.join(timeout)


def _kill_group(process: multiprocessing.process.BaseProcess) -> None:
    """Kill the worker and, on POSIX, the audio players it runs; return None.

    On Linux the sound is an ``aplay`` child of the worker: killing only the
    worker would leave the sentence playing. The worker leads its own process
    group (see _detach), so killing the group reaches both. Called only while
    the worker is unreaped, so its pid cannot belong to anyone else.
    """
    if os.name == "posix" and process.pid is not None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
            return
        except (ProcessLookupError, PermissionError):
            pass  # it has not made its group yet
    process.kill()


# ---------------------------------------------------------------- in the worker


def _detach() -> None:
    """Prepare a worker process; return None.

    Ctrl+C is ignored here: the parent decides when the worker ends. On POSIX
    the worker leads a new process group, so that the parent can kill it
    together with the audio player it runs (see _kill_group).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.name == "posix":
        os.setpgrp()
    # pyttsx3 prints progress ("Audio saved to ...") that is no one's business.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


def _start_engine(driver_name: str | None) -> pyttsx3.Engine:
    """Return a started pyttsx3 engine; raise SpeechError saying what failed."""
    try:
        import pyttsx3

        engine = pyttsx3.init(driver_name)
    except Exception as exc:  # pyttsx3 raises whatever its driver raises
        raise SpeechError(
            f"the speech engine failed to start "
            f"({type(exc).__name__}: {exc}); {install_hint()}") from exc
    return engine


def _check_sound_output(engine: pyttsx3.Engine) -> None:
    """Raise SpeechError when pyttsx3 would speak into nothing; return None.

    On Linux pyttsx3's espeak driver plays every sentence with ``aplay`` and
    ignores aplay's failure, so try aplay on 50 ms of silence.
    """
    if not sys.platform.startswith("linux") or getattr(engine, "driver_name", None) != "espeak":
        return
    aplay = shutil.which("aplay")
    if aplay is None:
        raise SpeechError(
            "pyttsx3 plays speech with 'aplay', which is not "
            "installed; install it: sudo apt-get install alsa-utils")
    with tempfile.TemporaryDirectory() as folder:
        silence = os.path.join(folder, "silence.wav")
        with wave.open(silence, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(22050)
            out.writeframes(b"\0\0" * 1102)
        try:
            result = subprocess.run([aplay, "-q", silence], capture_output=True,
                                    text=True, timeout=5)
        except subprocess.TimeoutExpired:
            raise SpeechError("the sound device does not respond "
                              "('aplay' hangs)") from None
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [f"exit code {result.returncode}"]
        raise SpeechError(f"no sound output ({lines[-1]}); "
                          f"greetings are shown as text only")


class _Voices:
    """Sets the engine up for each utterance: the voice asked for (found once, a
    missing one named once), else the speaker's own, and the rate and volume."""

    def __init__(self, engine: pyttsx3.Engine, status: Connection, voice: str | None,
                 rate: int | None, volume: float | None) -> None:
        self.engine, self.status = engine, status
        self.voices = engine_voices(engine)
        self.found: dict[str, str | None] = {}
        self.voice = self.find(voice) if voice else None
        self.voice = self.voice or engine.getProperty("voice")
        self.rate = rate or engine.getProperty("rate")
        self.volume = engine.getProperty("volume") if volume is None else volume

    def find(self, wanted: str) -> str | None:
        if wanted not in self.found:
            voice = find_voice(self.voices, wanted)
            self.found[wanted] = voice.id if voice else None
            if voice is None:
                self.status.send(("warning", f"speech: no voice for {wanted!r}, so the "
                                             f"greeting is spoken with the default voice; "
                                             f"{voice_hint()}"))
        return self.found[wanted]

    def set_up(self, utterance: Utterance) -> str:
        """Set the engine for ``utterance``; return the voice id used."""
        voice = (self.find(utterance.voice) if utterance.voice else None) or self.voice
        set_property(self.engine, "voice", voice)
        set_property(self.engine, "rate", utterance.rate or self.rate)
        set_property(self.engine, "volume", self.volume if utterance.volume is None
                     else utterance.volume)
        return voice


def play_sound(path: str) -> None:
    """Play the sound file ``path`` to the end; raise OSError or SubprocessError if it fails."""
    if sys.platform == "win32":
        import winsound
        winsound.PlaySound(path, winsound.SND_FILENAME)
        return
    player = ["afplay", path] if sys.platform == "darwin" else ["aplay", "-q", path]
    subprocess.run(player, check=True, capture_output=True, timeout=60)


def _can_play(engine: pyttsx3.Engine, status: Connection, record_to: str | None) -> bool:
    """Whether there is sound to play speech on; without, SpeechError unless the files
    asked for (``record_to``) can still be written."""
    try:
        _check_sound_output(engine)
    except SpeechError as exc:
        if record_to is None:
            raise
        # No sound here: the files asked for are still written.
        status.send(("warning", f"speech is not played ({exc}); greetings are "
                                f"still written to {record_to}"))
        return False
    return True


def speech_worker(commands: Queue, status: Connection, driver_name: str | None,
                  rate: int | None, voice: str | None, volume: float | None,
                  max_delay: float, record_to: str | None, play: bool) -> None:
    """Speak :class:`Utterance` items from ``commands`` until None arrives; return None.

    With ``record_to`` each is written there as NNNN.wav (its sentence and voice
    in NNNN.txt, its sound copied as NNNN-sound.*); with ``play`` it is played.
    Sends ("ready", ""), ("spoken", text), ("late", text: dropped unspoken),
    ("warning", message) and ("error", message) on ``status``; after an error it returns, ending the process.
    """
    _detach()
    try:
        engine = _start_engine(driver_name)
        voices = _Voices(engine, status, voice, rate, volume)
        play = play and _can_play(engine, status, record_to)
    except SpeechError as exc:
        status.send(("error", f"speech is off: {exc}"))
        return
    errors: list[str] = []
    engine.connect("error", lambda name=None, exception=None: errors.append(repr(exception)))
    status.send(("ready", ""))
    parent = multiprocessing.parent_process()
    count = 0
    while True:
        try:
            item = commands.get(timeout=0.5)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return  # the program died without close(): don't linger
            continue
        if item is None:
            return
        said_at, utterance = item
        if time.time() - said_at > max_delay:
            status.send(("late", utterance.text))
            continue  # too late to be a greeting
        count += 1
        try:
            used = voices.set_up(utterance)
            if record_to is not None:
                _record(engine, utterance, used, os.path.join(record_to, f"{count:04d}"))
            if play:
                if utterance.sound:
                    play_sound(utterance.sound)
                if utterance.text.strip():
                    speak_to_end(engine, lambda: engine.say(utterance.text))
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        if errors:
            status.send(("error", f"speech stopped: the speech engine failed "
                                  f"({errors[0]}); greetings are shown as text only"))
            return
        status.send(("spoken", utterance.text))


def _is_espeak(engine: pyttsx3.Engine) -> bool:
    return getattr(engine, "driver_name", None) == "espeak"


def _wait_until_espeak_is_idle(timeout: float = 5.0) -> None:
    """Return once espeak-ng's queue of commands is empty; SpeechError after ``timeout`` s."""
    from pyttsx3.drivers import _espeak

    deadline = time.monotonic() + timeout
    while _espeak.IsPlaying():
        if time.monotonic() > deadline:
            raise SpeechError(f"espeak-ng did not finish its work in {timeout:.0f} s")
        time.sleep(0.005)


def set_property(engine: pyttsx3.Engine, name: str, value: object) -> None:
    """Set the engine's ``name`` ("voice", "rate", "volume") for the next sentence.

    pyttsx3's espeak driver holds a property back until runAndWait(), whose
    end cancels whatever espeak-ng has not yet done (endLoop calls stop()),
    and espeak-ng's cancel drops the property and resets the others: a
    greeting at the wrong rate, the next one not spoken at all (seen under
    load, and in one burst of three sentences in five). So with espeak the
    property is set at once; :func:`speak_to_end` lets espeak-ng's queue
    empty before the sentence.
    """
    if not _is_espeak(engine):
        engine.setProperty(name, value)
        return
    from pyttsx3.drivers.espeak import EspeakDriver

    EspeakDriver.setProperty(name, value)


def speak_to_end(engine: pyttsx3.Engine, start: Callable[[], None],
                 timeout: float = 60.0) -> None:
    """Run ``start`` (``engine.say`` or ``engine.save_to_file``) and return once the
    sentence is spoken or written; SpeechError when it takes over ``timeout`` s.

    pyttsx3's espeak driver returns from runAndWait() as soon as the sentence
    is begun, so with espeak the end is its "finished-utterance" notice; and
    espeak-ng must be idle before runAndWait() (see :func:`set_property`).
    """
    if not _is_espeak(engine):
        start()
        engine.runAndWait()
        return
    finished = threading.Event()
    token = engine.connect("finished-utterance", lambda **_: finished.set())
    try:
        _wait_until_espeak_is_idle()
        start()
        engine.runAndWait()
        if not finished.wait(timeout):
            raise SpeechError(f"espeak-ng did not finish a sentence in {timeout:.0f} s")
    finally:
        engine.disconnect(token)


def save_speech(engine: pyttsx3.Engine, text: str, path: str) -> None:
    """Render ``text`` into the WAV file ``path``."""
    speak_to_end(engine, lambda: engine.save_to_file(text, path))
    if _is_espeak(engine):
        # The espeak driver keeps the file's name: the next say() would write
        # over this file instead of playing.
        engine.proxy._driver._save_file = None


def _record(engine: pyttsx3.Engine, utterance: Utterance, voice: str, stem: str) -> None:
    """Write ``utterance`` as ``stem``.wav, its sentence and voice in ``stem``.txt."""
    if utterance.text.strip():
        save_speech(engine, utterance.text, f"{stem}.wav")
    with open(f"{stem}.txt", "w", encoding="utf-8") as file:
        file.write(f"{utterance.text}\nvoice: {voice}\n")
    if utterance.sound:
        shutil.copyfile(utterance.sound, f"{stem}-sound{os.path.splitext(utterance.sound)[1]}")


def render_worker(text: str, path: str, driver_name: str | None, voice: str | None,
                  results: Connection) -> None:
    """Render ``text`` to ``path`` in ``voice`` (a language or voice name); send
    ("", voice id used) on success, else (the error message, None)."""
    _detach()
    try:
        engine = _start_engine(driver_name)
        found = find_voice(engine_voices(engine), voice) if voice else None
        if voice and found is None:
            raise SpeechError(f"no voice for {voice!r}; {voice_hint()}")
        if found is not None:
            set_property(engine, "voice", found.id)
        save_speech(engine, text, path)
        used = engine.getProperty("voice")
    except SpeechError as exc:
        results.send((str(exc), None))
    except Exception as exc:
        results.send((f"the speech engine failed ({type(exc).__name__}: {exc})", None))
    else:
        results.send(("", used))


def voices_worker(driver_name: str | None, results: Connection) -> None:
    """Send ("", the engine's voices) or (the error message, None)."""
    _detach()
    try:
        results.send(("", engine_voices(_start_engine(driver_name))))
    except Exception as exc:  # pyttsx3 raises whatever its driver raises
        results.send((f"{type(exc).__name__}: {exc}", None))
