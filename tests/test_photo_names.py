"""Photos named as people name them: a download's ``?w=620``, no extension at all, a
leading running number; read by their content, with the person's name as meant."""

from __future__ import annotations

import shutil

import pytest

from greeter.database import PhotoLibrary, person_name, scan_images


@pytest.mark.parametrize(("file", "name"), [
    ("0008_jessica.png", "Jessica"),
    ("jessica.png?w=620", "Jessica"),
    ("12-mary-jane.jpg", "Mary Jane"),
    ("mary-jane", "Mary Jane"),
    ("stranger_3.jpg", "Stranger"),
    ("2pac.jpg", "2pac"),          # a number that is part of the name
    ("0008.jpg", "0008"),          # nothing but a number: kept
    ("0001_alice/a.jpg", "Alice"),
])
def test_names_drop_what_tools_and_downloads_add(file, name):
    assert person_name("/images", f"/images/{file}") == name


def test_photos_are_known_by_their_content_not_their_name(encoder, faces, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    people = faces / "people"
    shutil.copy(people / "kit_harington/kit_harington_1.jpg", images / "kit.jpg?w=620")
    shutil.copy(people / "obama/obama_1.jpg", images / "obama")
    shutil.copy(people / "amy/amy_1.png", images / "0008_amy.png")
    shutil.copy(people / "amy/amy_2.png", images / "0009_amy.png")
    (images / "readme").write_text("photos of the family\n")
    photos, notes = scan_images(str(images))
    assert sorted(photo.path.rsplit("/", 1)[1] for photo in photos) == \
        ["0008_amy.png", "0009_amy.png", "kit.jpg?w=620", "obama"]
    assert notes == [f"{images / 'readme'}: not a photo (JPEG, PNG, ...); ignored"]
    messages: list[str] = []
    library = PhotoLibrary(str(images), encoder, str(tmp_path / "cache"), messages.append)
    library.refresh()
    assert library.photo_counts == {"Amy": 2, "Kit": 1, "Obama": 1}, messages
    assert library.skipped == {}
