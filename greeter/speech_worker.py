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
import time
import wave
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


def _start_engine(driver_name: str | None, rate: int | None,
                  voice: str | None) -> pyttsx3.Engine:
    """Return a started pyttsx3 engine; raise SpeechError saying what failed."""
    try:
        import pyttsx3

        engine = pyttsx3.init(driver_name)
        if rate is not None:
            engine.setProperty("rate", rate)
        if voice is not None:
            engine.setProperty("voice", voice)
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


def speech_worker(commands: Queue, status: Connection, driver_name: str | None,
                  rate: int | None, voice: str | None, max_delay: float,
                  record_to: str | None) -> None:
    """Speak sentences from ``commands`` until None arrives; return None.

    Sends ("ready", ""), ("spoken", text) and ("error", message) on ``status``;
    after an error it returns, ending the process.
    """
    _detach()
    try:
        engine = _start_engine(driver_name, rate, voice)
        if record_to is None:
            _check_sound_output(engine)
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
        said_at, text = item
        if time.time() - said_at > max_delay:
            continue  # too late to be a greeting
        count += 1
        try:
            if record_to is None:
                engine.say(text)
            else:
                engine.save_to_file(text, os.path.join(record_to, f"{count:04d}.wav"))
            engine.runAndWait()
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        if errors:
            status.send(("error", f"speech stopped: the speech engine failed "
                                  f"({errors[0]}); greetings are shown as text only"))
            return
        status.send(("spoken", text))


def render_worker(text: str, path: str, driver_name: str | None,
                  results: Connection) -> None:
    """Render ``text`` to ``path``; send "" on success, else the error message."""
    _detach()
    try:
        engine = _start_engine(driver_name, None, None)
        engine.save_to_file(text, path)
        engine.runAndWait()
    except SpeechError as exc:
        results.send(str(exc))
    except Exception as exc:
        results.send(f"the speech engine failed ({type(exc).__name__}: {exc})")
    else:
        results.send("")
