"""Events out: a real hook command, a real HTTP server and a real Mosquitto broker."""

from __future__ import annotations

import json
import os
import time

import pytest
from brokers import Mosquitto, Subscriber, WebhookServer

from greeter.events import (
    CommandSink,
    Event,
    EventSender,
    MqttSink,
    WebhookSink,
    redact_url,
)


def greeting(number: int, name: str = "Alice") -> Event:
    return Event("greeting", f"2026-11-30T10:00:{number % 60:02d}.000+00:00", number,
                 "video door.mp4", name=name, distance=0.31)


def test_event_json_and_environment_hold_every_field():
    event = Event("visitor", "2026-11-30T10:00:00.000+00:00", 7, "camera 0", visitor=3,
                  distance=float("inf"), crop="/data/visitors/3/1.jpg")
    values = json.loads(event.to_json())
    assert values == {"type": "visitor", "time": "2026-11-30T10:00:00.000+00:00", "frame": 7,
                      "source": "camera 0", "name": None, "visitor": 3, "distance": None,
                      "crop": "/data/visitors/3/1.jpg"}
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
    summary = sender.close(wait=10)
    assert len(warnings) == 1 and "cannot be reached" in warnings[0]
    assert "pw" not in warnings[0].replace("***", "") and "me:" not in warnings[0]
    assert "3 failed" in summary


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
