"""Showing progress while the photos in images/ are encoded.

:class:`EncodingProgress` is the ``on_progress(done, total)`` callback that
``PhotoLibrary.refresh`` calls once per photo. It stays silent when the
photos come from the encoding cache (a refresh of a few hundred ms), so an
ordinary restart prints nothing; a first start with hundreds of new photos
shows a bar on a terminal, or a plain line every few seconds in a log.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

# Nothing is shown for a refresh that ends sooner: cached photos come in
# milliseconds, and a bar that flashes by says nothing.
SHOW_AFTER_S = 1.0
# A terminal bar redraws at most this often, so that drawing never costs
# more than the encoding it reports.
REDRAW_EVERY_S = 0.1
# A log gets one plain line this often: enough to see it is alive, few
# enough not to flood a journal.
LOG_LINE_EVERY_S = 5.0
BAR_WIDTH = 30


class EncodingProgress:
    """An ``on_progress(done, total)`` callback that reports photos encoded to ``stream``.

    On a terminal: a bar redrawn in place; elsewhere: "encoded 120/500 photos"
    every LOG_LINE_EVERY_S seconds. The first report comes SHOW_AFTER_S after
    the object is made (make it right before the refresh); a final line is
    written when ``done == total`` if anything was shown before.
    """

    def __init__(self, stream: TextIO | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.started = clock()
        self.shown = False
        self._last_shown = float("-inf")
        isatty = getattr(self.stream, "isatty", None)
        self.terminal = bool(isatty and isatty())

    def __call__(self, done: int, total: int) -> None:
        """Report that ``done`` of ``total`` photos are encoded; returns None."""
        now = self.clock()
        finished = done >= total
        if finished:
            if self.shown:
                self._write(self._final_line(done, total, now))
            return
        if now - self.started < SHOW_AFTER_S:
            return
        every = REDRAW_EVERY_S if self.terminal else LOG_LINE_EVERY_S
        if now - self._last_shown < every:
            return
        self._last_shown = now
        self.shown = True
        if self.terminal:
            self._draw(self._bar(done, total, now))
        else:
            self._write(f"encoded {done}/{total} photos")

    def _bar(self, done: int, total: int, now: float) -> str:
        filled = BAR_WIDTH * done // max(total, 1)
        elapsed = now - self.started
        text = (f"encoding photos [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] "
                f"{done}/{total}")
        if done:
            left = elapsed / done * (total - done)
            text += f"  about {_duration(left)} left"
        return text

    def _final_line(self, done: int, total: int, now: float) -> str:
        return f"encoded {done}/{total} photos in {_duration(now - self.started)}"

    def _draw(self, text: str) -> None:
        # \r and clear-to-end-of-line: a shorter line leaves no tail behind.
        self.stream.write(f"\r{text}\x1b[K")
        self.stream.flush()

    def _write(self, text: str) -> None:
        if self.terminal:
            self.stream.write(f"\r{text}\x1b[K\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    """``seconds`` as "12 s" or "3 min 05 s"."""
    seconds = int(round(seconds))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


def progress_for(shown: bool) -> EncodingProgress | None:
    """The progress callback to encode photos with: None when progress is not ``shown``
    (``--quiet``)."""
    return EncodingProgress() if shown else None
