"""Naming the faces of consecutive frames: false boxes left out, faces followed as tracks
and encoded only when it helps."""

from __future__ import annotations

import numpy as np

from greeter.database import PhotoLibrary
from greeter.photos import read_photo
from greeter.recognise import FaceRecogniser, Tracking

TRACKING = Tracking()


def test_a_box_on_no_face_is_not_a_face(encoder, faces):
    photo = read_photo(str(faces / "people/lennon/lennon_2.jpg"))
    # The cascade at finer settings fires on a shirt button below the chin.
    face, button = (317, 272, 619, 619), (733, 964, 154, 154)
    encodings, is_face = encoder.checked_face_encodings(photo, [face, button])
    assert is_face.tolist() == [True, False]
    assert np.isfinite(encodings[0]).all() and np.isnan(encodings[1]).all()


def test_a_followed_face_is_encoded_on_its_first_frames_then_now_and_then(
        encoder, faces, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "kit.jpg").write_bytes((faces / "people/kit_harington/kit_harington_1.jpg").read_bytes())
    library = PhotoLibrary(str(images), encoder, str(tmp_path / "cache"), lambda text: None)
    library.refresh()
    frame = read_photo(str(faces / "people/kit_harington/kit_harington_3.jpg"))
    recogniser = FaceRecogniser(encoder.detector, encoder, encoder.threshold, first_looks=3)

    encoded = []  # faces encoded, frame by frame
    original = encoder.checked_face_encodings

    def counting(image, boxes, second=True):
        encoded[-1] += len(boxes)
        return original(image, boxes, second)

    def recognise(image):
        encoded.append(0)
        return recogniser.recognise(image, library.gallery)

    encoder.checked_face_encodings = counting
    try:
        frames = [recognise(frame) for _ in range(TRACKING.reencode_frames + 4)]
        # Shifted well beyond the face's size: another face, followed afresh.
        moved = recognise(np.roll(frame, frame.shape[1] // 3, axis=1))
    finally:
        del encoder.checked_face_encodings
    assert [[face.match.name for face in faces] for faces in frames] == [["Kit"]] * len(frames)
    assert len({face.track for faces in frames for face in faces}) == 1
    # Encoded on each of the first three frames, then once TRACKING.reencode_frames later.
    assert encoded[:TRACKING.reencode_frames + 4] == \
        [1, 1, 1] + [0] * (TRACKING.reencode_frames - 1) + [1, 0]
    assert encoded[-1] == 1 and [face.match.name for face in moved] == ["Kit"]
    assert moved[0].track != frames[0][0].track


def test_a_track_is_named_from_all_its_looks_and_renamed_with_new_people(
        encoder, faces, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    library = PhotoLibrary(str(images), encoder, str(tmp_path / "cache"), lambda text: None)
    library.refresh()
    frame = read_photo(str(faces / "people/obama/obama_4.jpg"))
    recogniser = FaceRecogniser(encoder.detector, encoder, encoder.threshold, first_looks=3)
    # (A detector's first box of a new face may fail the landmark check: then the
    # face is there from the second frame on.)
    seen = [faces[0] for faces in (recogniser.recognise(frame, library.gallery)
                                   for _ in range(4)) if faces]
    looks = seen[-3:]
    assert [face.match.name for face in looks] == ["unknown"] * 3
    # The encoding is the track's latest look, both networks' parts, each that
    # network's encoding of the face at the box of a frame it was run on.
    assert np.isfinite(looks[-1].encoding).all()
    at_boxes = [encoder.checked_face_encodings(frame, [face.box])[0][0] for face in seen]
    for start, end in encoder.parts:
        assert min(np.linalg.norm(looks[-1].encoding[start:end] - encoding[start:end])
                   for encoding in at_boxes) < 0.01
    # A photo of him added: the same track is named at once, without being encoded again.
    (images / "barack.jpg").write_bytes((faces / "people/obama/obama_1.jpg").read_bytes())
    library.refresh()
    again = recogniser.recognise(frame, library.gallery)
    assert again[0].track == looks[0].track and again[0].match.name == "Barack"


def test_the_second_network_runs_only_where_it_can_change_the_decision(
        encoder, faces, tmp_path):
    """SFace (five times dlib's cost) on a new track's first look; then, for a face near
    the threshold (a known person), again after second_network_frames; for a face far
    from everyone, not again while its looks are kept."""
    images = tmp_path / "images"
    images.mkdir()
    (images / "kit.jpg").write_bytes((faces / "people/kit_harington/kit_harington_1.jpg").read_bytes())
    library = PhotoLibrary(str(images), encoder, str(tmp_path / "cache"), lambda text: None)
    library.refresh()
    calls = []
    features = encoder.sface.unit_features

    def counting(chips):
        calls.append(len(chips))
        return features(chips)

    encoder.sface.unit_features = counting
    try:
        frames = TRACKING.second_network_frames + TRACKING.reencode_frames
        for person, photo in (("Kit", "kit_harington/kit_harington_3.jpg"),
                              ("unknown", "obama/obama_1.jpg")):
            frame = read_photo(str(faces / "people" / photo))
            recogniser = FaceRecogniser(encoder.detector, encoder, encoder.threshold, first_looks=3)
            calls.clear()
            named = [recogniser.recognise(frame, library.gallery)[0] for _ in range(frames)]
            assert {face.match.name for face in named} == {person}
            assert np.isfinite(named[-1].encoding).all()  # both networks' parts
            if person == "Kit":
                assert calls == [1, 1], calls  # the first look, then a second later
            else:
                assert calls == [1], calls
                assert named[-1].match.distance > TRACKING.second_network_near * encoder.threshold
    finally:
        del encoder.sface.unit_features
