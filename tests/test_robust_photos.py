"""Issue 7: whatever is in images/, every good photo is used, every bad one is named, none is touched.

The photos are real (../shared/faces), turned into the files people really
drop into images/: phone photos with EXIF rotation, huge and tiny ones,
RGBA, greyscale and 16-bit PNGs, odd file names, links, a damaged JPEG, text
files named .jpg... The checks use the real encoder, in process where that
is enough, and the real program once.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import REPO, greeted
from greeter.database import PhotoLibrary
from greeter.detect import photo_min_face
from greeter.match import match_faces
from greeter.photos import PhotoError, read_photo
from videos import write_video

EXIF_ORIENTATION = 0x0112
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# -- the photos --------------------------------------------------------------

@dataclass
class Zoo:
    """images/ full of awkward files, and what the program must make of each."""

    images: Path
    # file name in images/ -> (person, probe photo of that person)
    good: dict[str, tuple[str, Path]] = field(default_factory=dict)
    # file name in images/ -> words the message about it must contain
    bad: dict[str, tuple[str, ...]] = field(default_factory=dict)
    silent: tuple[str, ...] = (".DS_Store", "Thumbs.db")  # system files: no message
    # file name in images/ -> a note the user must get although the photo is used
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def people(self) -> list[str]:
        """Each person once, in the order of their files' names."""
        return list(dict.fromkeys(person for person, _ in self.good.values()))

    @property
    def probes(self) -> list[tuple[str, Path]]:
        """(person, another photo of them), each person once."""
        return list(dict.fromkeys(self.good.values()))


def save_exif_rotated(upright: np.ndarray, path: Path, orientation: int) -> None:
    """Save ``upright`` (BGR) as a JPEG whose pixels are stored turned, as a phone
    held sideways stores them: only the EXIF orientation tag makes it upright."""
    image = Image.fromarray(cv2.cvtColor(upright, cv2.COLOR_BGR2RGB))
    # Orientation 6: the viewer turns the stored pixels 90 degrees clockwise;
    # so they are stored turned counter-clockwise (PIL's ROTATE_90). 8: the reverse.
    stored = image.transpose({6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
                             [orientation])
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    stored.save(path, "JPEG", quality=92, exif=exif.tobytes())


def phone_sized(image: np.ndarray) -> np.ndarray:
    """``image`` scaled up to a 12-megapixel phone photo's 3024 pixels across."""
    scale = 3024 / image.shape[1]
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)


