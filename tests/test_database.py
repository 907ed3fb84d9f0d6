"""images/ as the database of people: names, cached encodings, live changes."""

from __future__ import annotations

import os
import shutil
import stat

import numpy as np
import pytest

from greeter.database import PhotoLibrary, person_name, scan_images
from greeter.match import match_faces


@pytest.mark.parametrize("relative, name", [
    ("alice.jpg", "Alice"), ("alice_2.jpg", "Alice"), ("alice_12.png", "Alice"),
    ("mary_jane.jpg", "Mary Jane"), ("jean-luc_3.jpeg", "Jean Luc"),
    ("DeShawn.jpg", "DeShawn"), ("bob/holiday.jpg", "Bob"), ("bob/x/y.png", "Bob"),
    ("zoë.jpg", "Zoë"), ("李小龙.jpg", "李小龙"), ("r2_d2.jpg", "R2 D2"),
])
def test_person_names(relative, name):
    assert person_name("images", os.path.join("images", *relative.split("/"))) == name


class CountingLibrary(PhotoLibrary):
    """The real library, counting how many photos it had to encode."""

    encoded = 0

    def _encoding(self, photo):
        known = self.cache.digests.get(photo) in self.cache.entries
        self.encoded += not known
        return super()._encoding(photo)


@pytest.fixture
def images(faces, tmp_path):
    folder = tmp_path / "images"
    (folder / "barack").mkdir(parents=True)
    shutil.copy(faces / "people/obama/obama_1.jpg", folder / "barack" / "one.jpg")
    shutil.copy(faces / "people/obama/obama_2.jpg", folder / "barack" / "two.jpg")
    shutil.copy(faces / "people/kit_harington/kit_harington_1.jpg", folder / "kit.jpg")
    shutil.copy(faces / "people/kit_harington/kit_harington_2.jpg", folder / "kit_2.jpg")
    (folder / ".DS_Store").write_bytes(b"\0\0")
    (folder / "readme.txt").write_text("my notes")
    return folder


def snapshot(folder):
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*") if p.is_file()}


def test_library_names_people_and_caches_encodings(encoder, faces, images, tmp_path):
    before = snapshot(images)
    messages = []
    cache = tmp_path / "cache"
    library = CountingLibrary(str(images), encoder, str(cache), messages.append)
    assert library.refresh()
    assert library.photo_counts == {"Barack": 2, "Kit": 2}
    assert library.encoded == 4
    assert any("readme.txt" in m and "not a photo" in m for m in messages)
    assert not any("DS_Store" in m for m in messages)
    probe = encoder.encode_photo(str(faces / "people/obama/obama_4.jpg")).encoding
    assert match_faces(library.gallery, probe[None], encoder.threshold)[0].name == "Barack"

    cache_files = list(cache.iterdir())
    assert len(cache_files) == 1
    assert stat.S_IMODE(cache_files[0].stat().st_mode) == 0o600
    assert not library.refresh()  # nothing changed

    restarted = CountingLibrary(str(images), encoder, str(cache), messages.append)
    restarted.refresh()
    assert restarted.encoded == 0
    np.testing.assert_array_equal(restarted.gallery.encodings, library.gallery.encodings)

    # A changed photo is encoded afresh; a removed one is gone; a new one is added.
    shutil.copy(faces / "people/rose_leslie/rose_leslie_1.jpg", images / "kit_2.jpg")
    os.remove(images / "barack" / "two.jpg")
    shutil.copy(faces / "people/lennon/lennon_1.jpg", images / "john_lennon.jpg")
    assert restarted.refresh()
    assert restarted.encoded == 2
    assert restarted.photo_counts == {"Barack": 1, "John Lennon": 1, "Kit": 2}
    rose = encoder.encode_photo(str(faces / "people/rose_leslie/rose_leslie_2.jpg")).encoding
    assert match_faces(restarted.gallery, rose[None], encoder.threshold)[0].name == "Kit"
    # The user's own files were never touched.
    after = snapshot(images)
    for path, content in before.items():
        if path.name not in ("kit_2.jpg", "two.jpg"):
            assert after[path] == content


def test_corrupt_cache_is_rebuilt(encoder, images, tmp_path):
    cache = tmp_path / "cache"
    PhotoLibrary(str(images), encoder, str(cache), print).refresh()
    cache_file = next(cache.iterdir())
    cache_file.write_bytes(cache_file.read_bytes()[:300])
    messages = []
    library = CountingLibrary(str(images), encoder, str(cache), messages.append)
    library.refresh()
    assert library.encoded == 4 and library.photo_counts == {"Barack": 2, "Kit": 2}
    assert any("rebuilding" in m for m in messages)
    assert np.load(cache_file)["encodings"].shape == (4, encoder.width)


def test_scan_skips_hidden_and_system_files(tmp_path):
    (tmp_path / ".hidden.jpg").write_bytes(b"x")
    (tmp_path / "Thumbs.db").write_bytes(b"x")
    (tmp_path / "a.JPG").write_bytes(b"x")
    photos, notes = scan_images(str(tmp_path))
    assert [os.path.basename(p.path) for p in photos] == ["a.JPG"] and notes == []
