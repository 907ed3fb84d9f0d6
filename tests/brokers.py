"""Real servers on 127.0.0.1 for the event tests: a Mosquitto broker that can be
stopped and started again, an MQTT subscriber, and an HTTP server that keeps
what is POSTed to it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mosquitto_program() -> str:
    """The mosquitto executable (Debian puts it in /usr/sbin); skips the test if absent."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if not found:
        pytest.skip("the MQTT broker mosquitto is not installed: ./setup.sh --dev installs "
                    "it (Debian package mosquitto)")
    return found


class Mosquitto:
    """A real Mosquitto broker on 127.0.0.1:``port``, anonymous, keeping its state in
    ``folder`` across stop() and start() (as a broker that restarts does)."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mosquitto.conf"
        settings = (f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                    f"persistence true\npersistence_location {folder}/\n")
        if os.geteuid() == 0:  # else it switches to the user mosquitto, who cannot write here
            settings += "user root\n"
        self.config.write_text(settings)
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        with open(self.folder / "mosquitto.log", "ab") as log:
            self.process = subprocess.Popen([mosquitto_program(), "-c", str(self.config)],
                                            stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                assert self.process.poll() is None, (self.folder / "mosquitto.log").read_text()
                time.sleep(0.05)
        raise AssertionError(f"mosquitto did not listen on port {self.port} within 10 s")

    def stop(self) -> None:
        """Stop the broker the way a service stop does (SIGTERM: it saves its state)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


class Subscriber:
    """An MQTT client with a persistent session (so that messages published while it
    reconnects after a broker restart wait for it), collecting what arrives."""

    def __init__(self, port: int, topics: tuple[str, ...] = ("facenet/#", "homeassistant/#")) -> None:
        import paho.mqtt.client as mqtt
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{port}",
                             clean_session=False)
        client.reconnect_delay_set(0.1, 0.5)

        def on_connect(client, userdata, flags, reason_code, properties):
            client.subscribe([(topic, 1) for topic in topics])

        def on_subscribe(client, userdata, mid, reason_codes, properties):
            self._subscribed.set()

        def on_message(client, userdata, message):
            with self._lock:
                self.messages.append((message.topic, message.payload, message.retain))

        client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
        client.connect("127.0.0.1", port)
        client.loop_start()
        self.client = client
        assert self._subscribed.wait(10), "the test subscriber could not subscribe"

    def events(self, topic: str) -> list[dict]:
        with self._lock:
            return [json.loads(payload) for name, payload, _ in self.messages if name == topic]

    def wait_for(self, condition, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return condition()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class WebhookServer:
    """An HTTP server on 127.0.0.1 keeping each POST's JSON body and Authorization header.

    ``answer(body)`` decides each reply: a status code, or (code, headers); the
    default takes every event (204). Only events answered 2xx are kept in
    ``received``; every POST is in ``posts``. ``port`` 0 picks a free port; give
    a port to start a server where one was down.
    """

    def __init__(self, port: int = 0, answer=lambda body: 204) -> None:
        self.received: list[tuple[dict, str | None]] = []
        self.posts: list[dict] = []
        received, posts = self.received, self.posts

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                posts.append(body)
                reply = answer(body)
                code, headers = reply if isinstance(reply, tuple) else (reply, {})
                if code is None:  # break the connection without an answer
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if 200 <= code < 300:
                    received.append((body, self.headers.get("Authorization")))
                self.send_response(code)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
