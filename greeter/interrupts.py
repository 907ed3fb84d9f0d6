"""Ctrl+C and SIGTERM: one clean way to stop, from the program's first line.

A greeter may be stopped at any moment, while Python is still importing
TensorFlow too (a service manager stopping it, a user changing their mind):
facenet.py holds the two signals from its first line (:func:`hold_stop_signals`),
so that one arriving before the command is ready to stop cleanly is kept, not
fatal. The greeter's :class:`Interrupts` then acts on it at once; any other
command gets the ordinary handlers back (:func:`release_stop_signals`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

# The stop signals that came while they were held.
_kept: list[int] = []


def _keep(signum, frame) -> None:
    _kept.append(signum)


def hold_stop_signals() -> None:
    """Keep a SIGTERM or Ctrl+C from now until the command is ready for it."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _keep)
    # Left ignored where it is (started in the background by a shell).
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _keep)


def release_stop_signals() -> None:
    """The ordinary handlers back (for a command that stops the ordinary way), and a
    signal kept meanwhile acted on now."""
    if signal.getsignal(signal.SIGTERM) is _keep:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if signal.getsignal(signal.SIGINT) is _keep:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if _kept:
        signum = _kept.pop()
        _kept.clear()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        os.kill(os.getpid(), signum)


class Interrupts:
    """Ctrl+C and SIGTERM stop the program through the same clean-up (KeyboardInterrupt);
    inside :meth:`held` they wait until the block is done, so that a greeting is never
    logged and printed without its event, nor an event queued without its log row."""

    def __init__(self) -> None:
        self._holding = self._pending = False
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._stop)
            if signal.getsignal(signal.SIGINT) in (signal.default_int_handler, _keep):
                signal.signal(signal.SIGINT, self._stop)

    def _stop(self, signum, frame) -> None:
        if self._holding:
            self._pending = True
            return
        raise KeyboardInterrupt

    def stop_if_asked(self) -> None:
        """Stop now (KeyboardInterrupt) if a signal came while they were held."""
        if _kept:
            _kept.clear()
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
