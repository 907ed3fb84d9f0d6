"""Visitors: unknown faces of real photos grouped by person, kept privately, purged, listed
and enrolled."""

from __future__ import annotations

import itertools
import os
import stat

import cv2
import numpy as np
import pytest

from greeter.crops import crop_quality
from greeter.enroll import enroll_from_visitor
from greeter.frames import Frame
from greeter.match import UNKNOWN, Match
from greeter.recognise import Face
from greeter.settings import RecognitionSettings
from greeter.visitors import visitors_command
from greeter.visits import VisitorBook, VisitWatcher


class Clock:
    """Wall-clock time the test moves on by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def photo(faces, person: str, number: int) -> np.ndarray:
    folder = faces / "people" / person
    path = next(folder.glob(f"{person}_{number}.*"))
    return cv2.imread(str(path), cv2.IMREAD_COLOR)


def face_of(encoder, image: np.ndarray, track: int) -> Face:
    """The face of a photo as the greeter passes it on: box, no match, encoding, track."""
    box, _, note = encoder.photo_face(image)
    assert box is not None, note
    encoding = encoder.encode_photo_image(image, "photo").encoding
    return Face(tuple(int(v) for v in box), Match(UNKNOWN, float("inf")), encoding, track)


@pytest.fixture
def show(encoder):
    """Show a photo of someone nobody knows to the watcher, who then leaves."""
    tracks = itertools.count()

    def show(watcher: VisitWatcher, image: np.ndarray, clock: Clock, at: float):
        clock.now = at
        frame = Frame(image, 0, at, still=True)
        started = watcher.update([face_of(encoder, image, next(tracks))], frame)
        watcher.update([], frame)  # the face has left
        return started
    return show


def test_one_stranger_who_comes_three_times_is_one_visitor_with_three_visits(
        tmp_path, faces, encoder, show):
    folder = tmp_path / "visitors"
    clock = Clock()
    start = clock.now
    watcher = VisitWatcher(VisitorBook(str(folder)), encoder.threshold, visit_gap=600,
                           clock=clock)
    assert not folder.exists(), "nothing is written before a visitor comes"
    first = show(watcher, photo(faces, "obama", 1), clock, start)
    assert [visit.visitor for visit in first] == [1]
    # Seen again within the gap: the same visit, no new event.
    assert show(watcher, photo(faces, "obama", 2), clock, start + 300) == []
    # Later visits of the same man join his group; another person is another visitor.
    assert [v.visitor for v in show(watcher, photo(faces, "obama", 3), clock, start + 2000)] == [1]
    assert [v.visitor for v in show(watcher, photo(faces, "biden", 1), clock, start + 2001)] == [2]
    assert [v.visitor for v in show(watcher, photo(faces, "obama", 1), clock, start + 9000)] == [1]
    watcher.close()

    book = VisitorBook(str(folder))  # read back from disk
    assert [(v.id, len(v.visits)) for v in book.visitors] == [(1, 3), (2, 1)]
    obama = book.find(1)
    assert obama.visits[0].end == start + 300, "the visit lasted until he was seen last"
    assert obama.first_seen == start and obama.last_seen == start + 9000
    for visitor in book.visitors:
        for visit in visitor.visits:
            path = book.path(visit)
            assert cv2.imread(path) is not None
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(folder / "visitors.json").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder / "1").st_mode) == 0o700


def test_purge_deletes_old_visits_their_photos_and_empty_visitors(tmp_path, faces, encoder, show):
    folder = tmp_path / "visitors"
    clock = Clock()
    day = 86400
    start = clock.now
    watcher = VisitWatcher(VisitorBook(str(folder)), encoder.threshold, clock=clock)
    show(watcher, photo(faces, "biden", 1), clock, start)
    show(watcher, photo(faces, "obama", 1), clock, start + 1)
    show(watcher, photo(faces, "obama", 2), clock, start + 5 * day)
    watcher.close()
    book = VisitorBook(str(folder))
    old_photos = [book.path(visitor.visits[0]) for visitor in book.visitors]
    # A restart eight days later keeps the last week only.
    clock.now = start + 8 * day
    watcher = VisitWatcher(VisitorBook(str(folder)), encoder.threshold, keep_days=7,
                           clock=clock)
    assert [(v.id, len(v.visits)) for v in VisitorBook(str(folder)).visitors] == [(2, 1)]
    assert not any(os.path.exists(path) for path in old_photos)
    assert not (folder / "1").exists()
    # And once a day while it runs.
    clock.now = start + 13 * day
    watcher.update([], Frame(np.zeros((10, 10, 3), np.uint8), 0, clock.now, still=False))
    assert VisitorBook(str(folder)).visitors == []
    assert not (folder / "2").exists()


def test_crop_quality_prefers_large_sharp_frontal_faces(faces, encoder):
    image = photo(faces, "obama", 1)
    box = face_of(encoder, image, 0).box
    good = crop_quality(image, box)
    blurred = cv2.GaussianBlur(image, (0, 0), 4)
    assert crop_quality(blurred, box) < 0.5 * good
    half = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    assert crop_quality(half, tuple(v // 2 for v in box)) < good
    # A face turned aside: the left half of the face put on both sides is symmetric,
    # a face with its halves from different people is not.
    x, y, w, h = box
    other = photo(faces, "biden", 1)
    other_box = face_of(encoder, other, 1).box
    other_face = cv2.resize(other[other_box[1]:other_box[1] + other_box[3],
                                  other_box[0]:other_box[0] + other_box[2]], (w, h))
    mixed = image.copy()
    mixed[y:y + h, x + w // 2:x + w] = other_face[:, w // 2:]
    assert crop_quality(mixed, box) < good


def test_visitors_list_page_and_enroll_never_overwrite(tmp_path, faces, encoder, show,
                                                       monkeypatch, capsys):
    folder = tmp_path / "visitors"
    monkeypatch.setenv("FACENET_VISITORS_DIR", str(folder))
    clock = Clock()
    watcher = VisitWatcher(VisitorBook(str(folder)), encoder.threshold, visit_gap=60, clock=clock)
    for number, at in ((1, 0), (2, 100), (3, 200), (1, 300)):
        show(watcher, photo(faces, "obama", number), clock, clock.now + at)
    watcher.close()
    page = tmp_path / "visitors.html"
    assert visitors_command(html_path=str(page)) == 0
    out = capsys.readouterr().out
    row = [line for line in out.splitlines() if line.split()[:2] == ["1", "4"]]
    assert row, out
    assert page.read_text().count("<img ") == 4 and (folder / "1").as_uri() in page.read_text()
    assert stat.S_IMODE(os.stat(page).st_mode) == 0o600

    images = tmp_path / "images"
    images.mkdir()
    (images / "Barack.jpg").write_bytes(b"the user's own photo")
    assert enroll_from_visitor(RecognitionSettings(str(images)), "Barack", 1, encoder) == 0
    assert (images / "Barack.jpg").read_bytes() == b"the user's own photo"
    copied = sorted(path.name for path in images.iterdir())
    assert copied == ["Barack.jpg", "Barack_2.jpg", "Barack_3.jpg", "Barack_4.jpg"]
    assert all(cv2.imread(str(images / name)) is not None for name in copied[1:])
    assert VisitorBook(str(folder)).find(1).enrolled_as == "Barack"
    assert enroll_from_visitor(RecognitionSettings(str(images)), "X", 9, encoder) == 2
    assert "no visitor 9" in capsys.readouterr().err


def test_forget_deletes_one_visitor_with_every_photo(tmp_path, faces, encoder, show,
                                                    monkeypatch, capsys):
    folder = tmp_path / "visitors"
    monkeypatch.setenv("FACENET_VISITORS_DIR", str(folder))
    clock = Clock()
    watcher = VisitWatcher(VisitorBook(str(folder)), encoder.threshold, visit_gap=60, clock=clock)
    show(watcher, photo(faces, "obama", 1), clock, clock.now)
    show(watcher, photo(faces, "obama", 2), clock, clock.now + 1000)
    show(watcher, photo(faces, "biden", 1), clock, clock.now + 1)
    watcher.close()
    assert visitors_command(forget=1) == 0
    assert "deleted visitor 1: 2 visits and their photos" in capsys.readouterr().out
    assert not (folder / "1").exists()
    assert [visitor.id for visitor in VisitorBook(str(folder)).visitors] == [2]
    assert visitors_command(forget=1) == 2
    assert "no visitor 1" in capsys.readouterr().err


def test_enroll_from_visitor_takes_only_sharp_single_frontal_faces(tmp_path, faces, encoder,
                                                                    monkeypatch, capsys):
    """A blurred crop and a crop of two faces are skipped, each with its reason; a
    sharp frontal face is copied (issue 20: a blurred profile holding two
    faces, enrolled, had an old man and a boy greeted as Alice)."""
    folder = tmp_path / "visitors"
    monkeypatch.setenv("FACENET_VISITORS_DIR", str(folder))
    book = VisitorBook(str(folder))
    sharp = photo(faces, "obama", 1)
    two = cv2.imread(str(faces / "scenes" / "obama_and_biden.jpg"))
    encoding = np.zeros(encoder.width, np.float32)
    crops = {"blurred": cv2.GaussianBlur(sharp, (0, 0), 6), "two": two, "sharp": sharp}
    for quality, crop in enumerate(crops.values()):  # the sharp one scores lowest
        book.new_visit(encoding, encoder.threshold, 1_800_000_000.0 + quality, crop,
                       1.0 - quality / 10)
    images = tmp_path / "images"
    images.mkdir()
    assert enroll_from_visitor(RecognitionSettings(str(images)), "Barack", 1, encoder) == 0
    err = capsys.readouterr().err
    assert sorted(path.name for path in images.iterdir()) == ["Barack.jpg"]
    assert "blurred: sharpness" in err and "4 faces in it" in err, err  # 2 behind them
    assert np.array_equal(cv2.imread(str(images / "Barack.jpg")).shape, sharp.shape)
    # Nothing fit: nothing saved, and the way out is said.
    book = VisitorBook(str(folder))
    book.new_visit(encoding + 100, encoder.threshold, 1_800_000_100.0,
                   cv2.GaussianBlur(sharp, (0, 0), 6), 1.0)
    assert enroll_from_visitor(RecognitionSettings(str(images)), "Nobody", 2, encoder) == 1
    assert "nothing was saved" in capsys.readouterr().err
    assert not (images / "Nobody.jpg").exists()


def test_visits_of_another_model_are_never_merged_with(tmp_path, faces, encoder):
    book = VisitorBook(str(tmp_path / "visitors"))
    image = photo(faces, "obama", 1)
    encoding = encoder.encode_photo_image(image, "photo").encoding
    old, _ = book.new_visit(encoding[:128], 0.6, 1_800_000_000.0, image, 1.0)  # --model dlib's
    new, _ = book.new_visit(encoding, encoder.threshold, 1_800_000_100.0, image, 1.0)
    again, _ = book.new_visit(encoding, encoder.threshold, 1_800_000_200.0, image, 1.0)
    assert old.id != new.id and again.id == new.id
    # A part a network did not compute decides nothing: a new visitor, no merge.
    half = encoding.copy()
    half[128:] = np.nan
    assert book.new_visit(half, encoder.threshold, 1_800_000_300.0, image, 1.0)[0].id \
        not in (old.id, new.id)
