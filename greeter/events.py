"""Telling the rest of the house: each greeting and each new visit, sent out as an event.

An event is one JSON object (see :class:`Event`). It goes to any of three
sinks: a command run with the event in its environment and on its stdin
(``--on-greet``), an HTTP POST (``--webhook``), and an MQTT broker
(``--mqtt``, topics ``facenet/greeting``, ``facenet/visitor``, ``facenet/arrived``
and ``facenet/left``, with Home Assistant discovery: one presence entity per
known person, kept at ``facenet/presence/<id>``).

The frame loop never waits for a sink: :meth:`EventSender.emit` only puts the
event in each sink's bounded queue, and each sink has a worker thread of its
own, so a slow web server never delays the broker. When a queue is full the
oldest event goes first, with one warning.

Every sink waits out a passing failure the same way (:class:`Backoff`): a
broker that is down or restarts, a web server that cannot be reached, times
out, or answers 408, 429 or 5xx, is tried again after RETRY_MIN_DELAY seconds,
doubling up to RETRY_MAX_DELAY (or as long as its ``Retry-After`` asks),
while its events wait in order. What cannot succeed by waiting (a 4xx answer,
a command that ran and failed or outlived its timeout) is counted as failed
and named once, until the sink works again. Events still waiting at exit, or
when the program is killed, are in the :class:`~greeter.outbox.Outbox` and
are sent first at the next start. Credentials in a URL are sent to the server
only: what is shown is :func:`redact_url`'s form.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import http.client
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import unicodedata
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from datetime import datetime, timezone
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from greeter.outbox import Outbox
from greeter.report import Trouble, redact_url
from greeter.presence import ARRIVED, LEFT



class EventType(StrEnum):
    """What an event tells: the "type" field of its JSON."""

    GREETING = "greeting"  # a known person was greeted
    VISITOR = "visitor"  # an unknown visitor's visit began
    ARRIVED = ARRIVED  # a known person is home (seen after being away)
    LEFT = LEFT  # a known person is away (unseen for --away-after)
    TEST = "test"  # sent by `doctor`

# Events are small (a few hundred bytes): ten thousand are hours of greetings.
QUEUE_SIZE = 10_000
HOOK_TIMEOUT = 10.0
WEBHOOK_TIMEOUT = 5.0
# The pauses between tries of a sink that is away, for every sink.
RETRY_MIN_DELAY, RETRY_MAX_DELAY = 0.5, 30.0
# A Retry-After longer than this is taken as this: the events would wait for hours.
RETRY_AFTER_MAX = 300.0
# How long a sink may be away before it is named (shorter outages are not news).
AWAY_WARNING_AFTER = 1.0
MQTT_KEEPALIVE = 30
# Seconds an acknowledged publish may take before the worker moves on
# (paho keeps sending an unacknowledged QoS 1 message after a reconnect).
MQTT_ACK_TIMEOUT = 5.0
TOPIC_PREFIX = "facenet"
DISCOVERY_PREFIX = "homeassistant"
# How long "visitor at the door" stays on after the last visit event.
VISITOR_ON_SECONDS = 60
DEVICE = {"identifiers": ["facenet"], "name": "facenet door greeter", "manufacturer": "facenet"}


@dataclass(frozen=True)
class Event:
    """One greeting, new visit, arrival or departure, as sent out.

    ``type`` is "greeting" (``name`` is who was greeted), "visitor"
    (``visitor`` is the visitors-list id), "arrived" or "left" (``name`` turned
    home or away; ``last_seen``: when they were last seen, UTC ISO 8601); ``distance`` is the L2 distance to
    the nearest known person (None when nobody is known); ``time`` UTC ISO
    8601; ``frame`` the source's frame number; ``source`` the source as
    described to the user; ``crop`` the saved photo of the visitor (None for a
    greeting).
    """

    type: EventType
    time: str
    frame: int
    source: str
    name: str | None = None
    visitor: int | None = None
    distance: float | None = None
    crop: str | None = None
    last_seen: str | None = None

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


class EventsError(ValueError):
    """An --mqtt or --webhook value that cannot be used; the message says why."""


class Retry(RuntimeError):
    """A send that failed for a reason that passes (the server away, busy or slow):
    the event waits and is sent again. ``after``: the seconds the server asked
    for (``Retry-After``), if it did."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class Backoff:
    """The growing pauses between tries of a sink that is away: RETRY_MIN_DELAY,
    doubling up to RETRY_MAX_DELAY; a server's own ``Retry-After`` is honoured
    (up to RETRY_AFTER_MAX). MQTT's reconnects use the same two bounds."""

    def __init__(self, first: float = RETRY_MIN_DELAY, most: float = RETRY_MAX_DELAY) -> None:
        self.first, self.most = first, most
        self._next = first

    def pause(self, asked: float | None = None) -> float:
        """Seconds to wait before the next try; each call without success doubles it."""
        pause = self._next
        self._next = min(self._next * 2, self.most)
        if asked is not None:
            pause = max(pause, min(asked, RETRY_AFTER_MAX))
        return pause

    def reset(self) -> None:
        """The sink works again: the next outage starts from the first pause."""
        self._next = self.first