def on_canvas(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled (aspect kept) to fill ``height``, centred on a width x height
    canvas whose sides continue the photo's edges."""
    scale = height / image.shape[0]
    scaled = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    left = (width - scaled.shape[1]) // 2
    return cv2.copyMakeBorder(scaled, 0, 0, left, width - scaled.shape[1] - left,
                              cv2.BORDER_REPLICATE)


def build_zoo(faces: Path, root: Path, unreadable: bool = False) -> Zoo:
    people = faces / "people"
    zoo = Zoo(root / "images")
    zoo.images.mkdir(parents=True)
    outside = root / "elsewhere"
    outside.mkdir()
    images = zoo.images

    def good(name: str, person: str, probe: str) -> None:
        zoo.good[name] = (person, people / probe)

    # File names with spaces, accents, non-Latin letters and emoji.
    shutil.copy(people / "obama/obama_1.jpg", images / "barack obama.jpg")
    good("barack obama.jpg", "Barack Obama", "obama/obama_4.jpg")
    shutil.copy(people / "clapton/clapton_1.jpg", images / "zoë ñúñez.jpg")
    good("zoë ñúñez.jpg", "Zoë Ñúñez", "clapton/clapton_2.jpg")
    shutil.copy(people / "lennon/lennon_2.jpg", images / "李小龙.jpg")
    good("李小龙.jpg", "李小龙", "lennon/lennon_1.jpg")
    shutil.copy(people / "kit_harington/kit_harington_1.jpg", images / "kit 🎉.jpg")
    good("kit 🎉.jpg", "Kit 🎉", "kit_harington/kit_harington_2.jpg")
    # Two faces in front: the larger (Obama) is used, and the user is told.
    shutil.copy(faces / "scenes/obama_and_biden.jpg", images / "barack obama_2.jpg")
    good("barack obama_2.jpg", "Barack Obama", "obama/obama_4.jpg")
    zoo.notes["barack obama_2.jpg"] = "faces found; used the largest"  # and a third, small, behind
    # Phone photos held sideways, both ways.
    save_exif_rotated(phone_sized(cv2.imread(str(people / "rose_leslie/rose_leslie_1.jpg"))),
                      images / "rose.jpg", 6)
    good("rose.jpg", "Rose", "rose_leslie/rose_leslie_2.jpg")
    save_exif_rotated(phone_sized(cv2.imread(str(people / "biden/biden_1.jpg"))),
                      images / "joe.jpg", 8)
    good("joe.jpg", "Joe", "biden/biden_2.jpg")
    # 8000 x 6000, and 40 x 40.
    big = on_canvas(cv2.imread(str(people / "leonard/leonard_2.png")), 8000, 6000)
    assert cv2.imwrite(str(images / "leonard.jpg"), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    del big
    good("leonard.jpg", "Leonard", "leonard/leonard_4.png")
    tiny = cv2.resize(cv2.imread(str(people / "raj/raj_1.png")), (40, 40),
                      interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(images / "raj.png"), tiny)
    good("raj.png", "Raj", "raj/raj_4.png")
    # RGBA (transparent corners, their colour cleared as editors do), greyscale, 16-bit.
    howard = cv2.imread(str(people / "howard/howard_2.png"))
    alpha = np.zeros(howard.shape[:2], np.uint8)
    cv2.ellipse(alpha, (howard.shape[1] // 2, howard.shape[0] // 2),
                (howard.shape[1] // 2, howard.shape[0] // 2), 0, 0, 360, 255, -1)
    rgba = cv2.cvtColor(howard, cv2.COLOR_BGR2BGRA)
    rgba[alpha == 0] = 0
    rgba[..., 3] = alpha
    cv2.imwrite(str(images / "howard.png"), rgba)
    good("howard.png", "Howard", "howard/howard_4.png")
    grey = cv2.cvtColor(cv2.imread(str(people / "sheldon/sheldon_2.png")), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(images / "sheldon.png"), grey)
    good("sheldon.png", "Sheldon", "sheldon/sheldon_5.png")
    deep = cv2.imread(str(people / "bernadette/bernadette_1.png")).astype(np.uint16) * 257
    cv2.imwrite(str(images / "bernadette.png"), deep)
    good("bernadette.png", "Bernadette", "bernadette/bernadette_4.png")
    # The same name twice: one person, two photos.
    cv2.imwrite(str(images / "amy.jpg"), cv2.imread(str(people / "amy/amy_1.png")))
    shutil.copy(people / "amy/amy_2.png", images / "amy.png")
    good("amy.jpg", "Amy", "amy/amy_3.png")
    good("amy.png", "Amy", "amy/amy_3.png")
    # A link to a photo kept elsewhere.
    shutil.copy(people / "obama/obama_2.jpg", outside / "obama_2.jpg")
    os.symlink(outside / "obama_2.jpg", images / "barack obama_3.jpg")
    good("barack obama_3.jpg", "Barack Obama", "obama/obama_4.jpg")

    # The bad ones.
    jpeg = (people / "obama/obama_2.jpg").read_bytes()
    (images / "broken.jpg").write_bytes(jpeg[:len(jpeg) * 6 // 10])
    zoo.bad["broken.jpg"] = ("JPEG", "damaged or cut short")
    png = (people / "stuart/stuart_1.png").read_bytes()
    (images / "half.png").write_bytes(png[:len(png) // 2])
    zoo.bad["half.png"] = ("PNG", "damaged or cut short")
    (images / "empty.jpg").write_bytes(b"")
    zoo.bad["empty.jpg"] = ("empty (0 bytes)",)
    (images / "notes.jpg").write_text("Remember to add Grandma's photo.\n", encoding="utf-8")
    zoo.bad["notes.jpg"] = ("not an image but text",)
    (images / "readme.txt").write_text("one photo per person\n", encoding="utf-8")
    zoo.bad["readme.txt"] = ("not a photo",)
    (images / ".DS_Store").write_bytes(b"\0\0\0\1Bud1" + bytes(100))
    (images / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + bytes(100))
    scene = cv2.imread(str(faces / "scenes/obama_and_biden.jpg"))
    height, width = scene.shape[:2]
    # Suits and a tie, no face; wider than a face, so never taken as a tight face crop.
    cv2.imwrite(str(images / "suits.jpg"), scene[int(height * 0.7):, :width // 2])
    zoo.bad["suits.jpg"] = ("face found",)  # "no face found", "no clear face found"
    os.symlink(root / "deleted.jpg", images / "ghost.jpg")
    zoo.bad["ghost.jpg"] = ("broken link",)
    if unreadable:
        shutil.copy(people / "kit_harington/kit_harington_2.jpg", images / "locked.jpg")
        os.chmod(images / "locked.jpg", 0)
        zoo.bad["locked.jpg"] = ("permission denied", "chmod")

    return zoo


def snapshot(folder: Path) -> dict:
    """Everything about ``folder``'s entries that a write, rename or delete would change."""
    state = {".": (folder.stat().st_mtime_ns, sorted(os.listdir(folder)))}
    for path in folder.rglob("*"):
        info = path.lstat()
        entry = (info.st_mode, info.st_size, info.st_mtime_ns, info.st_ino)
        if path.is_symlink():
            entry += (os.readlink(path),)
        elif path.is_file() and os.access(path, os.R_OK):
            entry += (path.read_bytes(),)
        state[str(path.relative_to(folder))] = entry
    return state


@pytest.fixture(scope="module")
def zoo(faces, tmp_path_factory) -> Zoo:
    return build_zoo(faces, tmp_path_factory.mktemp("zoo"))


def message_about(messages: list[str], name: str) -> list[str]:
    return [message for message in messages if name in message]


# -- in process: the library -------------------------------------------------

def test_every_good_photo_is_used_and_every_bad_one_named(zoo, encoder, tmp_path):
    before = snapshot(zoo.images)
    messages: list[str] = []
    library = PhotoLibrary(str(zoo.images), encoder, str(tmp_path / "cache"), messages.append)
    assert library.refresh()
    assert snapshot(zoo.images) == before, "images/ was changed"

    counts: dict[str, int] = {}
    for person, _ in zoo.good.values():
        counts[person] = counts.get(person, 0) + 1
    assert library.photo_counts == dict(sorted(counts.items())), messages

    # Each photo of each person is close to another photo of them, and the
    # gallery as a whole names that other photo right.
    names = np.array(library.gallery.names)
    for person, probe in zoo.probes:
        encoding = encoder.encode_photo(str(probe)).encoding
        assert match_faces(library.gallery, encoding[None], encoder.threshold)[0].name == person
        rows = library.gallery.encodings[names == person]
        distances = np.linalg.norm(rows - encoding, axis=1)
        assert (distances <= encoder.threshold).all(), (person, distances)

    for name, words in zoo.bad.items():
        about = message_about(messages, name)
        assert len(about) == 1, (name, messages)
        for word in words:
            assert word in about[0], (name, about)
    for name in zoo.silent:
        assert not message_about(messages, name)
    for name, note in zoo.notes.items():
        assert any(note in message for message in message_about(messages, name)), messages
    # Skipped photos: the bad files that are photos by name and exist.
    photo_bad = {str(zoo.images / name) for name in zoo.bad
                 if name not in ("readme.txt", "ghost.jpg")}
    assert set(library.skipped) == photo_bad

    # A second look finds nothing new, and says nothing again.
    told = len(messages)
    assert not library.refresh()
    assert len(messages) == told


def test_exif_rotated_photos_are_read_upright(zoo, faces):
    for name, source in (("rose.jpg", "rose_leslie/rose_leslie_1.jpg"),
                         ("joe.jpg", "biden/biden_1.jpg")):
        path = zoo.images / name
        upright = phone_sized(cv2.imread(str(faces / "people" / source)))
        raw = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        assert raw.shape[:2] == upright.shape[1::-1]  # stored turned: only EXIF makes it upright
        image = read_photo(str(path))
        assert image.shape[0] / image.shape[1] == pytest.approx(
            upright.shape[0] / upright.shape[1], rel=0.01)  # as the phone showed it
        resized = cv2.resize(upright, image.shape[1::-1], interpolation=cv2.INTER_AREA)
        assert np.abs(resized.astype(int) - image).mean() < 4, name  # and not upside down


def test_photo_errors_name_the_file_and_the_fix(tmp_path, faces):
    cases = {
        "empty.jpg": (b"", "empty (0 bytes)"),
        "notes.jpg": (b"hello\n", "not an image but text, although it is named .jpg"),
        "noise.png": (bytes(range(256)) * 4, "not an image but something else"),
        "cut.jpg": ((faces / "people/obama/obama_3.jpg").read_bytes()[:5000],
                    "JPEG image is damaged or cut short"),
        "iphone.jpg": (b"\0\0\0\x18ftypheic" + bytes(500), "HEIC"),
    }
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(PhotoError) as raised:
            read_photo(str(tmp_path / name))
        assert str(raised.value).startswith(str(tmp_path / name))
        assert reason in raised.value.reason, raised.value.reason
    (tmp_path / "folder.jpg").mkdir()
    os.mkfifo(tmp_path / "pipe.jpg")  # reading it would never end
    for name in ("folder.jpg", "pipe.jpg"):
        with pytest.raises(PhotoError, match="not a regular file"):
            read_photo(str(tmp_path / name))


@pytest.mark.skipif(IS_ROOT, reason="running as root, for whom no file is unreadable: "
                                    "chmod 000 cannot make an unreadable photo")
def test_unreadable_photo_is_named_and_skipped(faces, encoder, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(faces / "people/obama/obama_1.jpg", images / "obama.jpg")
    shutil.copy(faces / "people/biden/biden_1.jpg", images / "locked.jpg")
    os.chmod(images / "locked.jpg", 0)
    messages: list[str] = []
    library = PhotoLibrary(str(images), encoder, str(tmp_path / "cache"), messages.append)
    library.refresh()
    assert library.photo_counts == {"Obama": 1}
    about = message_about(messages, "locked.jpg")
    assert len(about) == 1 and "permission denied" in about[0] and "chmod" in about[0]


def test_photo_without_a_face_is_skipped_whatever_its_shape(faces, encoder, tmp_path):
    """A 4:3 photo with no face (a garden, a wall) must not become somebody's face."""
    images = tmp_path / "images"
    images.mkdir()
    scene = cv2.imread(str(faces / "scenes/obama_and_biden.jpg"))
    height, width = scene.shape[:2]
    crop = scene[int(height * 0.6):, :int((height - int(height * 0.6)) * 4 / 3)]
    assert encoder.detector.face_locations(crop, photo_min_face(crop)) == []  # no face in it
    cv2.imwrite(str(images / "garden.jpg"), cv2.resize(crop, (1600, 1200)))
    shutil.copy(faces / "people/obama/obama_1.jpg", images / "obama.jpg")
    messages: list[str] = []
    library = PhotoLibrary(str(images), encoder, str(tmp_path / "cache"), messages.append)
    library.refresh()
    assert library.photo_counts == {"Obama": 1}
    assert any("garden.jpg" in m and "face found" in m for m in messages), messages


# -- the encoding cache ------------------------------------------------------

@pytest.fixture(scope="module")
def two_people(faces, tmp_path_factory) -> Path:
    images = tmp_path_factory.mktemp("two") / "images"
    images.mkdir()
    shutil.copy(faces / "people/obama/obama_1.jpg", images / "obama.jpg")
    shutil.copy(faces / "people/amy/amy_1.png", images / "amy.png")
    return images


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def check_library(images: Path, encoder, cache: Path, faces: Path) -> list[str]:
    messages: list[str] = []
    library = PhotoLibrary(str(images), encoder, str(cache), messages.append)
    library.refresh()
    assert library.photo_counts == {"Amy": 1, "Obama": 1}, messages
    assert library.gallery.encodings.shape == (2, encoder.width)
    probe = encoder.encode_photo(str(faces / "people/obama/obama_4.jpg")).encoding
    assert match_faces(library.gallery, probe[None], encoder.threshold)[0].name == "Obama"
    with np.load(cache / f"encodings-{encoder.cache_key}.npz") as saved:
        assert saved["encodings"].shape == (2, encoder.width)
    return messages


def test_damaged_cache_is_rebuilt(two_people, encoder, tmp_path, faces):
    good = tmp_path / "good"
    check_library(two_people, encoder, good, faces)
    cache_name = f"encodings-{encoder.cache_key}.npz"
    intact = (good / cache_name).read_bytes()
    damaged = {"empty": b"", "garbage": os.urandom(4000), "truncated": intact[:len(intact) // 2],
               "bits": intact[:600] + bytes(64) + intact[664:], "folder": None}
    for kind, content in damaged.items():
        cache = tmp_path / kind
        cache.mkdir()
        if content is None:
            (cache / cache_name).mkdir()  # the cache's name taken by a folder
            messages: list[str] = []
            library = PhotoLibrary(str(two_people), encoder, str(cache), messages.append)
            library.refresh()
            assert library.photo_counts == {"Amy": 1, "Obama": 1}
            assert any("cannot write the encoding cache" in m for m in messages), messages
            continue
        (cache / cache_name).write_bytes(content)
        messages = check_library(two_people, encoder, cache, faces)
        assert any("rebuilding" in m and cache_name in m for m in messages), (kind, messages)


def test_cache_whose_arrays_do_not_fit_is_rebuilt(two_people, encoder, tmp_path, faces):
    good = tmp_path / "good"
    check_library(two_people, encoder, good, faces)
    cache_name = f"encodings-{encoder.cache_key}.npz"
    with np.load(good / cache_name) as data:
        arrays = dict(data)
    for kind, encodings in (("flat", arrays["encodings"][:, 0]),
                            ("narrow", arrays["encodings"][:, :64])):
        cache = tmp_path / kind
        cache.mkdir()
        (cache / cache_name).write_bytes(npz_bytes(**{**arrays, "encodings": encodings}))
        messages = check_library(two_people, encoder, cache, faces)
        assert any("rebuilding" in m for m in messages), (kind, messages)


def test_cache_is_replaced_whole_never_written_in_place(two_people, encoder, tmp_path, faces):
    images = tmp_path / "images"
    shutil.copytree(two_people, images)
    cache = tmp_path / "cache"
    library = PhotoLibrary(str(images), encoder, str(cache), print)
    library.refresh()
    path = cache / f"encodings-{encoder.cache_key}.npz"
    old_inode = path.stat().st_ino
    with open(path, "rb") as old:  # a reader in the middle of reading the old cache
        shutil.copy(faces / "people/lennon/lennon_1.jpg", images / "john.jpg")
        assert library.refresh()
        with np.load(old) as data:  # still reads the whole old cache
            assert data["encodings"].shape == (2, encoder.width)
    assert path.stat().st_ino != old_inode  # a new file took the name (rename)
    with np.load(path) as data:
        assert data["encodings"].shape == (3, encoder.width)
    assert sorted(os.listdir(cache)) == [path.name]  # no temporary file left
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700


def test_cache_write_that_fails_midway_keeps_the_old_cache(tmp_path):
    """A full disk in the middle of writing: the old cache stays whole, no temporary file stays."""
    cache = tmp_path / "cache"
    cache.mkdir()
    path = cache / "encodings-test.npz"
    old = npz_bytes(encodings=np.ones((3, 128), np.float32))
    path.write_bytes(old)
    script = f"""
import os, resource, signal, sys
import numpy as np
sys.path.insert(0, {str(REPO)!r})
from greeter.database import EncodingCache, PhotoFile
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.RLIM_INFINITY))
messages = []
cache = EncodingCache({str(cache)!r}, "test", messages.append)
photos = [PhotoFile(f"p{{i}}.jpg", i, i) for i in range(1000)]  # 500 KB of encodings
for photo in photos:
    cache.digests[photo] = str(photo.size)
    cache.entries[str(photo.size)] = (np.zeros(128, np.float32), "")
cache.changed = True
cache.save(photos)
print(messages)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "cannot write the encoding cache" in result.stdout, result.stdout
    assert path.read_bytes() == old
    assert sorted(os.listdir(cache)) == [path.name]


# -- the real program --------------------------------------------------------

def greeter_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return env


def test_program_greets_everyone_with_a_good_photo(zoo, encoder, tmp_path):
    """The whole program on the zoo: a video of each person in turn coming to the door.

    Also: a damaged cache is rebuilt, and what the program creates (cache,
    log and their folders) is readable by the owner only.
    """
    before = snapshot(zoo.images)
    cache_folder = tmp_path / "cache" / "facenet"
    cache_folder.mkdir(parents=True)
    cache = cache_folder / f"encodings-{encoder.cache_key}.npz"
    cache.write_bytes(b"PK\x03\x04 half a cache")
    log = tmp_path / "records" / "greetings.csv"  # the folder does not exist yet
    video = tmp_path / "door.avi"
    scenes: list[tuple[Path | None, float]] = [(None, 0.3)]
    for _, probe in zoo.probes:
        scenes += [(probe, 1.0), (None, 0.3)]
    write_video(video, scenes)
    result = subprocess.run(
        [sys.executable, str(REPO / "facenet.py"), "--source", str(video), "--images",
         str(zoo.images), "--no-speech", "--headless", "--confirm", "1", "--log", str(log)],
        cwd=tmp_path, env=greeter_env(tmp_path), capture_output=True, text=True,
        encoding="utf-8", timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output
    assert greeted(result.stdout) == zoo.people, output
    for name, words in zoo.bad.items():
        lines = [line for line in result.stderr.splitlines() if name in line]
        assert lines and all(word in lines[0] for word in words), (name, result.stderr)
    assert "rebuilding" in result.stderr
    assert snapshot(zoo.images) == before, "images/ was changed"

    with np.load(cache) as saved:
        assert np.isfinite(saved["encodings"]).all(axis=1).sum() == len(zoo.good)
    rows = list(csv.DictReader(log.open(encoding="utf-8")))
    assert [row["name"] for row in rows] == zoo.people
    for path, mode in ((cache, 0o600), (log, 0o600), (log.parent, 0o700)):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path
    assert sorted(os.listdir(cache_folder)) == [cache.name]


def test_names_the_terminal_cannot_show_do_not_stop_the_greeter(faces, tmp_path):
    """An emoji on a Windows console redirected to a file (cp1252), a Latin-1 file
    name on a UTF-8 system: the greeting is printed as well as it can be."""
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(faces / "people/kit_harington/kit_harington_1.jpg", images / "kit 🎉.jpg")
    latin1 = os.path.join(os.fsencode(images), "zoë.jpg".encode("latin-1"))
    shutil.copy(faces / "people/obama/obama_1.jpg", latin1)
    probes = tmp_path / "probes"
    probes.mkdir()
    shutil.copy(faces / "people/kit_harington/kit_harington_2.jpg", probes / "1.jpg")
    shutil.copy(faces / "people/obama/obama_4.jpg", probes / "2.jpg")
    log = tmp_path / "greetings.csv"
    # cp1252 (strict) can show neither the emoji nor the undecodable byte.
    result = subprocess.run(
        [sys.executable, str(REPO / "facenet.py"), "--source", str(probes), "--images",
         str(images), "--no-speech", "--headless", "--log", str(log)],
        env=dict(greeter_env(tmp_path), PYTHONIOENCODING="cp1252"),
        capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert len(greeted(result.stdout.decode("cp1252", errors="replace"))) == 2
    assert b"Traceback" not in result.stderr
    rows = list(csv.DictReader(log.open(encoding="utf-8")))
    assert [row["name"] for row in rows] == ["Kit 🎉", "Zo?"]


def test_slideshow_of_look_alike_crops_names_each_photo(faces, tmp_path):
    """Face crops of different people sit at the same place in their photos; each
    still of a slideshow must be recognised afresh, not keep the last one's name."""
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(faces / "people/amy/amy_1.png", images / "amy.png")
    shutil.copy(faces / "people/howard/howard_2.png", images / "howard.png")
    probes = tmp_path / "probes"
    probes.mkdir()
    # Their faces are found at nearly the same place: (11, 2, 127, 127), (11, 5, 126, 126).
    shutil.copy(faces / "people/amy/amy_5.png", probes / "1.png")
    shutil.copy(faces / "people/howard/howard_4.png", probes / "2.png")
    result = subprocess.run(
        [sys.executable, str(REPO / "facenet.py"), "--source", str(probes), "--images",
         str(images), "--no-speech", "--headless"],
        env=greeter_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert greeted(result.stdout) == ["Amy", "Howard"], result.stdout + result.stderr
