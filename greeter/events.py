"""Telling the rest of the house: each greeting and each new visit, sent out as an event.

An event is one JSON object (see :class:`Event`). It goes to any of three
sinks: a command run with the event in its environment and on its stdin
(``--on-greet``), an HTTP POST (``--webhook``), and an MQTT broker
(``--mqtt``, topics ``facenet/greeting`` and ``facenet/visitor``, with Home
Assistant discovery).

The frame loop never waits for a sink: :meth:`EventSender.emit` only puts the
event in each sink's bounded queue, and each sink has a worker thread of its
own, so a slow web server never delays the broker. When a queue is full the
oldest event goes first, with one warning. A broker that is down or restarts
is reconnected with growing pauses (MQTT_MIN_DELAY doubling up to
MQTT_MAX_DELAY) while its events wait; a command that fails or outlives its
timeout is killed and named once, until it works again. Credentials in a URL
are sent to the server only: what is shown is :func:`redact_url`'s form.
"""

from __future__ import annotations

import base64
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

GREETING, VISITOR, TEST = "greeting", "visitor", "test"
# Events are small: a thousand is minutes of greetings, hours of visits.
QUEUE_SIZE = 1000
HOOK_TIMEOUT = 10.0
WEBHOOK_TIMEOUT = 5.0
MQTT_MIN_DELAY, MQTT_MAX_DELAY = 0.5, 30.0
MQTT_KEEPALIVE = 30
# Seconds an acknowledged publish may take before the worker moves on
# (paho keeps sending an unacknowledged QoS 1 message after a reconnect).
MQTT_ACK_TIMEOUT = 5.0
TOPIC_PREFIX = "facenet"
DISCOVERY_PREFIX = "homeassistant"
# How long "visitor at the door" stays on after the last visit event.
VISITOR_ON_SECONDS = 60


@dataclass(frozen=True)
class Event:
    """One greeting or new visit, as sent out.

    ``type`` is "greeting" (``name`` is who was greeted) or "visitor"
    (``visitor`` is the visitors-list id); ``distance`` is the L2 distance to
    the nearest known person (None when nobody is known); ``time`` UTC ISO
    8601; ``frame`` the source's frame number; ``source`` the source as
    described to the user; ``crop`` the saved photo of the visitor (None for a
    greeting).
    """

    type: str
    time: str
    frame: int
    source: str
    name: str | None = None
    visitor: int | None = None
    distance: float | None = None
    crop: str | None = None

    def to_json(self) -> str:
        """The event as one line of JSON."""
        values = asdict(self)
        if values["distance"] is not None and not math.isfinite(values["distance"]):
            values["distance"] = None  # JSON has no infinity
        return json.dumps(values, ensure_ascii=False)

    def environment(self) -> dict[str, str]:
        """``FACENET_TYPE``, ``FACENET_NAME``, ... : the fields as environment
        variables ("" for a missing value)."""
        return {f"FACENET_{key.upper()}": "" if value is None else str(value)
                for key, value in json.loads(self.to_json()).items()}


def utc_now() -> str:
    """The current time, UTC, ISO 8601 to the millisecond."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def redact_url(url: str) -> str:
    """``url`` with any user name and password replaced by ``***``, for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    hidden = "***:***" if parts.password is not None else "***"
    return urlunsplit(parts._replace(netloc=f"{hidden}@{host}"))


class EventsError(ValueError):
    """An --mqtt or --webhook value that cannot be used; the message says why."""


# -- sinks: each sends one event at a time, on its worker's thread ----------

