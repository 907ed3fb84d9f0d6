"""Naming the faces of consecutive frames: false boxes left out, unmoved faces not re-encoded."""

from __future__ import annotations

import numpy as np

from greeter.database import PhotoLibrary
from greeter.photos import read_photo
from greeter.recognise import REUSE_FRAMES, FaceRecogniser


def test_a_box_on_no_face_is_not_a_face(encoder, faces):
    photo = read_photo(str(faces / "people/lennon/lennon_2.jpg"))
    # The cascade at finer settings fires on a shirt button below the chin.
    face, button = (317, 272, 619, 619), (733, 964, 154, 154)
    encodings, is_face = encoder.checked_face_encodings(photo, [face, button])
    assert is_face.tolist() == [True, False]
    assert np.isfinite(encodings[0]).all() and np.isnan(encodings[1]).all()


def test_unmoved_face_keeps_its_name_for_a_few_frames(encoder, faces, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "kit.jpg").write_bytes((faces / "people/kit_harington/kit_harington_1.jpg").read_bytes())
    library = PhotoLibrary(str(images), encoder, str(tmp_path / "cache"), lambda text: None)
    library.refresh()
    frame = read_photo(str(faces / "people/kit_harington/kit_harington_3.jpg"))
    recogniser = FaceRecogniser(encoder, encoder.threshold)

    encoded = []
    original = encoder.checked_face_encodings

    def counting(image, boxes):
        encoded.append(len(boxes))
        return original(image, boxes)

    encoder.checked_face_encodings = counting
    try:
        names = [recogniser.recognise(frame, library.gallery)[0].match.name
                 for _ in range(REUSE_FRAMES + 2)]
        # Shifted well beyond the box's size: a new place, encoded again at once.
        moved = np.roll(frame, frame.shape[1] // 3, axis=1)
        moved_faces = recogniser.recognise(moved, library.gallery)
    finally:
        del encoder.checked_face_encodings
    assert names == ["Kit"] * (REUSE_FRAMES + 2)
    # Encoded in the first frame, reused REUSE_FRAMES times, then encoded afresh.
    faces_in_frame = encoded[0]
    assert faces_in_frame >= 1
    assert encoded[:REUSE_FRAMES + 2] == [faces_in_frame] + [0] * REUSE_FRAMES + [faces_in_frame]
    assert encoded[-1] >= 1 and "Kit" in [face.match.name for face in moved_faces]
