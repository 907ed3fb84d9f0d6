"""`python facenet.py doctor`: the real checks on a real video, photos and weights."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from greeter.cli import main
from videos import write_video


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


@pytest.fixture
def door(faces, tmp_path):
    """images/ with two people and a broken photo, and a short video."""
    images = tmp_path / "images"
    (images / "kit").mkdir(parents=True)
    shutil.copy(faces / "people/obama/obama_1.jpg", images / "barack.jpg")
    shutil.copy(faces / "people/obama/obama_2.jpg", images / "barack_2.jpg")
    shutil.copy(faces / "people/kit_harington/kit_harington_1.jpg", images / "kit" / "a.jpg")
    (images / "broken.jpg").write_bytes(b"not a photo at all")
    video = tmp_path / "door.avi"
    write_video(video, [(faces / "people/obama/obama_4.jpg", 1)])
    return images, video


def test_reports_everything_and_passes(door, capsys):
    images, video = door
    assert main(["doctor", "--source", str(video), "--images", str(images)]) == 0
    out = capsys.readouterr().out
    for text in ("Python 3.", "TensorFlow ", "OpenCV ", "numpy ", "pyttsx3"):
        assert text in out
    assert re.search(r"^ok +source: video .*door\.avi gives frames: 640x360, 10 fps", out,
                     re.MULTILINE), out
    assert re.search(r"^ok +weights: .*dlib\+sface network loaded in [\d.]+ s", out, re.MULTILINE)
    assert "2 people with 3 photos" in out and "Barack (2), Kit (1)" in out
    assert re.search(r"^warn +images: skipped .*broken\.jpg: .+", out, re.MULTILINE)
    # Speech works or is a warning, never a failure: the greeter runs without it.
    assert re.search(r"^(ok|warn) +speech: ", out, re.MULTILINE)
    assert "FAIL" not in out and "doctor: the greeter can run" in out


def test_missing_camera_fails(door, capsys):
    images, _ = door
    assert main(["doctor", "--source", "97", "--images", str(images), "--no-speech"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^FAIL +source: camera 97 cannot be opened", out, re.MULTILINE), out
    # The report goes on past the failure.
    assert "Barack (2)" in out and "problem the greeter cannot run with" in out


def test_openface_without_weights_fails_naming_the_files(door, tmp_path, capsys):
    images, video = door
    empty = tmp_path / "openface"
    empty.mkdir()
    assert main(["doctor", "--source", str(video), "--images", str(images), "--no-speech",
                 "--model", "openface", "--weights", str(empty)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^FAIL +weights: the openface network cannot load: .*"
                     r"conv1_w\.csv, conv1_b\.csv", out, re.MULTILINE), out
    assert "not checked (the network did not load)" in out


def test_images_not_a_folder_fails(door, tmp_path, capsys):
    _, video = door
    assert main(["doctor", "--source", str(video), "--images", str(video), "--no-speech",
                 "--quiet"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^FAIL +images: .* is not a folder", out, re.MULTILINE)
    assert not re.search(r"^ok ", out, re.MULTILINE)  # --quiet: problems only


def test_events_are_checked_with_a_test_event_and_credentials_never_shown(tmp_path, capsys):
    from brokers import Mosquitto, Subscriber, WebhookServer, free_port
    from greeter.cli import parse_args
    from greeter.doctor import Report, check_events
    broker, webhook = Mosquitto(tmp_path / "broker"), WebhookServer()
    subscriber = Subscriber(broker.port, ("facenet/test",))
    hook_out = tmp_path / "hook.json"
    try:
        args = parse_args(["doctor", "--mqtt", broker.url.replace("//", "//door:s3cret@"),
                           "--webhook", webhook.url.replace("//", "//door:s3cret@"),
                           "--on-greet", f"cat > {hook_out}"])
        report = Report()
        check_events(report, args.typed_settings.events)
        out = capsys.readouterr().out
        assert len(re.findall(r"^ok +events: the .* took a test event in [\d.]+ s$", out,
                              re.MULTILINE)) == 3, out
        assert "MQTT broker mqtt://***:***@127.0.0.1" in out and "s3cret" not in out
        assert "door" not in out
        assert webhook.received[0][0]["type"] == "test"
        assert '"type": "test"' in hook_out.read_text()
        assert subscriber.wait_for(lambda: subscriber.events("facenet/test"))
    finally:
        subscriber.close()
        broker.stop()
        webhook.close()
    # Nothing listening, a hook that fails: warnings naming each, and still no password.
    closed = free_port()
    args = parse_args(["doctor", "--mqtt", f"mqtt://door:s3cret@127.0.0.1:{closed}",
                       "--webhook", f"http://door:s3cret@127.0.0.1:{closed}/hook",
                       "--on-greet", "exit 3"])
    report = Report()
    check_events(report, args.typed_settings.events)
    out = capsys.readouterr().out
    assert report.counts["warn"] == 3 and not report.failed, out
    assert re.search(r"^warn +events: the MQTT broker mqtt://\*\*\*:\*\*\*@127\.0\.0\.1:\d+ "
                     r"cannot be reached", out, re.MULTILINE), out
    assert re.search(r"^warn +events: the webhook .* failed a test event: cannot be reached",
                     out, re.MULTILINE), out
    assert re.search(r"^warn +events: the command 'exit 3' failed a test event: exit status 3",
                     out, re.MULTILINE), out
    assert "s3cret" not in out and "door" not in out


def test_visitors_folder_is_reported(tmp_path, monkeypatch, capsys):
    from greeter.doctor import Report, check_visitors
    monkeypatch.setenv("FACENET_VISITORS_DIR", str(tmp_path / "visitors"))
    check_visitors(Report())
    out = capsys.readouterr().out
    assert re.search(rf"^ok +visitors: 0 visitors \(0 visits\) kept in {tmp_path}/visitors$",
                     out, re.MULTILINE), out
    assert not (tmp_path / "visitors").exists(), "the doctor created the folder"


def test_events_waiting_in_an_outbox_are_counted_by_destination(tmp_path, monkeypatch, capsys):
    from greeter.doctor import Report, check_outbox
    from greeter.events import Event
    from greeter.instance import outbox_path
    from greeter.outbox import Outbox
    monkeypatch.setenv("FACENET_DATA_DIR", str(tmp_path / "data"))
    check_outbox(Report())
    assert re.search(r"^ok +events: none wait to be sent$", capsys.readouterr().out, re.M)
    outbox = Outbox(outbox_path(str(tmp_path / "images"), "0"))
    event = Event("greeting", "2026-11-30T10:00:00.000+00:00", 1, "camera 0", name="Alice")
    for sink in ("webhook http://ha/hook", "webhook http://ha/hook", "MQTT broker mqtt://b"):
        outbox.add(sink, json.loads(event.to_json()))
    outbox.close()
    report = Report()
    check_outbox(report)
    out = capsys.readouterr().out
    assert re.search(r"^warn +events: 2 events wait for the webhook http://ha/hook; sent first",
                     out, re.M), out
    assert re.search(r"^warn +events: 1 event waits for the MQTT broker mqtt://b;", out, re.M)
    assert report.counts["warn"] == 2
