"""A real MJPEG-over-HTTP camera on 127.0.0.1 for tests: it can be switched off and on again."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np


def grey(value: int, size: tuple[int, int] = (48, 64)) -> np.ndarray:
    """A flat grey BGR image."""
    return np.full((*size, 3), value, np.uint8)


def grey_frames(count: int) -> np.ndarray:
    """The default stream: frame ``count`` is flat grey ``count % 256``."""
    return grey(count % 256)


class MjpegServer:
    """An HTTP server on 127.0.0.1:port sending multipart/x-mixed-replace JPEG frames.

    ``frames(count)`` gives the BGR image of the stream's frame ``count``
    (default: flat greys), sent every ``interval`` seconds. ``port`` 0 picks a
    free port; pass the old ``port`` to switch the same camera on again.
    stop() closes the listening socket and every open stream, as a camera
    that is switched off would.
    """

    def __init__(self, port: int = 0, frames: Callable[[int], np.ndarray] = grey_frames,
                 interval: float = 0.04) -> None:
        self._stopping = threading.Event()
        stopping = self._stopping

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                for count in itertools.count():
                    if stopping.is_set():
                        return
                    jpeg = cv2.imencode(".jpg", frames(count))[1].tobytes()
                    try:
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                         b"Content-Length: %d\r\n\r\n%s\r\n" % (len(jpeg), jpeg))
                    except OSError:  # the client went away
                        return
                    stopping.wait(interval)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = False  # so that server_close() joins the handlers
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/stream.mjpg"
        self._thread = threading.Thread(target=self._server.serve_forever)
        self._thread.start()

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (just now)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return port


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Return once ``condition()`` is true; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
