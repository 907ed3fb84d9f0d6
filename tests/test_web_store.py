"""What the web page writes: photos renamed and removed in images/ (never over a file),
visitors named, merged and forgotten; the real app in process, on real photos."""

from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
import pytest

from web_app import make_client


def photo(faces, person: str, number: int) -> np.ndarray:
    folder = faces / "people" / person
    return cv2.imread(str(next(folder.glob(f"{person}_{number}.*"))), cv2.IMREAD_COLOR)


@pytest.fixture
def library(faces, encoder, tmp_path):
    from greeter.database import PhotoLibrary
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(faces / "people" / "amy" / "amy_1.png", images / "amy.png")
    shutil.copy(faces / "people" / "amy" / "amy_2.png", images / "amy_2.png")
    (images / "Amy_Farrah.txt").write_text("the user's own notes")
    library = PhotoLibrary(str(images), encoder, cache_dir=str(tmp_path / "cache"))
    library.refresh()
    return library


def post(client, path: str, **data) -> dict:
    token = client.get("/api/status").json()["csrf"]
    answer = client.post(path, data={**data, "csrf": token})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_rename_moves_every_photo_and_never_takes_a_name_in_use(library, encoder, tmp_path):
    client = make_client(library, encoder, tmp_path)
    before = {name: (library.images_dir + "/" + name) for name in ("amy.png", "amy_2.png")}
    contents = {open(path, "rb").read() for path in before.values()}
    result = post(client, "/api/people/rename", name="Amy", new_name="Amy Farrah")
    # "Amy_Farrah" is taken by the user's notes (any extension): the photos go past it.
    assert sorted(os.listdir(library.images_dir)) == ["Amy_Farrah.txt", "Amy_Farrah_2.png",
                                                      "Amy_Farrah_3.png"]
    assert (tmp_path / "images" / "Amy_Farrah.txt").read_text() == "the user's own notes"
    assert {open(path, "rb").read() for path in result["moved"]} == contents
    assert all(os.stat(path).st_mode & 0o777 == 0o600 for path in result["moved"])
    library.refresh()
    assert library.photo_counts == {"Amy Farrah": 2}


def test_remove_keeps_the_photo_aside_where_the_greeter_does_not_look(library, encoder,
                                                                      tmp_path):
    client = make_client(library, encoder, tmp_path)
    people = client.get("/api/people").json()["people"]
    assert people[0]["photos"] == ["amy.png", "amy_2.png"]
    result = post(client, "/api/people/remove-photo", photo="amy_2.png")
    assert result["kept"] == os.path.join(library.images_dir, ".removed", "amy_2.png")
    assert os.path.isfile(result["kept"]) and "delete it there" in result["message"]
    library.refresh()
    assert library.photo_counts == {"Amy": 1}
    answer = client.post("/api/people/remove-photo",
                         data={"photo": "amy_2.png",
                               "csrf": client.get("/api/status").json()["csrf"]})
    assert answer.status_code == 404 and "no photo 'amy_2.png'" in answer.json()["error"]


def visitors_of(faces, encoder, folder, people: list[tuple[str, int]]):
    """A visitors list with one visit for each (person, photo number), a second of
    each other; same people are grouped by their encoding, as the greeter does."""
    from greeter.visits import VisitorBook
    book = VisitorBook(str(folder))
    for second, (person, number) in enumerate(people):
        image = photo(faces, person, number)
        encoding = encoder.encode_photo_image(image, person).encoding
        book.new_visit(encoding, encoder.threshold, 1_800_000_000.0 + second, image, 1.0)
    return book


def test_name_merge_and_forget_visitors(library, encoder, tmp_path, faces):
    book = visitors_of(faces, encoder, tmp_path / "visitors",
                       [("obama", 1), ("biden", 1), ("lennon", 1)])
    assert [visitor.id for visitor in book.visitors] == [1, 2, 3]
    client = make_client(library, encoder, tmp_path, book=book)
    listed = client.get("/api/visitors").json()["visitors"]
    assert [visitor["id"] for visitor in listed] == [3, 2, 1]  # newest first
    assert client.get(listed[0]["crops"][0]).headers["content-type"] == "image/jpeg"

    result = post(client, "/api/visitors/1/name", name="Barack")
    assert result["person"] == "Barack" and result["saved"] == [
        os.path.join(library.images_dir, "Barack.jpg")]
    assert book.find(1).enrolled_as == "Barack"
    library.refresh()
    assert "Barack" in library.photo_counts

    assert post(client, "/api/visitors/3/merge", into="2")["visits"] == 2
    assert [visitor.id for visitor in book.visitors] == [1, 2]
    crops = [book.path(visit) for visit in book.find(2).visits]
    assert post(client, "/api/visitors/2/forget")["deleted"] == 2
    assert [visitor.id for visitor in book.visitors] == [1]
    assert not any(os.path.exists(path) for path in crops)
    from greeter.visits import VisitorBook
    assert [visitor.id for visitor in VisitorBook(book.folder).visitors] == [1]  # saved
    gone = client.post("/api/visitors/2/forget",
                       data={"csrf": client.get("/api/status").json()["csrf"]})
    assert gone.status_code == 404 and "no visitor 2" in gone.json()["error"]


def test_a_visitor_forgotten_while_in_view_leaves_no_photo_behind(library, encoder, tmp_path,
                                                                   faces):
    from greeter.frames import Frame
    from greeter.match import UNKNOWN, Match
    from greeter.recognise import Face
    from greeter.visits import VisitorBook, VisitWatcher
    book = VisitorBook(str(tmp_path / "visitors"))
    watcher = VisitWatcher(book, encoder.threshold, confirm=1)
    image = photo(faces, "obama", 1)
    box, _, _ = encoder.photo_face(image)
    face = Face(tuple(int(v) for v in box), Match(UNKNOWN, float("inf")),
                encoder.encode_photo_image(image, "obama").encoding, 0)
    blurred = cv2.GaussianBlur(image, (0, 0), 4)
    # At the door, still in view:
    assert len(watcher.update([face], Frame(blurred, 0, 0.0, still=False))) == 1
    watcher.update([face], Frame(image, 1, 0.5, still=False))  # a better crop, kept when they leave
    client = make_client(library, encoder, tmp_path, book=book)
    assert post(client, "/api/visitors/1/forget")["deleted"] == 1
    watcher.update([], Frame(image, 2, 1.0, still=False))  # they leave
    watcher.close()
    assert book.visitors == [] and os.listdir(book.folder) == ["visitors.json"]


def test_this_face_in_the_live_picture_is_alice(library, encoder, tmp_path, faces):
    from greeter.frames import Frame
    from greeter.recognise import FaceRecogniser
    from greeter.web.live import LiveView
    live = LiveView()
    image = cv2.imread(str(faces / "people" / "obama" / "obama_2.jpg"))
    found = FaceRecogniser(encoder.detector, encoder, encoder.threshold).recognise(image, library.gallery, True)
    assert len(found) == 1
    live.on_frame(Frame(image, 0, 0.0, True), found)
    client = make_client(library, encoder, tmp_path, live=live)
    track = client.get("/api/status").json()["faces"][0]["track"]
    result = post(client, "/api/people/live", name="Barack", track=str(track))
    assert result["saved"] == [os.path.join(library.images_dir, "Barack.jpg")]
    library.refresh()
    assert library.photo_counts == {"Amy": 2, "Barack": 1}
    token = client.get("/api/status").json()["csrf"]
    gone = client.post("/api/people/live", data={"name": "Barack", "track": "99",
                                                 "csrf": token})
    assert gone.status_code == 409 and "no longer in the live picture" in gone.json()["error"]
