"""`python facenet.py calibrate` on real photos of real people."""

from __future__ import annotations

import io
import re
import shutil

import cv2
import numpy as np
import pytest

from greeter.calibrate import (PLOT_PIXELS, best_threshold, calibrate_command, pair_distances,
                               photos_needed, rates_at)
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
    return calibrate_command(parse_args(["calibrate", *argv]), encoder)


def test_best_threshold_figures_and_plot(faces, encoder, tmp_path, capsys):
    images = tmp_path / "images"
    for person in PEOPLE:  # folders: images/amy/amy_1.png, ...
        shutil.copytree(faces / "people" / person, images / person)
    plot = tmp_path / "out" / "calibration.png"
    plot.parent.mkdir()

    assert calibrate(encoder, "--images", str(images), "--plot", str(plot)) == 0
    out = capsys.readouterr().out
    best = re.search(r"^best threshold ([\d.]+): TAR ([\d.]+), FAR ([\d.]+), "
                     r"balanced accuracy ([\d.]+)$", out, re.MULTILINE)
    current = re.search(r"^current threshold 0\.600: TAR ([\d.]+), FAR ([\d.]+)", out,
                        re.MULTILINE)
    assert best and current, out
    assert 0.4 <= float(best.group(1)) <= 0.75
    assert float(best.group(2)) >= 0.9 and float(best.group(3)) <= 0.1
    assert "36 photos of 8 people" in out and "67 same-person pairs" in out
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
    assert calibrate_command(args) == 2
    assert "inside the images folder" in capsys.readouterr().err


def test_pair_arithmetic():
    encodings = np.zeros((4, 128), np.float32)
    encodings[1, 0], encodings[2, 0], encodings[3, 0] = 0.3, 1.0, 1.2
    pairs = pair_distances(encodings, ["a", "a", "b", "b"])
    assert np.allclose(sorted(pairs.same), [0.2, 0.3])
    assert np.allclose(sorted(pairs.different), [0.7, 0.9, 1.0, 1.2])
    best = best_threshold(pairs.same, pairs.different)
    assert best.threshold == pytest.approx(0.5) and best.balanced == 1.0  # the middle of the gap
    # A photo without a face (NaN) fails its pairs whichever their kind.
    encodings[3] = np.nan
    pairs = pair_distances(encodings, ["a", "a", "b", "b"])
    rates = rates_at(pairs.same, pairs.different, 0.5)
    assert (rates.tar, rates.far) == (0.5, 0.5)  # (2, 3) not accepted; (0, 3), (1, 3) accepted


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
