"""`python facenet.py enroll NAME` on real videos of real faces, headless."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import pytest

from greeter.cli import main, parse_args
from greeter.enroll import (BadNameError, Target, candidate_names, enroll_command,
                            file_stem)
from greeter.files import link_new
from videos import write_video


@pytest.fixture(scope="module")
def videos(faces, tmp_path_factory) -> dict[str, Path]:
    """Videos of Obama alone, Obama blurred, Obama with Biden, and an empty doorway."""
    folder = tmp_path_factory.mktemp("enroll-videos")
    obama = faces / "people/obama/obama_4.jpg"
    blurred = folder / "blurred.jpg"
    cv2.imwrite(str(blurred), cv2.GaussianBlur(cv2.imread(str(obama)), (0, 0), 6))
    scenes = {"obama": [(None, 0.5), (obama, 2)],
              "blurred": [(None, 0.5), (blurred, 2)],
              "two": [(None, 0.5), (faces / "scenes/obama_and_biden.jpg", 2)],
              "empty": [(None, 30)]}
    paths = {}
    for name, scene in scenes.items():
        paths[name] = folder / f"{name}.avi"
        write_video(paths[name], scene)
    return paths


@pytest.fixture(autouse=True)
def no_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


def enroll(encoder, images: Path, name: str, video: Path, *options: str) -> int:
    args = parse_args(["enroll", name, "--source", str(video), "--images", str(images),
                       "--no-speech", *options])
    return enroll_command(args.typed_settings, args.name, args.timeout, encoder)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and modification time (ns)."""
    return {str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in folder.rglob("*") if path.is_file()}


def test_saves_name_then_next_number_and_the_greeter_recognises_it(
        faces, videos, encoder, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(faces / "people/kit_harington/kit_harington_1.jpg", images / "kit.jpg")
    shutil.copy(faces / "people/biden/biden_1.jpg", images / "joe.jpg")
    before = snapshot(images)

    # The first run goes through main(): the command line as the user types it.
    assert main(["enroll", "Barack Obama", "--source", str(videos["obama"]), "--images",
                 str(images), "--no-speech"]) == 0
    out = capsys.readouterr().out
    assert f"saved {images / 'Barack_Obama.jpg'}" in out and "Barack Obama" in out
    first = snapshot(images)

    assert enroll(encoder, images, "Barack Obama", videos["obama"]) == 0
    assert f"saved {images / 'Barack_Obama_2.jpg'}" in capsys.readouterr().out
    after = snapshot(images)
    assert set(after) == {"kit.jpg", "joe.jpg", "Barack_Obama.jpg", "Barack_Obama_2.jpg"}
    for name, content in {**before, **first}.items():
        assert after[name] == content, f"{name} was changed"

    # The greeter's own path: the library of images/, then another photo of Obama.
    from greeter.database import PhotoLibrary
    from greeter.match import match_faces
    library = PhotoLibrary(str(images), encoder, cache_dir=str(tmp_path / "cache"))
    library.refresh()
    assert library.photo_counts == {"Barack Obama": 2, "Joe": 1, "Kit": 1}
    assert library.skipped == {}
    other = encoder.encode_photo(str(faces / "people/obama/obama_1.jpg")).encoding
    assert match_faces(library.gallery, other[None], encoder.threshold)[0].name == "Barack Obama"
    saved = cv2.imread(str(images / "Barack_Obama.jpg"))
    assert saved.shape[0] == saved.shape[1] >= 200  # a square crop around the face


def test_saves_into_the_persons_folder(faces, videos, encoder, tmp_path, capsys):
    images = tmp_path / "images"
    (images / "barack-obama").mkdir(parents=True)
    shutil.copy(faces / "people/obama/obama_1.jpg", images / "barack-obama" / "portrait.jpg")
    (images / "Barack_Obama.jpg").write_bytes(b"a file of the same name outside the folder")
    before = snapshot(images)

    assert enroll(encoder, images, "barack obama", videos["obama"]) == 0
    assert (images / "barack-obama" / "barack_obama_2.jpg").is_file()
    assert "saved" in capsys.readouterr().out
    after = snapshot(images)
    assert set(after) == set(before) | {"barack-obama/barack_obama_2.jpg"}
    assert all(after[name] == content for name, content in before.items())


# The group photo shows Obama, Biden and, at the edge, half of a girl's face,
# which YuNet finds and FaceBoxes does not: more than one face, either way.
@pytest.mark.parametrize("video, reason", [("two", "only the person to enroll should be in view"),
                                           ("empty", "no face"), ("blurred", "blurred")])
def test_no_save_without_one_sharp_face(videos, encoder, tmp_path, capsys, video, reason):
    images = tmp_path / "images"
    images.mkdir()
    assert enroll(encoder, images, "obama", videos[video]) == 1
    err = capsys.readouterr().err
    assert "ended without a suitable face" in err and reason in err and "nothing saved" in err
    assert list(images.iterdir()) == []


def test_timeout(videos, encoder, tmp_path, capsys):
    assert enroll(encoder, tmp_path, "obama", videos["empty"], "--timeout", "0.3") == 1
    assert "no suitable face within 0.3 s" in capsys.readouterr().err


def test_names_that_cannot_be_a_photo_name(tmp_path, capsys, encoder, videos):
    assert file_stem("  Mary Jane ") == "Mary_Jane"
    assert file_stem("r2-d2") == "r2-d2"
    for bad in ("agent_007", "a/b", ".hidden", "   ", "what?"):
        with pytest.raises(BadNameError):
            file_stem(bad)
    assert enroll(encoder, tmp_path, "agent_007", videos["obama"]) == 2
    assert "agent-007" in capsys.readouterr().err


def test_never_replaces_a_file(tmp_path):
    (tmp_path / "alice.png").write_bytes(b"png")
    (tmp_path / "ALICE_2.jpg").write_bytes(b"jpg")
    target = Target(str(tmp_path), "alice", False, "Alice")
    assert candidate_names(target)[:2] == ["alice_3.jpg", "alice_4.jpg"]
    # A name taken after the listing: the link refuses, the file stays as it was.
    temporary = tmp_path / ".enroll-x.jpg"
    temporary.write_bytes(b"new")
    (tmp_path / "alice_3.jpg").write_bytes(b"someone else's")
    with pytest.raises(FileExistsError):
        link_new(str(temporary), str(tmp_path / "alice_3.jpg"), b"new")
    assert (tmp_path / "alice_3.jpg").read_bytes() == b"someone else's"
    assert not os.path.exists(tmp_path / "alice_4.jpg")
