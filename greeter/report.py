"""One way to report: the "facenet" logger, a problem said once, passwords kept out.

Progress, warnings and errors go to stderr through the ``facenet`` logger, as
plain lines (no level or time prefix: they are written for the person at the
keyboard, and a service manager's journal adds the time). Results go to
stdout with print. ``-q`` keeps warnings and errors only, ``-v`` adds
details (``log.debug``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("facenet")

# The exit statuses: success, a runtime failure, bad arguments or unreadable input files.
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (a test's capture, a reopened
    console), not to the one there was when logging was set up."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass  # StreamHandler sets it at start; sys.stderr is always looked up instead


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Send the ``facenet`` logger's lines to stderr, at the level ``-v``/``-q`` ask for."""
    if not any(isinstance(handler, _StderrHandler) for handler in log.handlers):
        log.addHandler(_StderrHandler())
    log.propagate = False  # a library's root logger set-up does not print them twice
    log.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


def warn(text: str) -> None:
    """Say ``text`` on stderr at once: a warning, an error, or what the program does."""
    if not log.handlers:
        setup_logging()
    log.warning(text)


def warning(text: str) -> None:
    """Say ``text`` as a warning: "warning: TEXT"."""
    warn(f"warning: {text}")


class Trouble:
    """A problem said once, not at every failure, until it is gone; then, once, that
    things work again. For what fails again and again while the greeter goes on
    (a full disk, a web server that is down)."""

    def __init__(self, on_warning: Callable[[str], None] = warn) -> None:
        self._on_warning = on_warning
        self.failing = False

    def failed(self, message: str) -> None:
        """Say ``message``, unless a failure was already said and nothing worked since."""
        if not self.failing:
            self._on_warning(message)
        self.failing = True

    def worked(self, message: str | None = None) -> None:
        """Things work (again): say ``message`` if there had been a failure."""
        if self.failing and message:
            self._on_warning(message)
        self.failing = False


def redact_url(url: str) -> str:
    """``url`` with any user name and password replaced by ``***``, for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    hidden = "***:***" if parts.password is not None else "***"
    return urlunsplit(parts._replace(netloc=f"{hidden}@{host}"))
