"""`python facenet.py encode` and the photo-to-encoding path, on real photos."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO


def run_facenet(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "facenet.py"), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def test_encode_writes_paths_encodings_and_threshold(faces, tmp_path):
    photos = tmp_path / "photos"
    (photos / "nested").mkdir(parents=True)
    shutil.copy(faces / "people/obama/obama_1.jpg", photos / "obama_1.jpg")
    shutil.copy(faces / "people/biden/biden_2.jpg", photos / "nested" / "biden_2.jpg")
    shutil.copy(faces / "people/amy/amy_4.png", photos / "amy_4.png")  # tight grey crop
    (photos / "broken.jpg").write_bytes(b"this is text, not a JPEG")
    (photos / "notes.txt").write_text("not a photo, not listed")
    # A wide image with no face: not face-shaped, so no fallback to the whole image.
    import cv2
    cv2.imwrite(str(photos / "banner.png"), np.tile(np.arange(400, dtype=np.uint8), (100, 1)))
    out = tmp_path / "encodings.npz"

    result = run_facenet("encode", str(photos), str(faces / "scenes/adams.jpg"), "--out", str(out))

    assert result.returncode == 0, result.stderr
    data = np.load(out, allow_pickle=False)
    paths = [str(p) for p in data["paths"]]
    assert data["paths"].dtype.kind == "U"
    assert paths == sorted(paths) and len(paths) == 6  # .txt is not a photo
    encodings = data["encodings"]
    # dlib+sface: dlib's 128 and SFace's 128, scaled so that one L2 threshold decides.
    assert encodings.dtype == np.float32 and encodings.shape == (6, 256)
    assert data["threshold"].shape == () and float(data["threshold"]) == pytest.approx(1.0)
    failed = {paths[i].rsplit("/", 1)[-1] for i in range(6) if np.isnan(encodings[i]).all()}
    assert failed == {"broken.jpg", "banner.png"}
    assert "broken.jpg" in result.stderr and "banner.png" in result.stderr
    # A tight grey crop: its face is found and encoded, not skipped.
    assert "amy_4.png" not in result.stderr
    assert np.isfinite(encodings[[i for i, p in enumerate(paths) if p.endswith("amy_4.png")][0]]).all()
    # adams.jpg: a person the project has never seen, far from everyone else.
    row = {name.rsplit("/", 1)[-1]: i for i, name in enumerate(paths)}
    adams, obama, biden = (encodings[row[n]] for n in ("adams.jpg", "obama_1.jpg", "biden_2.jpg"))
    threshold = float(data["threshold"])
    assert np.linalg.norm(adams - obama) > threshold and np.linalg.norm(obama - biden) > threshold


def test_encode_exit_status(faces, tmp_path):
    empty_result = tmp_path / "none.npz"
    (tmp_path / "broken.png").write_bytes(b"")
    result = run_facenet("encode", str(tmp_path / "broken.png"), "--out", str(empty_result))
    assert result.returncode == 1
    assert "broken.png" in result.stderr and "empty" in result.stderr
    assert np.isnan(np.load(empty_result)["encodings"]).all()

    result = run_facenet("encode", str(tmp_path / "missing.jpg"), "--out", str(tmp_path / "x.npz"))
    assert result.returncode == 2 and "missing.jpg" in result.stderr
    result = run_facenet("encode", "--model", "nope", str(faces), "--out", str(tmp_path / "x.npz"))
    assert result.returncode == 2


def test_same_person_nearer_than_different(encoder, faces):
    def encode(name):
        result = encoder.encode_photo(str(faces / "people" / name))
        assert result.encoding is not None, result.note
        return result.encoding
    kit1, kit2, rose = encode("kit_harington/kit_harington_1.jpg"), \
        encode("kit_harington/kit_harington_2.jpg"), encode("rose_leslie/rose_leslie_1.jpg")
    assert np.linalg.norm(kit1 - kit2) < encoder.threshold < np.linalg.norm(kit1 - rose)
    # Neither part is rescaled to unit length: dlib's is used as it comes, SFace's
    # unit feature divided by SFACE_UNIT.
    from greeter.models import SFACE_UNIT
    assert float(np.linalg.norm(kit1[128:])) == pytest.approx(1 / SFACE_UNIT, rel=1e-4)
    assert abs(float(np.linalg.norm(kit1)) - 1.0) > 0.05


def test_batch_of_face_crops_matches_one_by_one(encoder, faces):
    from fr_utils import faces_to_encodings, img_path_to_encoding
    from greeter.photos import read_photo
    # Tight crops, each image one face: in one call or one by one, the same
    # encodings; and close to the photo path's, which boxes the face itself.
    names = ("amy/amy_4.png", "bernadette/bernadette_2.png", "bernadette/bernadette_3.png")
    crops = [read_photo(str(faces / "people" / n)) for n in names]
    batch = faces_to_encodings(crops, encoder)
    assert batch.shape == (3, encoder.width)
    for row, name in enumerate(names):
        np.testing.assert_allclose(batch[row], faces_to_encodings([crops[row]], encoder)[0],
                                   atol=1e-3)
        single = img_path_to_encoding(str(faces / "people" / name), encoder)
        assert np.linalg.norm(batch[row] - single) < 0.15, name