class Sink(Protocol):
    """Where events go; each sink is used from one worker thread.

    ``send`` raises :class:`Retry` when waiting may help (the event is tried
    again), RuntimeError when it cannot (the event is counted as failed).
    """

    description: str  # what the user is shown: "webhook http://host/path", credentials hidden
    problem: str  # why it is away now, for the warning ("" when that is not known)
    presence: bool  # whether it takes arrived and left events

    def ready(self, wait: float) -> bool:
        """Whether an event can be sent now; may wait up to ``wait`` seconds to find out."""

    def send(self, event: Event) -> None:
        """Send one event, or raise Retry or RuntimeError."""

    def close(self) -> None:
        """Let go of connections; called once, after the last send."""


# -- sinks: each sends one event at a time, on its worker's thread ----------

class CommandSink:
    """Runs ``command`` (a shell command line) once per event, with the event in
    FACENET_* environment variables and as JSON on its stdin.

    Greetings and visits only: a hook written before arrivals and departures
    existed (one that opens the door) must not run twice for one person.
    """

    presence = False

    def __init__(self, command: str, timeout: float = HOOK_TIMEOUT) -> None:
        self.command = command
        self.timeout = timeout
        self.description = f"command {command!r}"
        self.problem = ""

    def ready(self, wait: float) -> bool:
        return True

    def send(self, event: Event) -> None:
        """Run the command; raises RuntimeError when it fails or is killed at the timeout
        (it ran: running it again could do twice what it did once)."""
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

    presence = True

    def __init__(self, url: str, timeout: float = WEBHOOK_TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EventsError(f"--webhook {redact_url(url)}: give an http:// or https:// URL")
        self.description = f"webhook {redact_url(url)}"
        self.problem = ""
        self.timeout = timeout
        self._url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        self._headers = {"Content-Type": "application/json", "User-Agent": "facenet"}
        if parts.username is not None:
            secret = f"{parts.username}:{parts.password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(secret).decode()

    def ready(self, wait: float) -> bool:
        return True

    def send(self, event: Event) -> None:
        """POST the event. Raises Retry when the server cannot be reached, times out,
        breaks the connection or answers 408, 429 or 5xx; RuntimeError for any other
        error answer (a wrong URL or password: waiting will not help)."""
        request = urllib.request.Request(self._url, event.to_json().encode(), self._headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            answer = f"the server answered {error.code} {error.reason}"
            if error.code in (408, 429) or error.code >= 500:
                raise Retry(answer, retry_after(error.headers.get("Retry-After"))) from None
            raise RuntimeError(answer) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", None) or error or type(error).__name__
            raise Retry(f"cannot be reached ({reason})") from None

    def close(self) -> None:
        pass


def retry_after(value: str | None) -> float | None:
    """The seconds an HTTP ``Retry-After`` header asks for (a number or a date); None if
    absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


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
    device = DEVICE
    availability = f"{TOPIC_PREFIX}/status"
    greeted = {"name": "Last greeted", "unique_id": "facenet_last_greeted",
               "state_topic": f"{TOPIC_PREFIX}/{EventType.GREETING}",
               "value_template": "{{ value_json.name }}",
               "json_attributes_topic": f"{TOPIC_PREFIX}/{EventType.GREETING}",
               "availability_topic": availability, "icon": "mdi:account-check", "device": device}
    visitor = {"name": "Visitor at the door", "unique_id": "facenet_visitor",
               "state_topic": f"{TOPIC_PREFIX}/{EventType.VISITOR}", "value_template": "ON",
               "off_delay": VISITOR_ON_SECONDS, "device_class": "occupancy",
               "json_attributes_topic": f"{TOPIC_PREFIX}/{EventType.VISITOR}",
               "availability_topic": availability, "device": device}
    return [(f"{DISCOVERY_PREFIX}/sensor/facenet/last_greeted/config", json.dumps(greeted)),
            (f"{DISCOVERY_PREFIX}/binary_sensor/facenet/visitor/config", json.dumps(visitor))]


def person_id(name: str) -> str:
    """A name as an MQTT topic level and Home Assistant id: ASCII letters, digits and
    _, made unique by a hash of the name (so that "王小明" and "José" have one too)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    letters = "".join(char if char.isalnum() else "_" for char in plain).strip("_")
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{letters}_{digest}" if letters else digest


def presence_discovery(name: str) -> tuple[str, str]:
    """Home Assistant discovery of ``name``'s presence: a device tracker, home or
    not_home, with the last sighting as attributes; (topic, retained JSON)."""
    ident = person_id(name)
    config = {"name": name, "unique_id": f"facenet_presence_{ident}",
              "state_topic": f"{TOPIC_PREFIX}/presence/{ident}",
              "payload_home": "home", "payload_not_home": "not_home",
              "json_attributes_topic": f"{TOPIC_PREFIX}/presence/{ident}/attributes",
              "availability_topic": f"{TOPIC_PREFIX}/status", "icon": "mdi:account",
              "device": DEVICE}
    return f"{DISCOVERY_PREFIX}/device_tracker/facenet/{ident}/config", json.dumps(config)


class MqttSink:
    """Publishes each event to ``facenet/<type>`` (QoS 1) on the broker of an
    ``mqtt://`` URL. paho-mqtt's network thread connects in the background and
    reconnects with growing pauses; on each connection the discovery messages
    and ``facenet/status`` "online" are published (retained), and the broker
    publishes "offline" when the greeter goes away.

    :meth:`people` names the known people: each gets a presence entity, and an
    entity left on the broker for someone no longer known is removed.
    """

    presence = True

    def __init__(self, url: str) -> None:
        import paho.mqtt.client as mqtt
        host, port, user, password = parse_mqtt_url(url)
        self.description = f"MQTT broker {redact_url(url)}"
        self.problem = ""  # why the last connection attempt failed, for the warning
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._people: dict[str, str] | None = None  # id: name, once known
        self._entities: set[str] = set()  # the ids with a discovery config on the broker
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                   client_id=f"facenet-{os.getpid()}")
        if user is not None:
            self._client.username_pw_set(user, password)
        self._client.will_set(f"{TOPIC_PREFIX}/status", "offline", qos=1, retain=True)
        self._client.reconnect_delay_set(RETRY_MIN_DELAY, RETRY_MAX_DELAY)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_message = self._on_message
        self._client.connect_async(host, port, MQTT_KEEPALIVE)
        self._client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.problem = f"the broker refused the connection: {reason_code}"
            return
        for topic, payload in discovery_messages():
            client.publish(topic, payload, qos=1, retain=True)
        # The entities kept on the broker come back as retained messages: those of
        # people no longer known are removed when they arrive (see _on_message).
        client.subscribe(f"{DISCOVERY_PREFIX}/device_tracker/facenet/+/config", qos=1)
        self._publish_people()
        client.publish(f"{TOPIC_PREFIX}/status", "online", qos=1, retain=True)
        self.problem = ""
        self._connected.set()

    def _on_message(self, client, userdata, message) -> None:
        if not message.payload:
            return  # a removal (ours, echoed back)
        ident = message.topic.split("/")[-2]
        with self._lock:
            self._entities.add(ident)
            # Our own configs come back too: only someone no longer known needs work.
            stale = self._people is not None and ident not in self._people
        if stale:
            self._publish_people()

    def people(self, names: list[str]) -> None:
        """The people known now: publish their presence entities, remove the others'."""
        with self._lock:
            self._people = {person_id(name): name for name in names}
        self._publish_people()

    def _publish_people(self) -> None:
        with self._lock:
            if self._people is None:
                return  # not known yet: nothing is removed before the photos are read
            stale, self._entities = self._entities - set(self._people), set(self._people)
            people = dict(self._people)
        for name in people.values():
            self._client.publish(*presence_discovery(name), qos=1, retain=True)
        for ident in stale:
            self._client.publish(f"{DISCOVERY_PREFIX}/device_tracker/facenet/{ident}/config",
                                 "", qos=1, retain=True)
            for topic in (f"{TOPIC_PREFIX}/presence/{ident}",
                          f"{TOPIC_PREFIX}/presence/{ident}/attributes"):
                self._client.publish(topic, "", qos=1, retain=True)

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
        if event.type in (ARRIVED, LEFT):
            ident = person_id(event.name)
            attributes = {"last_seen": event.last_seen, "source": event.source}
            self._client.publish(f"{TOPIC_PREFIX}/presence/{ident}/attributes",
                                 json.dumps(attributes, ensure_ascii=False), qos=1, retain=True)
            self._client.publish(f"{TOPIC_PREFIX}/presence/{ident}",
                                 "home" if event.type == ARRIVED else "not_home", qos=1,
                                 retain=True)
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
    """Feeds one sink from a bounded queue on a thread of its own, in order: an event
    that must wait stays first in line until the sink takes it."""

    def __init__(self, sink: Sink, size: int, on_warning: Callable[[str], None],
                 outbox: Outbox | None) -> None:
        self.sink = sink
        self.sent = self.dropped = self.failed = 0
        self._queue: deque[tuple[int | None, Event]] = deque()
        self._size = size
        self._on_warning = on_warning
        self._outbox = outbox
        self._backoff = Backoff()
        self._warned_full = False
        self._trouble = Trouble(on_warning)
        self._away_since: float | None = None
        self._busy = self._closing = False
        self._deadline = math.inf
        self._changed = threading.Condition()
        if outbox is not None:
            for ident, fields in outbox.waiting(sink.description):
                self._queue.append((ident, Event(**fields)))
        self._thread = threading.Thread(target=self._run, name=f"events {sink.description}",
                                        daemon=True)
        self._thread.start()

    def put(self, event: Event) -> None:
        ident = None if self._outbox is None else \
            self._outbox.add(self.sink.description, json.loads(event.to_json()))
        with self._changed:
            if len(self._queue) >= self._size:
                self._finish(self._queue.popleft()[0])
                self.dropped += 1
                if not self._warned_full:
                    self._warned_full = True
                    self._on_warning(
                        f"warning: events for the {self.sink.description} are coming faster "
                        f"than they leave ({self._size} waiting): the oldest are dropped")
            self._queue.append((ident, event))
            self._changed.notify()

    def _finish(self, ident: int | None) -> None:
        if self._outbox is not None and ident is not None:
            self._outbox.done(ident)

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` (less if closing ends sooner); False once it is time to stop."""
        with self._changed:
            end = min(time.monotonic() + seconds, self._deadline)
            while time.monotonic() < end:
                self._changed.wait(end - time.monotonic())
            return time.monotonic() < self._deadline

    def _away(self, problem: str) -> None:
        """The sink cannot take events now: named once it has been away a while."""
        now = time.monotonic()
        if self._away_since is None:
            self._away_since = now
        if now - self._away_since >= AWAY_WARNING_AFTER:
            self._trouble.failed(f"warning: {self.sink.description}: "
                                 f"{problem or 'not reachable'}; events wait and are sent "
                                 "once it is back")

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._closing:
                    self._changed.wait()
                if not self._queue or time.monotonic() >= self._deadline:
                    return
                item = self._queue[0]
                self._busy = True
            ident, event = item
            try:
                if not self.sink.ready(0.2):
                    self._away(self.sink.problem)
                    continue
                self.sink.send(event)
            except Retry as error:
                self._away(str(error))
                if not self._pause(self._backoff.pause(error.after)):
                    return
                continue
            except Exception as error:  # a sink must never take the greeter down
                self.failed += 1
                self._trouble.failed(f"warning: {self.sink.description} failed: {error}; "
                                     "later failures are not reported until it works again")
            else:
                self.sent += 1
                self._trouble.worked(f"{self.sink.description} works again")
                self._away_since = None
                self._backoff.reset()
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()
            with self._changed:
                if self._queue and self._queue[0] is item:  # not dropped from a full queue
                    self._queue.popleft()
            self._finish(ident)

    def close(self, wait: float) -> int:
        """Send what is queued for up to ``wait`` seconds, then stop; the number left
        unsent (kept in the outbox, if there is one)."""
        with self._changed:
            self._closing = True
            self._deadline = time.monotonic() + wait
            self._changed.notify_all()
            while (self._queue or self._busy) and time.monotonic() < self._deadline:
                self._changed.wait(self._deadline - time.monotonic())
            self._deadline = 0.0  # the worker stops at its next look
            self._changed.notify_all()
        self._thread.join(HOOK_TIMEOUT)
        self.sink.close()
        with self._changed:
            return len(self._queue)


class EventSender:
    """Sends events to the sinks given, never blocking the caller.

    ``on_warning`` receives the warnings (a full queue, a failing sink), each
    once until the sink works again. With an ``outbox``, every event is kept
    there until it is sent, and the events that waited there since the last
    run go out first, with their own times.
    """

    def __init__(self, sinks: list[Sink], queue_size: int = QUEUE_SIZE,
                 on_warning: Callable[[str], None] = print,
                 outbox: Outbox | None = None) -> None:
        self._outbox = outbox
        if outbox is not None:
            for sink, count in outbox.others({sink.description for sink in sinks}).items():
                on_warning(f"{count} events wait for the {sink}, which is not set this time: "
                           "they stay in the outbox until it is")
        self._workers = [_Worker(sink, queue_size, on_warning, outbox) for sink in sinks]

    def emit(self, event: Event) -> None:
        """Queue ``event`` for every sink that takes it; returns at once."""
        for worker in self._workers:
            if worker.sink.presence or event.type not in (ARRIVED, LEFT):
                worker.put(event)

    def people(self, names: list[str]) -> None:
        """Tell the sinks that keep an entity per person (MQTT) who is known now."""
        for worker in self._workers:
            if isinstance(worker.sink, MqttSink):
                worker.sink.people(names)

    def states(self) -> list[dict]:
        """Each sink's counts and whether it is away now, for a status page."""
        return [{"destination": worker.sink.description, "sent": worker.sent,
                 "failed": worker.failed, "dropped": worker.dropped,
                 "waiting": len(worker._queue), "working": not worker._trouble.failing}
                for worker in self._workers]

    def close(self, wait: float = 3.0) -> str:
        """Send what is queued (up to ``wait`` seconds), stop; a one-line summary."""
        parts = []
        kept = "kept for the next start" if self._outbox is not None else "unsent at exit"
        for worker in self._workers:
            left = worker.close(wait)
            lost = worker.dropped + worker.failed + left
            parts.append(f"{worker.sent} sent to the {worker.sink.description}"
                         + (f" ({lost} not: {worker.dropped} dropped, {worker.failed} "
                            f"failed, {left} {kept})" if lost else ""))
        if self._outbox is not None:
            self._outbox.close()
        return "events: " + "; ".join(parts)


@dataclass(frozen=True)
class EventSettings:
    """Where each event goes: a command run per event (killed after ``hook_timeout``
    seconds), a webhook URL, an MQTT broker URL; None: not there."""

    on_greet: str | None = None
    # Out of the repr, which a traceback may show: the URLs may hold passwords.
    webhook: str | None = field(default=None, repr=False)
    mqtt: str | None = field(default=None, repr=False)
    hook_timeout: float = 10.0

    def __post_init__(self) -> None:
        """Raise EventsError, saying why, when an option cannot be used."""
        if self.on_greet is not None and not self.on_greet.strip():
            raise EventsError("--on-greet: give a command")
        if not self.hook_timeout > 0:
            raise EventsError("--hook-timeout: give the seconds to wait, more than 0")
        if self.webhook:
            WebhookSink(self.webhook)
        if self.mqtt:
            parse_mqtt_url(self.mqtt)

    @property
    def wanted(self) -> bool:
        """Whether any event is to be sent at all."""
        return bool(self.on_greet or self.webhook or self.mqtt)


def make_sinks(settings: EventSettings) -> list[Sink]:
    """The sinks ``settings`` ask for (the MQTT one starts connecting at once)."""
    sinks: list[Sink] = []
    if settings.on_greet:
        sinks.append(CommandSink(settings.on_greet, settings.hook_timeout))
    if settings.webhook:
        sinks.append(WebhookSink(settings.webhook))
    if settings.mqtt:
        sinks.append(MqttSink(settings.mqtt))
    return sinks
