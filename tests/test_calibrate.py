"""`python facenet.py calibrate` on real photos of real people."""

from __future__ import annotations

import io
import re
import shutil

import cv2
import numpy as np
import pytest

from greeter.calibrate import (PLOT_PIXELS, DoorRates, calibrate_command, door_rates,
                               pair_distances, photos_needed, rates_at)
from greeter.cli import parse_args

# Five photos each of six people, four of Obama and two of Biden (a hard pair).
PEOPLE = ("amy", "bernadette", "howard", "leonard", "penny", "raj", "obama", "biden")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One encoding cache for the module: the photos are encoded once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def shared_cache(cache, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))


def calibrate(encoder, *argv: str) -> int:
    args = parse_args(["calibrate", *argv])
    return calibrate_command(args.typed_settings, args.plot, args.strangers, encoder)


def test_recommends_the_threshold_that_keeps_strangers_out_and_plots(
        faces, encoder, tmp_path, capsys):
    images = tmp_path / "images"
    for person in PEOPLE:  # folders: images/amy/amy_1.png, ...
        shutil.copytree(faces / "people" / person, images / person)
    plot = tmp_path / "out" / "calibration.png"
    plot.parent.mkdir()

    assert calibrate(encoder, "--images", str(images), "--plot", str(plot)) == 0
    out = capsys.readouterr().out
    line = (r"threshold{} ([\d.]+): strangers greeted ([\d.]+), known people greeted right "
            r"([\d.]+), by a wrong name ([\d.]+)$")
    recommended = re.search(line.format(r" \(strangers greeted at most 0\.01\)"), out,
                            re.MULTILINE)
    current = re.search("^current " + line.format(""), out, re.MULTILINE)
    assert recommended and current, out
    assert "36 photos of 8 people" in out and "67 same-person pairs" in out
    assert "36 stranger visits" in out and "36 known visits" in out
    # 36 stranger visits cannot show 1%: the threshold keeps every one of them
    # out, says so, and says what it costs the known people.
    assert float(recommended.group(2)) == 0.0 and float(recommended.group(4)) == 0.0
    assert "cannot measure a rate of 0.01" in out
    assert float(recommended.group(3)) >= 0.9, out
    assert float(current.group(1)) == pytest.approx(encoder.threshold)
    threshold = float(recommended.group(1))
    if threshold > encoder.threshold:  # looser than the default: never without its cost
        assert "is looser than the dlib+sface default" in out, out
    assert re.search(r"^to use it: python facenet.py --threshold [\d.]+$", out, re.MULTILINE) \
        or abs(threshold - encoder.threshold) < 0.01
    assert f"plot saved to {plot}" in out

    image = cv2.imread(str(plot))
    assert image is not None and image.shape == (PLOT_PIXELS[1], PLOT_PIXELS[0], 3)
    assert image.std() > 20  # not a blank canvas
    # Both histograms are drawn: reddish and greenish pixels.
    b, g, r = (image[..., i].astype(int) for i in range(3))
    assert ((r - g > 40) & (r - b > 40)).sum() > 1000
    assert ((g - r > 40) & (g - b > 20)).sum() > 1000
    assert not list(images.rglob("*calibration*"))


