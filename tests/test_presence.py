"""Who is home: arrivals and departures, as events through a real Mosquitto broker, and
Home Assistant's presence entity per known person, on a real video of a real face."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from brokers import Mosquitto, Subscriber
from conftest import REPO, greeted
from greeter.events import person_id
from greeter.presence import ARRIVED, LEFT, Presence, PresenceSettings, Sighting
from videos import mary_jane_at_the_door


def seen(presence: Presence, names: list[str], time: float) -> list[tuple[str, str]]:
    return [(change.kind, change.name)
            for change in presence.update(names, Sighting(time, f"t{time}", "door"))]


def test_a_person_arrives_once_and_leaves_after_away_after_unseen():
    presence = Presence(PresenceSettings(away_after=60))
    assert seen(presence, ["Alice"], 0) == [(ARRIVED, "Alice")]
    assert seen(presence, ["Alice", "Bob"], 30) == [(ARRIVED, "Bob")]
    assert seen(presence, [], 89) == []               # Alice last seen at 30
    assert seen(presence, ["Bob"], 90) == [(LEFT, "Alice")]
    assert presence.last_seen["Alice"].utc == "t30" and presence.home == {"Bob"}
    assert seen(presence, ["Alice"], 100) == [(ARRIVED, "Alice")]
    presence.keep_only(["Bob"])                       # her photos were removed
    assert presence.home == {"Bob"} and "Alice" not in presence.last_seen


def test_person_ids_are_plain_and_distinct():
    ids = {person_id(name) for name in ("Mary Jane", "王小明", "李华", "José María")}
    assert len(ids) == 4 and all(ident.isascii() for ident in ids)
    assert person_id("Mary Jane").startswith("mary_jane_")
    assert person_id("José María").startswith("jose_maria_")


@pytest.fixture
def broker(tmp_path):
    broker = Mosquitto(tmp_path / "broker")
    yield broker
    broker.stop()


def retained(subscriber: Subscriber, topic: str) -> list[bytes]:
    with subscriber._lock:
        return [payload for name, payload, _ in subscriber.messages if name == topic]


def test_seen_then_unseen_for_away_after_is_arrived_then_left_and_home_then_not_home(
        faces, tmp_path, broker):
    # She is at the door for 3 s, then the doorway is empty for 6 s: away after 3 s.
    images, video = mary_jane_at_the_door(faces, tmp_path, empty_after=6)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    env.pop("DISPLAY", None)
    subscriber = Subscriber(broker.port)

    def run() -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, str(REPO / "facenet.py"), "--source", str(video), "--images",
             str(images), "--headless", "--no-speech", "--no-visitors", "--mqtt", broker.url,
             "--away-after", "0.05"], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    try:
        result = run()
        assert greeted(result.stdout) == ["Mary Jane"], result.stdout + result.stderr
        arrived = subscriber.events("facenet/arrived")
        assert subscriber.wait_for(lambda: subscriber.events("facenet/left"))
        left = subscriber.events("facenet/left")
        assert [e["name"] for e in arrived] == ["Mary Jane"] == [e["name"] for e in left]
        # Seen from about frame 10 to 40 at 10 fps; away 3 s (30 frames) after the last.
        assert 8 <= arrived[0]["frame"] <= 20 and 60 <= left[0]["frame"] <= 80, (arrived, left)
        assert left[0]["last_seen"] < left[0]["time"]
        mary = person_id("Mary Jane")
        config = json.loads(retained(subscriber, f"homeassistant/device_tracker/facenet/"
                                                 f"{mary}/config")[0])
        assert config["name"] == "Mary Jane"
        assert config["state_topic"] == f"facenet/presence/{mary}"
        assert retained(subscriber, f"facenet/presence/{mary}") == [b"home", b"not_home"]
        attributes = json.loads(retained(subscriber, f"facenet/presence/{mary}/attributes")[-1])
        assert attributes["last_seen"] == left[0]["last_seen"]
        barack = f"homeassistant/device_tracker/facenet/{person_id('Barack')}/config"
        assert json.loads(retained(subscriber, barack)[0])["name"] == "Barack"

        # His photos removed: at the next start, his entity goes from Home Assistant.
        (images / "barack.jpg").unlink()
        run()
        assert subscriber.wait_for(lambda: retained(subscriber, barack)[-1] == b"")
        subscriber.close()  # a newcomer takes its client id
        later = Subscriber(broker.port, topics=("homeassistant/device_tracker/#",))
        try:
            assert later.wait_for(lambda: later.messages, 5)
            assert {topic for topic, _, _ in later.messages} == \
                {f"homeassistant/device_tracker/facenet/{mary}/config"}
        finally:
            later.close()
    finally:
        subscriber.close()
