"""The real program on real videos: visitors kept, grouped and enrolled, and every greeting
and visit sent to a real Mosquitto broker, a local web server and a hook command."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import cv2
import pytest

from brokers import Mosquitto, Subscriber, WebhookServer, free_port
from conftest import REPO, greeted
from greeter.models import FUSED_THRESHOLD
from videos import write_video

TALKING = (REPO.parent / "shared" / "videos" / "talking").resolve()


@pytest.fixture(scope="module")
def talking() -> Path:
    if not TALKING.is_dir():
        pytest.skip(f"real videos not found at {TALKING} (../shared/videos beside the repository)")
    return TALKING


def environment(tmp_path: Path, visitors: Path) -> dict[str, str]:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUNBUFFERED="1",
               FACENET_VISITORS_DIR=str(visitors))
    env.pop("DISPLAY", None)
    return env


def run(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(REPO / "facenet.py"), *args], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def enrolled_from_one_recording(talking: Path, tmp_path: Path) -> tuple[Path, Path]:
    """images/ with Ocasio-Cortez from a frame of one recording (she is greeted in the
    other), and a visitors folder not made yet: (images, visitors)."""
    images, visitors = tmp_path / "images", tmp_path / "visitors"
    images.mkdir()
    capture = cv2.VideoCapture(str(talking / "retalking_face3.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 60)
    ok, frame = capture.read()
    capture.release()
    assert ok and cv2.imwrite(str(images / "Alexandria.jpg"), frame)
    return images, visitors


@pytest.fixture
def broker(tmp_path):
    broker = Mosquitto(tmp_path / "broker")
    yield broker
    broker.stop()


def test_a_stranger_is_kept_enrolled_from_the_visitors_and_then_greeted_with_events_out(
        talking, tmp_path, broker):
    images, visitors = tmp_path / "images", tmp_path / "visitors"
    images.mkdir()
    env = environment(tmp_path, visitors)
    hook_log = tmp_path / "hook.txt"
    hook = f"env | grep ^FACENET_ | sort >> {hook_log}; echo --- >> {hook_log}"
    subscriber = Subscriber(broker.port)
    webhook = WebhookServer()
    events = ["--mqtt", broker.url, "--webhook", webhook.url, "--on-greet", hook]
    try:
        # Nobody is known: she is a visitor.
        first = run(tmp_path, env, "--source", str(talking / "retalking_face3.mp4"),
                    "--images", str(images), "--headless", "--no-speech", *events)
        assert greeted(first.stdout) == []
        assert re.findall(r"visitor (\d+) at the door \(visit (\d+)\)", first.stdout) == \
            [("1", "1")], first.stdout + first.stderr
        assert "events: 1 sent to the command" in first.stdout
        listing = run(tmp_path, env, "visitors").stdout
        rows = [line.split() for line in listing.splitlines()[1:]]
        assert len(rows) == 1 and rows[0][:2] == ["1", "1"], listing
        crop = rows[0][-1]
        assert Path(crop).is_file() and Path(crop).parent.parent == visitors

        assert subscriber.wait_for(lambda: subscriber.events("facenet/visitor"))
        visit = subscriber.events("facenet/visitor")[0]
        assert visit["visitor"] == 1 and visit["crop"] == crop and visit["name"] is None
        assert visit["source"].endswith("retalking_face3.mp4") and visit["frame"] >= 2
        assert datetime.fromisoformat(visit["time"]).utcoffset().total_seconds() == 0
        assert [body for body, _ in webhook.received] == [visit]
        assert "FACENET_TYPE=visitor\nFACENET_VISITOR=1\n" in hook_log.read_text()
        discovered = [topic for topic, _, retained in subscriber.messages
                      if topic.startswith("homeassistant/")]
        assert "homeassistant/sensor/facenet/last_greeted/config" in discovered
        assert "homeassistant/binary_sensor/facenet/visitor/config" in discovered

        # Enrolled from that visit, she is greeted by name in another recording.
        enrolled = run(tmp_path, env, "enroll", "Alexandria", "--from-visitor", "1",
                       "--images", str(images))
        assert (images / "Alexandria.jpg").is_file(), enrolled.stdout
        second = run(tmp_path, env, "--source", str(talking / "WDA_AlexandriaOcasioCortez_000.mp4"),
                     "--images", str(images), "--headless", "--no-speech", *events)
        assert greeted(second.stdout) == ["Alexandria"], \
            second.stdout + second.stderr
        assert "visitor" not in second.stdout.replace("events:", "")
        assert subscriber.wait_for(lambda: subscriber.events("facenet/greeting"))
        greeting = subscriber.events("facenet/greeting")[0]
        assert greeting["name"] == "Alexandria" and greeting["distance"] < FUSED_THRESHOLD
        assert greeting["crop"] is None
        # She was a visitor; in the second run she arrives (who is home), then is greeted.
        assert [body["type"] for body, _ in webhook.received] == \
            ["visitor", "arrived", "greeting"]
        assert "FACENET_NAME=Alexandria\n" in hook_log.read_text()
    finally:
        subscriber.close()
        webhook.close()


def test_strangers_who_come_back_are_one_visitor_each(faces, tmp_path):
    people = faces / "people"
    video = tmp_path / "door.avi"
    write_video(video, [(people / "clapton/clapton_1.jpg", 2), (None, 1),
                        (people / "biden/biden_2.jpg", 2), (None, 1),
                        (people / "clapton/clapton_2.jpg", 2), (None, 1)])
    images, visitors = tmp_path / "images", tmp_path / "visitors"
    images.mkdir()
    env = environment(tmp_path, visitors)
    result = run(tmp_path, env, "--source", str(video), "--images", str(images), "--headless",
                 "--no-speech", "--visit-gap", "0.01")  # 0.6 s of the video's time
    assert re.findall(r"visitor (\d+) at the door \(visit (\d+)\)", result.stdout) == \
        [("1", "1"), ("2", "1"), ("1", "2")], result.stdout + result.stderr
    page = tmp_path / "visitors.html"
    listing = run(tmp_path, env, "visitors", "--html", str(page)).stdout
    assert [line.split()[:2] for line in listing.splitlines()[1:3]] == [["1", "2"], ["2", "1"]]
    assert page.read_text().count("<img ") == 3


def test_a_broker_restart_mid_run_loses_no_greeting_and_never_stalls_the_frames(
        talking, tmp_path, broker):
    images, visitors = enrolled_from_one_recording(talking, tmp_path)
    env = environment(tmp_path, visitors)
    subscriber = Subscriber(broker.port)
    greetings = lambda: subscriber.events("facenet/greeting")  # noqa: E731
    # --cooldown 0: a greeting on (nearly) every frame, so the stream of events shows
    # whether the frame loop ever waited.
    errors = tmp_path / "stderr.txt"
    process = subprocess.Popen(
        [sys.executable, str(REPO / "facenet.py"), "--source",
         str(talking / "WDA_AlexandriaOcasioCortez_000.mp4"), "--loop", "--images", str(images),
         "--headless", "--no-speech", "--cooldown", "0", "--no-visitors", "--mqtt", broker.url],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=errors.open("w"), text=True)
    try:
        assert subscriber.wait_for(lambda: len(greetings()) >= 10, 120), "no greetings came"
        broker.stop()
        down = time.time()
        # Down for 3 s at least, and until the greeter has said so (however loaded the
        # machine, it notices within a second or two of its next greeting).
        said_so = lambda: "events wait and are sent once it is back" in errors.read_text()  # noqa: E731
        assert subscriber.wait_for(said_so, 60), "the greeter never said the broker was away"
        time.sleep(max(0.0, down + 3 - time.time()))
        broker.start()
        up = time.time()
        # Wait for greetings made after the broker came back, then stop the greeter.
        assert subscriber.wait_for(
            lambda: any(datetime.fromisoformat(g["time"]).timestamp() > up + 1
                        for g in greetings()), 60)
    finally:
        process.send_signal(signal.SIGTERM)
        out = process.communicate(timeout=60)[0]
    err = errors.read_text()
    assert process.returncode == 0, out + err
    said = greeted(out).count("Alexandria")
    summary = re.search(r"^processed (\d+) frames in ([\d.]+) s \(([\d.]+) fps\)$", out, re.M)
    assert summary, out
    # Besides the greetings: her arrival (she is home all along, so one).
    assert subscriber.wait_for(lambda: subscriber.events("facenet/arrived"), 20)
    presence = len({(e["type"], e["time"]) for topic in ("facenet/arrived", "facenet/left")
                    for e in subscriber.events(topic)})
    assert presence == 1, subscriber.events("facenet/left")
    assert re.search(rf"^events: {said + presence} sent to the MQTT broker {broker.url}$", out,
                     re.M), out
    assert subscriber.wait_for(lambda: len(greetings()) >= said, 20)
    received = greetings()
    frames = [g["frame"] for g in received]
    # QoS 1 is at least once: the message in flight when the broker stopped may come twice.
    assert len(set(frames)) == said, f"{said} greetings made, {len(set(frames))} received"
    assert len(frames) - len(set(frames)) <= 2, "more than the message in flight came twice"
    # The frame loop went on at its pace while the broker was away: greetings kept being
    # made (by the event times) and frames kept being processed (by their numbers).
    times = [datetime.fromisoformat(g["time"]).timestamp() for g in received]
    during = [(t, f) for t, f in zip(times, frames) if down <= t <= up]
    assert len(during) >= 2, "no greeting was made while the broker was down"
    gaps = [b - a for a, b in zip(times, times[1:]) if a >= down - 1 and b <= up + 1]
    assert max(gaps) < 1.5, f"the greeter paused {max(gaps):.1f} s while the broker was away"
    outage_fps = (during[-1][1] - during[0][1]) / max(during[-1][0] - during[0][0], 1e-9)
    print(f"{said} greetings, {len(frames)} received; broker down {up - down:.1f} s, "
          f"{len(during)} greetings meanwhile at {outage_fps:.1f} frames/s, longest pause "
          f"{max(gaps):.2f} s; {summary.group(0)}")
    assert outage_fps > 0.5 * float(summary.group(3)), (outage_fps, summary.group(0))
    assert not visitors.exists(), "--no-visitors wrote something"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_greetings_made_while_the_webhook_is_down_reach_it_after_a_restart(
        talking, tmp_path, stop):
    images, visitors = enrolled_from_one_recording(talking, tmp_path)
    env = environment(tmp_path, visitors)
    port = free_port()
    options = ["--source", str(talking / "WDA_AlexandriaOcasioCortez_000.mp4"), "--images",
               str(images), "--headless", "--no-speech", "--no-visitors", "--cooldown", "0.3",
               "--webhook", f"http://127.0.0.1:{port}/hook"]
    out = tmp_path / "first.txt"
    with out.open("w") as file:
        first = subprocess.Popen([sys.executable, str(REPO / "facenet.py"), *options, "--loop"],
                                 cwd=tmp_path, env=env, stdout=file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while greeted(out.read_text()).count("Alexandria") < 3 and time.monotonic() < deadline:
            assert first.poll() is None, out.read_text()
            time.sleep(0.1)
    finally:
        first.send_signal(stop)
        first.wait(60)
    made = greeted(out.read_text()).count("Alexandria")
    assert made >= 3, out.read_text()
    if stop == signal.SIGTERM:
        # The greetings and her arrival wait.
        assert re.search(rf"0 sent to the webhook .*{made + 1} kept for the next start",
                         out.read_text())
    # Up again, but answering 503 for its first tries, as a proxy before a restarting server.
    server = WebhookServer(port, lambda body: 503 if len(server.posts) <= 2 else 204)
    try:
        second = run(tmp_path, env, *options)
        assert " not:" not in second.stdout, second.stdout
    finally:
        server.close()
    # Each run: her arrival first, then the greetings.
    types = [body["type"] for body, _ in server.received]
    assert types.count("arrived") == 2 and types[0] == "arrived", types
    bodies = [body for body, _ in server.received if body["type"] == "greeting"]
    later = greeted(second.stdout).count("Alexandria")
    assert len(bodies) == made + later, (made, later, [b["frame"] for b in bodies])
    before = bodies[:made]
    assert len({(b["time"], b["frame"]) for b in before}) == made, "a greeting came twice"
    first_run_times = sorted(b["time"] for b in before)
    assert all(t < b["time"] for t in first_run_times for b in bodies[made:]), \
        "the first run's greetings did not go first"
