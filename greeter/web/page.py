"""``--web [HOST:]PORT``: the page served beside the frame loop, as the greeter sees it.

The frame loop builds one WebPage before its event sinks (the history is one
of them), starts it once the photos and the visitors list are loaded, hands
it each frame (:meth:`on_frame`, a Reaction: nearly free) and closes it on
the way out. The server is uvicorn in a thread of its own with its own event
loop; it never holds the frame loop, and a page that cannot start (a port in
use) is named with what to do while the greeter goes on without it.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
from typing import TYPE_CHECKING

from greeter.paths import data_dir
from greeter.visits import VisitorBook, default_visitors_dir
from greeter.web.history import History, HistorySink
from greeter.web.live import LiveView
from greeter.web.security import Guard, is_loopback
from greeter.web.server import Running, WebApp
from greeter.web.store import People, Visitors

if TYPE_CHECKING:
    from greeter.database import PhotoLibrary
    from greeter.events import EventSender
    from greeter.frames import Frame
    from greeter.greetings import PersonSettings
    from greeter.recognise import Face
    from greeter.web.security import WebSettings

# Seconds an open stream may hold the shutdown: Ctrl+C must be prompt.
SHUTDOWN_SECONDS = 1


def history_folder(instance: str) -> str:
    """Where the page of the greeter ``instance`` (instance.instance_name) keeps its history."""
    return os.path.join(data_dir(), "web", instance)


class WebPage:
    """The page of one running greeter: its live view, its history, its server."""

    def __init__(self, host: str, port: int, password: str | None, history_dir: str,
                 keep_days: float, on_message) -> None:
        self.host, self.port = host, port
        self.guard = Guard(password, is_loopback(host))
        self.live = LiveView()
        self.on_message = on_message
        self.history = History(history_dir, keep_days, on_message)
        self.sink = HistorySink(self.history, self.live)
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self, library: PhotoLibrary, encoder, book: VisitorBook | None,
              events: EventSender | None, source: str,
              person_settings: dict[str, PersonSettings], settings_file: str | None) -> bool:
        """Serve the page; False (after saying why and what to do) when it cannot."""
        in_loop = book is not None
        book = book or VisitorBook(default_visitors_dir(), on_message=self.on_message)
        running = Running(self.live, self.history, People(library, self.live),
                          Visitors(book, self.live, library.images_dir, in_loop), encoder,
                          source, events, dict(person_settings), settings_file)
        try:
            listener = socket.create_server(
                (self.host, self.port),
                family=socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        except OSError as error:
            self.on_message(f"warning: the web page cannot listen on {self.url()}: "
                            f"{_why(error, self.port)}; the greeter goes on without it")
            return False
        import uvicorn
        config = uvicorn.Config(WebApp(running, self.guard).app, log_level="warning",
                                lifespan="off", access_log=False,
                                timeout_graceful_shutdown=SHUTDOWN_SECONDS)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [listener]},
                                        name="web page", daemon=True)
        self._thread.start()
        self.on_message(f"web page: {self.url()}"
                        + (" (password required)" if self.guard.password else ""))
        return True

    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def on_frame(self, frame: Frame, faces: list[Face]) -> None:
        self.live.on_frame(frame, faces)

    def close(self) -> None:
        """Stop serving (open streams end within SHUTDOWN_SECONDS). The history closes
        with the event sender, after its last event."""
        self.live.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(SHUTDOWN_SECONDS + 4)


def _why(error: OSError, port: int) -> str:
    if error.errno == errno.EADDRINUSE:
        return (f"port {port} is in use (another program, or another greeter's page); "
                "choose another with --web [HOST:]PORT")
    if error.errno == errno.EACCES:
        return f"port {port} needs more rights; choose one above 1023"
    if error.errno == errno.EADDRNOTAVAIL:
        return "this machine has no such address; use 0.0.0.0 for all of its addresses"
    return error.strerror or str(error)


def open_web_page(web: WebSettings, images_dir: str, source: str, keep_days: float,
                  on_message) -> WebPage | None:
    """The page ``web`` asks for (not serving yet: :meth:`WebPage.start`), or None after
    saying why its history cannot be kept (the greeter goes on without it)."""
    from greeter.instance import instance_name
    folder = history_folder(instance_name(images_dir, source))
    try:
        return WebPage(web.host, web.port, web.password, folder, keep_days, on_message)
    except OSError as error:
        on_message(f"warning: the web page cannot keep its history in {folder} "
                   f"({error.strerror or error}); the greeter goes on without the page")
        return None