class CommandSink:
    """Runs ``command`` (a shell command line) once per event, with the event in
    FACENET_* environment variables and as JSON on its stdin."""

    def __init__(self, command: str, timeout: float = HOOK_TIMEOUT) -> None:
        self.command = command
        self.timeout = timeout
        self.description = f"command {command!r}"

    def ready(self, wait: float) -> bool:
        return True

    def send(self, event: Event) -> None:
        """Run the command; raises RuntimeError when it fails or is killed at the timeout."""
        environment = {**os.environ, **event.environment()}
        # A session of its own, so that the timeout kills what the shell started too.
        process = subprocess.Popen(self.command, shell=True, stdin=subprocess.PIPE,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   env=environment, start_new_session=sys.platform != "win32")
        try:
            _, errors = process.communicate((event.to_json() + "\n").encode(), self.timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            raise RuntimeError(f"did not finish within {self.timeout:g} s and was killed "
                               "(--hook-timeout)") from None
        if process.returncode != 0:
            last = errors.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise RuntimeError(f"exit status {process.returncode}"
                               + (f": {last[0][:200]}" if last[0] else ""))

    def close(self) -> None:
        pass


def _kill(process: subprocess.Popen) -> None:
    """Kill ``process`` and the processes of its session."""
    try:
        if sys.platform == "win32":
            process.kill()
        else:
            os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.communicate()


class WebhookSink:
    """POSTs each event's JSON to ``url``; a user and password in the URL become
    HTTP basic authentication (and are never shown)."""

    def __init__(self, url: str, timeout: float = WEBHOOK_TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EventsError(f"--webhook {redact_url(url)}: give an http:// or https:// URL")
        self.description = f"webhook {redact_url(url)}"
        self.timeout = timeout
        self._url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        self._headers = {"Content-Type": "application/json", "User-Agent": "facenet"}
        if parts.username is not None:
            secret = f"{parts.username}:{parts.password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(secret).decode()

    def ready(self, wait: float) -> bool:
        return True

    def send(self, event: Event) -> None:
        """POST the event; raises RuntimeError when the server cannot be reached or refuses it."""
        request = urllib.request.Request(self._url, event.to_json().encode(), self._headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"the server answered {error.code} {error.reason}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise RuntimeError(f"cannot be reached ({reason})") from None

    def close(self) -> None:
        pass


def parse_mqtt_url(url: str) -> tuple[str, int, str | None, str | None]:
    """(host, port, user, password) of ``mqtt://[user:pass@]host[:port]`` (port 1883)."""
    parts = urlsplit(url)
    try:
        port = parts.port or 1883
    except ValueError:
        raise EventsError(f"--mqtt {redact_url(url)}: the port is not a number") from None
    if parts.scheme != "mqtt" or not parts.hostname:
        raise EventsError(f"--mqtt {redact_url(url)}: give mqtt://[user:password@]host[:port]")
    return parts.hostname, port, parts.username, parts.password


def discovery_messages() -> list[tuple[str, str]]:
    """Home Assistant MQTT discovery: (topic, retained JSON) making a "last greeted"
    sensor and a "visitor at the door" binary sensor."""
    device = {"identifiers": ["facenet"], "name": "facenet door greeter",
              "manufacturer": "facenet"}
    availability = f"{TOPIC_PREFIX}/status"
    greeted = {"name": "Last greeted", "unique_id": "facenet_last_greeted",
               "state_topic": f"{TOPIC_PREFIX}/{GREETING}", "value_template": "{{ value_json.name }}",
               "json_attributes_topic": f"{TOPIC_PREFIX}/{GREETING}",
               "availability_topic": availability, "icon": "mdi:account-check", "device": device}
    visitor = {"name": "Visitor at the door", "unique_id": "facenet_visitor",
               "state_topic": f"{TOPIC_PREFIX}/{VISITOR}", "value_template": "ON",
               "off_delay": VISITOR_ON_SECONDS, "device_class": "occupancy",
               "json_attributes_topic": f"{TOPIC_PREFIX}/{VISITOR}",
               "availability_topic": availability, "device": device}
    return [(f"{DISCOVERY_PREFIX}/sensor/facenet/last_greeted/config", json.dumps(greeted)),
            (f"{DISCOVERY_PREFIX}/binary_sensor/facenet/visitor/config", json.dumps(visitor))]


class MqttSink:
    """Publishes each event to ``facenet/<type>`` (QoS 1) on the broker of an
    ``mqtt://`` URL. paho-mqtt's network thread connects in the background and
    reconnects with growing pauses; on each connection the discovery messages
    and ``facenet/status`` "online" are published (retained), and the broker
    publishes "offline" when the greeter goes away."""

    def __init__(self, url: str) -> None:
        import paho.mqtt.client as mqtt
        host, port, user, password = parse_mqtt_url(url)
        self.description = f"MQTT broker {redact_url(url)}"
        self.problem = ""  # why the last connection attempt failed, for the warning
        self._connected = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                   client_id=f"facenet-{os.getpid()}")
        if user is not None:
            self._client.username_pw_set(user, password)
        self._client.will_set(f"{TOPIC_PREFIX}/status", "offline", qos=1, retain=True)
        self._client.reconnect_delay_set(MQTT_MIN_DELAY, MQTT_MAX_DELAY)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.connect_async(host, port, MQTT_KEEPALIVE)
        self._client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.problem = f"the broker refused the connection: {reason_code}"
            return
        for topic, payload in discovery_messages():
            client.publish(topic, payload, qos=1, retain=True)
        client.publish(f"{TOPIC_PREFIX}/status", "online", qos=1, retain=True)
        self.problem = ""
        self._connected.set()

    def _on_connect_fail(self, client, userdata) -> None:
        self.problem = "no broker answers there"

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        self.problem = "the connection was lost" if not reason_code.is_failure else \
            f"not connected ({reason_code})"

    def ready(self, wait: float) -> bool:
        """True once connected; waits up to ``wait`` seconds."""
        return self._connected.wait(wait)

    def send(self, event: Event) -> None:
        info = self._client.publish(f"{TOPIC_PREFIX}/{event.type}", event.to_json(), qos=1)
        if info.rc != 0 and not self._connected.is_set():
            # Queued by paho all the same: a QoS 1 message goes out after the reconnect.
            return
        try:
            info.wait_for_publish(MQTT_ACK_TIMEOUT)
        except RuntimeError:
            pass  # the connection dropped meanwhile: paho sends it again once reconnected

    def close(self) -> None:
        self._client.publish(f"{TOPIC_PREFIX}/status", "offline", qos=1, retain=True)
        self._client.disconnect()
        self._client.loop_stop()


# -- the sender: one bounded queue and worker thread per sink ---------------

class _Worker:
    """Feeds one sink from a bounded queue on a thread of its own."""

    def __init__(self, sink, size: int, on_warning: Callable[[str], None]) -> None:
        self.sink = sink
        self.sent = self.dropped = self.failed = 0
        self._queue: deque[Event] = deque()
        self._size = size
        self._on_warning = on_warning
        self._warned_full = self._failing = False
        self._busy = False
        self._closing = False
        self._close_wait = 0.0
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"events {sink.description}",
                                        daemon=True)
        self._thread.start()

    def put(self, event: Event) -> None:
        with self._changed:
            if len(self._queue) >= self._size:
                self._queue.popleft()
                self.dropped += 1
                if not self._warned_full:
                    self._warned_full = True
                    self._on_warning(
                        f"warning: events for the {self.sink.description} are coming faster "
                        f"than they leave ({self._size} waiting): the oldest are dropped")
            self._queue.append(event)
            self._changed.notify()

    def _run(self) -> None:
        waited = 0.0
        while True:
            with self._changed:
                while not self._queue and not self._closing:
                    self._changed.wait()
                if not self._queue:
                    return
            if not self.sink.ready(0.2):
                waited += 0.2
                if waited >= 2 * MQTT_MIN_DELAY and not self._failing:
                    self._failing = True
                    problem = getattr(self.sink, "problem", "") or "not reachable"
                    self._on_warning(f"warning: {self.sink.description}: {problem}; events "
                                     "wait and are sent once it is back")
                if self._closing and waited >= self._close_wait:
                    return
                continue
            waited = 0.0
            with self._changed:
                event = self._queue.popleft()
                self._busy = True
            try:
                self.sink.send(event)
            except Exception as error:  # a sink must never take the greeter down
                self.failed += 1
                if not self._failing:
                    self._on_warning(f"warning: {self.sink.description} failed: {error}; "
                                     "later failures are not reported until it works again")
                self._failing = True
            else:
                self.sent += 1
                if self._failing:
                    self._on_warning(f"{self.sink.description} works again")
                self._failing = False
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()

    def close(self, wait: float) -> int:
        """Send what is queued for up to ``wait`` seconds, then stop; the number left unsent."""
        self._close_wait = wait
        deadline = time.monotonic() + wait
        with self._changed:
            self._closing = True
            self._changed.notify_all()
            while (self._queue or self._busy) and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            left = len(self._queue)
            self._queue.clear()
            self._changed.notify_all()
        self._thread.join(max(0.0, deadline - time.monotonic()) + 0.5)
        self.sink.close()
        return left


class EventSender:
    """Sends events to the sinks given, never blocking the caller.

    ``on_warning`` receives the warnings (a full queue, a failing sink), each
    once until the sink works again.
    """

    def __init__(self, sinks: list, queue_size: int = QUEUE_SIZE,
                 on_warning: Callable[[str], None] = print) -> None:
        self._workers = [_Worker(sink, queue_size, on_warning) for sink in sinks]

    def emit(self, event: Event) -> None:
        """Queue ``event`` for every sink; returns at once."""
        for worker in self._workers:
            worker.put(event)

    def close(self, wait: float = 3.0) -> str:
        """Send what is queued (up to ``wait`` seconds), stop; a one-line summary."""
        parts = []
        for worker in self._workers:
            left = worker.close(wait)
            lost = worker.dropped + worker.failed + left
            parts.append(f"{worker.sent} sent to the {worker.sink.description}"
                         + (f" ({lost} not: {worker.dropped} dropped, {worker.failed} "
                            f"failed, {left} unsent at exit)" if lost else ""))
        return "events: " + "; ".join(parts)


def check_event_options(on_greet: str | None, webhook: str | None, mqtt: str | None,
                        hook_timeout: float = HOOK_TIMEOUT) -> None:
    """Raise EventsError, saying why, when an event option cannot be used."""
    if on_greet is not None and not on_greet.strip():
        raise EventsError("--on-greet: give a command")
    if not hook_timeout > 0:
        raise EventsError("--hook-timeout: give the seconds to wait, more than 0")
    if webhook:
        WebhookSink(webhook)
    if mqtt:
        parse_mqtt_url(mqtt)


def make_sinks(on_greet: str | None, webhook: str | None, mqtt: str | None,
               hook_timeout: float = HOOK_TIMEOUT) -> list:
    """The sinks the options ask for (the MQTT one starts connecting at once);
    raises EventsError for an option that cannot be used."""
    check_event_options(on_greet, webhook, mqtt, hook_timeout)
    sinks: list = []
    if on_greet:
        sinks.append(CommandSink(on_greet, hook_timeout))
    if webhook:
        sinks.append(WebhookSink(webhook))
    if mqtt:
        sinks.append(MqttSink(mqtt))
    return sinks
