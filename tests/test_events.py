"""Events out: a real hook command, a real HTTP server and a real Mosquitto broker."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from brokers import Mosquitto, Subscriber, WebhookServer, free_port

from greeter.report import redact_url
from greeter.events import (
    CommandSink,
    Event,
    EventSender,
    MqttSink,
    WebhookSink,
    retry_after,
)
from greeter.outbox import Outbox, read_waiting


def greeting(number: int, name: str = "Alice") -> Event:
    return Event("greeting", f"2026-11-30T10:00:{number % 60:02d}.000+00:00", number,
                 "video door.mp4", name=name, distance=0.31)


def test_event_json_and_environment_hold_every_field():
    event = Event("visitor", "2026-11-30T10:00:00.000+00:00", 7, "camera 0", visitor=3,
                  distance=float("inf"), crop="/data/visitors/3/1.jpg")
    values = json.loads(event.to_json())
    assert values == {"type": "visitor", "time": "2026-11-30T10:00:00.000+00:00", "frame": 7,
                      "source": "camera 0", "name": None, "visitor": 3, "distance": None,
                      "crop": "/data/visitors/3/1.jpg", "last_seen": None}
    environment = event.environment()
    assert environment["FACENET_TYPE"] == "visitor" and environment["FACENET_VISITOR"] == "3"
    assert environment["FACENET_NAME"] == "" and environment["FACENET_FRAME"] == "7"


def test_credentials_are_hidden_in_urls():
    assert redact_url("mqtt://bob:s3cret@broker:1884") == "mqtt://***:***@broker:1884"
    assert redact_url("https://token@hooks.example/x?y=1") == "https://***@hooks.example/x?y=1"
    assert redact_url("mqtt://broker") == "mqtt://broker"


def test_hook_command_gets_the_event_in_its_environment_and_on_stdin(tmp_path):
    out = tmp_path / "env.txt"
    command = f"env > {out}.part && cat > {out}.json && mv {out}.part {out}"
    warnings: list[str] = []
    sender = EventSender([CommandSink(command)], on_warning=warnings.append)
    sender.emit(greeting(5, "Mary Jane"))
    summary = sender.close(wait=10)
    environment = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert environment["FACENET_NAME"] == "Mary Jane"
    assert environment["FACENET_TYPE"] == "greeting"
    assert environment["FACENET_FRAME"] == "5"
    assert environment["FACENET_DISTANCE"] == "0.31"
    assert json.loads(out.with_suffix(".txt.json").read_text())["name"] == "Mary Jane"
    assert warnings == [] and "1 sent to the command" in summary


def test_a_hanging_hook_is_killed_at_its_timeout_and_named_once(tmp_path):
    pids = tmp_path / "pids"
    command = f"echo $$ >> {pids}; exec sleep 30"
    warnings: list[str] = []
    sender = EventSender([CommandSink(command, timeout=0.5)], on_warning=warnings.append)
    started = time.monotonic()
    for number in range(3):
        sender.emit(greeting(number))
    assert time.monotonic() - started < 0.1, "emit waited for the hook"
    summary = sender.close(wait=5)
    assert time.monotonic() - started < 4
    failures = [w for w in warnings if "failed" in w]
    assert len(failures) == 1, warnings
    assert command in failures[0] and "killed" in failures[0]
    for pid in pids.read_text().split():
        assert not os.path.exists(f"/proc/{pid}"), f"the hook's process {pid} still runs"
    assert "3 failed" in summary


def test_a_failing_hook_is_named_once_and_then_again_when_it_works(tmp_path):
    switch = tmp_path / "works"
    warnings: list[str] = []
    sender = EventSender([CommandSink(f"test -e {switch}")], on_warning=warnings.append)
    sender.emit(greeting(1))
    sender.emit(greeting(2))
    time.sleep(1.0)
    switch.touch()
    sender.emit(greeting(3))
    summary = sender.close(wait=5)
    assert len(warnings) == 2, warnings
    assert "exit status 1" in warnings[0] and "works again" in warnings[1]
    assert "1 sent" in summary and "2 failed" in summary


def test_webhook_posts_each_event_with_basic_auth_and_never_shows_the_password():
    server = WebhookServer()
    try:
        url = server.url.replace("http://", "http://door:s3cret@")
        sink = WebhookSink(url)
        assert "s3cret" not in sink.description and "door" not in sink.description
        sender = EventSender([sink])
        for number in range(3):
            sender.emit(greeting(number))
        sender.close(wait=10)
    finally:
        server.close()
    assert [body["frame"] for body, _ in server.received] == [0, 1, 2]
    assert all(auth == "Basic ZG9vcjpzM2NyZXQ=" for _, auth in server.received)


def test_webhook_down_costs_one_warning_without_the_password():
    server = WebhookServer()
    server.close()  # nothing listens on its port any more
    warnings: list[str] = []
    sender = EventSender([WebhookSink(server.url.replace("//", "//me:pw@"))],
                         on_warning=warnings.append)
    for number in range(3):
        sender.emit(greeting(number))
    summary = sender.close(wait=2)
    assert len(warnings) == 1 and "cannot be reached" in warnings[0], warnings
    assert "events wait" in warnings[0]
    assert "pw" not in warnings[0].replace("***", "") and "me:" not in warnings[0]
    assert "0 failed, 3 unsent at exit" in summary


def test_a_webhook_down_then_answering_503_then_up_gets_every_event_once_in_order():
    port = free_port()
    warnings: list[str] = []
    sender = EventSender([WebhookSink(f"http://127.0.0.1:{port}/hook")],
                         on_warning=warnings.append)
    for number in range(5):
        sender.emit(greeting(number))
    # Connection refused meanwhile: the tries at 0 and 0.5 s. Up before the third try
    # (1.5 s, later on a loaded machine, never sooner): up at 1.5 s raced it, and a
    # refused third try put the success past the close's wait, at 31.5 s.
    time.sleep(1.0)
    # Then up, but busy: the first three tries are answered 503, as a proxy in front of
    # a restarting server does.
    server = WebhookServer(port, lambda body: (503, {"Retry-After": "1"})
                           if len(server.posts) <= 3 else 204)
    try:
        sender.emit(greeting(5))
        summary = sender.close(wait=60)  # the pauses double: 0.5, 1, 2, 4, 8 s ...
    finally:
        server.close()
    assert [body["frame"] for body, _ in server.received] == [0, 1, 2, 3, 4, 5], \
        (summary, warnings, len(server.posts))
    assert [post["frame"] for post in server.posts[:4]] == [0, 0, 0, 0]
    assert "6 sent" in summary and " not:" not in summary, summary
    assert len(warnings) == 2, warnings
    assert "events wait" in warnings[0] and "works again" in warnings[1]


def test_a_slow_or_broken_webhook_is_tried_again_and_a_4xx_is_named_once_as_failed():
    answers = iter(["slow", None, 204, 404, 404])

    def answer(body):
        reply = next(answers)
        if reply == "slow":
            time.sleep(1.5)  # past the sink's timeout: the greeter gave up waiting
            return 500
        return reply

    server = WebhookServer(answer=answer)
    warnings: list[str] = []
    try:
        sender = EventSender([WebhookSink(server.url, timeout=0.5)], on_warning=warnings.append)
        sender.emit(greeting(1))  # times out, then the connection breaks, then it goes
        deadline = time.monotonic() + 15
        while not server.received and time.monotonic() < deadline:
            time.sleep(0.05)
        sender.emit(greeting(2))  # 404: a wrong URL; waiting will not mend it
        sender.emit(greeting(3))
        summary = sender.close(wait=10)
    finally:
        server.close()
    assert [body["frame"] for body, _ in server.received] == [1]
    assert [post["frame"] for post in server.posts] == [1, 1, 1, 2, 3]
    assert "1 sent" in summary and "2 failed" in summary, summary
    failures = [w for w in warnings if "failed" in w]
    assert len(failures) == 1 and "404" in failures[0], warnings


def test_retry_after_reads_seconds_and_dates():
    assert retry_after("7") == 7.0 and retry_after(None) is None and retry_after("soon") is None
    later = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert 25 < retry_after(format_datetime(later, usegmt=True)) <= 30


def test_events_waiting_at_exit_are_kept_and_sent_first_at_the_next_start(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    journal = tmp_path / "outbox.jsonl"
    first = EventSender([WebhookSink(url)], outbox=Outbox(str(journal)))
    for number in range(3):
        first.emit(greeting(number))
    summary = first.close(wait=0.5)
    assert "3 kept for the next start" in summary, summary
    assert journal.stat().st_mode & 0o777 == 0o600
    server = WebhookServer(port)
    try:
        second = EventSender([WebhookSink(url)], outbox=Outbox(str(journal)))
        second.emit(greeting(3))
        assert "4 sent" in second.close(wait=10)
    finally:
        server.close()
    received = [body for body, _ in server.received]
    assert [body["frame"] for body in received] == [0, 1, 2, 3]
    assert received[0]["time"] == greeting(0).time, "the event lost its own time"
    assert journal.read_text() == "", "sent events are still in the outbox"


def test_an_outbox_cut_by_a_kill_is_read_and_keeps_the_newest_past_its_limit(tmp_path):
    journal = tmp_path / "outbox.jsonl"
    lines = [json.dumps({"id": n, "sink": "webhook x", "event": json.loads(greeting(n).to_json())})
             for n in range(6)]
    lines.append(json.dumps({"done": 0}))
    journal.write_text("\n".join(lines) + "\n" + lines[0][:25])  # killed mid-line
    warnings: list[str] = []
    outbox = Outbox(str(journal), on_warning=warnings.append, limit=3)
    assert [event["frame"] for _, event in outbox.waiting("webhook x")] == [3, 4, 5]
    assert len(warnings) == 1 and "2 events waiting for the webhook x were dropped" in warnings[0]
    ident = outbox.add("webhook x", json.loads(greeting(9).to_json()))
    outbox.done(ident)
    outbox.close()
    again, unreadable = read_waiting(str(journal))
    assert [event["frame"] for _, event in again.values()] == [3, 4, 5] and unreadable == 0


@pytest.fixture
def broker(tmp_path):
    broker = Mosquitto(tmp_path / "broker")
    yield broker
    broker.stop()


def test_mqtt_events_and_home_assistant_discovery_reach_a_real_broker(broker):
    subscriber = Subscriber(broker.port)
    sender = EventSender([MqttSink(broker.url)])
    try:
        sender.emit(greeting(1))
        sender.emit(Event("visitor", "2026-11-30T10:00:00.000+00:00", 9, "camera 0",
                          visitor=2, crop="/x/2.jpg"))
        assert subscriber.wait_for(lambda: subscriber.events("facenet/visitor"))
        assert subscriber.events("facenet/greeting")[0]["name"] == "Alice"
        assert subscriber.events("facenet/visitor")[0]["visitor"] == 2
        sensor = subscriber.events("homeassistant/sensor/facenet/last_greeted/config")[0]
        assert sensor["state_topic"] == "facenet/greeting"
        assert sensor["value_template"] == "{{ value_json.name }}"
        binary = subscriber.events("homeassistant/binary_sensor/facenet/visitor/config")[0]
        assert binary["state_topic"] == "facenet/visitor" and binary["off_delay"] > 0
    finally:
        sender.close(wait=5)
        subscriber.close()


def test_events_wait_for_a_broker_that_is_down_and_a_full_queue_drops_the_oldest(broker):
    subscriber = Subscriber(broker.port)  # its session survives the broker's restart
    broker.stop()
    warnings: list[str] = []
    sender = EventSender([MqttSink(broker.url.replace("//", "//user:hunter2@"))],
                         queue_size=5, on_warning=warnings.append)
    started = time.monotonic()
    for number in range(20):
        sender.emit(greeting(number))
    assert time.monotonic() - started < 0.1, "emit waited for the broker"
    time.sleep(2.5)  # paho retries with growing pauses meanwhile
    broker.start()
    try:
        assert subscriber.wait_for(lambda: len(subscriber.events("facenet/greeting")) >= 5, 40)
        time.sleep(0.5)
        frames = [event["frame"] for event in subscriber.events("facenet/greeting")]
        assert frames == [15, 16, 17, 18, 19]
    finally:
        summary = sender.close(wait=5)
        subscriber.close()
    dropping = [w for w in warnings if "dropped" in w]
    assert len(dropping) == 1, warnings
    assert any("wait and are sent once it is back" in w for w in warnings), warnings
    assert not any("hunter2" in w or "user:" in w for w in warnings + [summary])
    assert "5 sent" in summary and "15 dropped" in summary


def test_unusable_event_options_are_refused_at_once_without_showing_the_password(capsys):
    from greeter.cli import parse_args
    for options in (["--mqtt", "http://bob:s3cret@broker"], ["--webhook", "ftp://bob:s3cret@x"],
                    ["--mqtt", "mqtt://bob:s3cret@broker:port"], ["--hook-timeout", "0"]):
        with pytest.raises(SystemExit) as stopped:
            parse_args(options)
        assert stopped.value.code == 2
        err = capsys.readouterr().err
        assert "error: --" in err and "s3cret" not in err and "bob" not in err, err
