"""Whom to welcome when, and the greetings log."""

from __future__ import annotations

import csv
import stat

from greeter.greet import GreetingLog, GreetingPolicy


def test_confirm_needs_consecutive_frames():
    policy = GreetingPolicy(confirm=3, cooldown=10)
    assert policy.update(["Alice"], 0.0) == []
    assert policy.update(["Alice"], 0.1) == []
    assert policy.update([], 0.2) == []          # one frame without her breaks the streak
    assert policy.update(["Alice"], 0.3) == []
    assert policy.update(["Alice"], 0.4) == []
    assert policy.update(["Alice"], 0.5) == ["Alice"]
    assert policy.update(["Alice"], 0.6) == []   # cooldown


def test_cooldown_in_source_time_and_groups():
    policy = GreetingPolicy(confirm=1, cooldown=5)
    assert policy.update(["Alice", "Bob"], 0.0) == ["Alice", "Bob"]
    assert policy.update(["Alice", "Bob"], 4.9) == []
    assert policy.update(["Bob"], 5.0) == ["Bob"]
    assert policy.update(["Alice"], 5.1) == ["Alice"]


def test_confirming_frames_must_be_of_one_face():
    """Two faces taken for Alice in turn (a look-alike before she walks in) are
    not three frames of her: the streak starts again with the other face."""
    policy = GreetingPolicy(confirm=3, cooldown=10)
    assert policy.update(["Alice"], 0.0, faces=[7]) == []
    assert policy.update(["Alice"], 0.1, faces=[7]) == []
    assert policy.update(["Alice"], 0.2, faces=[9]) == []   # another face holds the name
    assert policy.update(["Alice"], 0.3, faces=[9]) == []
    assert policy.update(["Alice"], 0.4, faces=[9]) == ["Alice"]


def test_still_photo_confirms_on_its_own():
    policy = GreetingPolicy(confirm=3, cooldown=60)
    assert policy.update(["Carol"], 0.0, still=True) == ["Carol"]


def test_log_appends_with_header_once(tmp_path):
    path = tmp_path / "greetings.csv"
    log = GreetingLog(str(path))
    log.write("2026-01-01T00:00:00.000+00:00", 7, 'Dwayne "The Rock", Jr', 0.41234)
    log.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    log = GreetingLog(str(path))
    log.write("2026-01-01T00:00:01.000+00:00", 9, "Zoë", 0.5)
    rows = list(csv.reader(path.open(encoding="utf-8")))  # flushed: readable while open
    log.close()
    assert rows == [["time", "frame", "name", "distance"],
                    ["2026-01-01T00:00:00.000+00:00", "7", 'Dwayne "The Rock", Jr', "0.4123"],
                    ["2026-01-01T00:00:01.000+00:00", "9", "Zoë", "0.5000"]]