def test_too_few_photos_says_how_many_more(faces, encoder, tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    for person in ("amy", "howard", "penny", "raj"):
        shutil.copy(faces / "people" / person / f"{person}_1.png", images / f"{person}.png")
    plot = tmp_path / "calibration.png"

    assert calibrate(encoder, "--images", str(images), "--plot", str(plot)) == 1
    err = capsys.readouterr().err
    assert "needs at least 3 people with two or more photos" in err
    assert "add 3 more photos (a second photo of Amy, Howard, Penny)" in err
    assert not plot.exists()


def test_plot_never_inside_images(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    args = parse_args(["calibrate", "--images", str(tmp_path / "images"),
                       "--plot", str(tmp_path / "images" / "plot.png")])
    assert calibrate_command(args.typed_settings, args.plot) == 2
    assert "inside the images folder" in capsys.readouterr().err


def test_pair_arithmetic():
    encodings = np.zeros((4, 128), np.float32)
    encodings[1, 0], encodings[2, 0], encodings[3, 0] = 0.3, 1.0, 1.2
    pairs = pair_distances(encodings, ["a", "a", "b", "b"])
    assert np.allclose(sorted(pairs.same), [0.2, 0.3])
    assert np.allclose(sorted(pairs.different), [0.7, 0.9, 1.0, 1.2])
    # A photo without a face (NaN) fails its pairs whichever their kind.
    encodings[3] = np.nan
    pairs = pair_distances(encodings, ["a", "a", "b", "b"])
    rates = rates_at(pairs.same, pairs.different, 0.5)
    assert (rates.tar, rates.far) == (0.5, 0.5)  # (2, 3) not accepted; (0, 3), (1, 3) accepted


def test_door_arithmetic():
    # On a line: A at 0 and 0.25, B at 1 and 1.125, C (one photo) at 3.
    encodings = np.zeros((5, 2))
    encodings[:, 0] = [0.0, 0.25, 1.0, 1.125, 3.0]
    door = door_rates(encodings, ["A", "A", "B", "B", "C"])
    # As strangers, each photo's nearest other person.
    assert door.stranger.tolist() == [1.0, 0.75, 0.75, 0.875, 1.875]
    # Known visits: the four photos of people with another photo, each nearest its own.
    assert door.known.tolist() == [0.25, 0.25, 0.125, 0.125] and door.known_is_own.all()
    assert door.at(0.5) == DoorRates(0.5, 0.0, 1.0, 0.0)
    assert door.at(0.8).strangers_greeted == pytest.approx(0.4)
    # The largest threshold under the limit: 0 or 1 of 5 strangers allowed, but the
    # two at 0.75 come together, so it stays under 0.75; 2 allowed: under 0.875.
    for rate, under in ((0.0, 0.75), (0.2, 0.75), (0.4, 0.875)):
        threshold = door.threshold_for(rate)
        assert threshold < under and threshold == pytest.approx(under)
        assert door.at(threshold).strangers_greeted <= rate
    # A photo without a face is never greeted, and no visit's nearest: A's other
    # photo is then nearest to B's.
    encodings[1] = np.nan
    door = door_rates(encodings, ["A", "A", "B", "B", "C"])
    assert door.stranger.tolist() == [1.0, np.inf, 1.0, 1.125, 1.875]
    assert door.known.tolist() == [1.0, np.inf, 0.125, 0.125]
    assert door.at(1.0) == DoorRates(1.0, 0.4, 0.5, 0.25)


def test_photos_needed():
    assert photos_needed({"A": 3, "B": 2, "C": 2}) == (0, [])
    assert photos_needed({"A": 1, "B": 1}) == (4, ["A", "B"])  # 2 seconds + a new person
    assert photos_needed({}) == (6, [])


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Stream(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


def test_progress_lines_in_a_log_and_a_bar_on_a_terminal():
    from greeter.progress import EncodingProgress
    for terminal in (False, True):
        clock, stream = FakeClock(), Stream(terminal)
        progress = EncodingProgress(stream, clock=clock)
        for done in range(1, 501):
            clock.now += 0.0625  # 31.25 s for 500 photos, in steps exact in binary
            progress(done, 500)
        text = stream.getvalue()
        if terminal:
            assert text.endswith("\rencoded 500/500 photos in 31 s\x1b[K\n")
            assert re.search(r"\rencoding photos \[#{15}-{15}\] 25\d/500  about 1\d s left", text)
            assert text.count("\r") < 250  # redrawn ten times a second, not per photo
        else:
            assert "\r" not in text
            assert text.splitlines() == ["encoded 16/500 photos", "encoded 96/500 photos",
                                         "encoded 176/500 photos", "encoded 256/500 photos",
                                         "encoded 336/500 photos", "encoded 416/500 photos",
                                         "encoded 496/500 photos",
                                         "encoded 500/500 photos in 31 s"]
    # From the cache: done within SHOW_AFTER_S, nothing shown.
    clock, stream = FakeClock(), Stream(True)
    progress = EncodingProgress(stream, clock=clock)
    for done in range(1, 501):
        progress(done, 500)
    assert stream.getvalue() == ""
