"""Accuracy of the photo-to-encoding path on the labelled photos in ../shared/faces/people.

The target (issue 12): no fewer same-person pairs accepted than the
face_recognition library accepts on the same photos (TAR 0.968: 90 of 93), and
no more false accepts than it within one pair (its FAR is 0.0007: 1 of 1,392),
at the default threshold. Measured with FaceBoxes boxes (bench/accuracy.py):
TAR 0.968, FAR 0.0014; the second false accept is clapton_1 / sheldon_4 at
0.593, which the cascade's boxes put at 0.603: pairs this close to the
threshold go either way with the box.
The 68-point chips before issue 12 scored 1.000 here, on the photos their
rules were tuned on, but fell well behind face_recognition on public photos
nobody here had looked at (LFW: TAR 0.940 against 0.978); the chips are now
face_recognition's own, and so are the pairs they miss.
"""

from __future__ import annotations

import sys

import numpy as np

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
from accuracy import facenet_encodings, labelled_photos, pair_figures  # noqa: E402


def test_pair_accuracy_stays_at_target(encoder, faces):
    paths, labels = labelled_photos(str(faces / "people"))
    assert len(paths) >= 50 and len(set(labels)) >= 14
    encodings, _ = facenet_encodings(paths, encoder)
    assert not np.isnan(encodings[:, 0]).any(), "every labelled photo has a usable face"
    rates = pair_figures(encodings, labels, [encoder.threshold])[0]
    assert rates["tar"] >= 90 / 93 - 1e-9, rates
    assert rates["far"] <= 2 / 1392 + 1e-9, rates
