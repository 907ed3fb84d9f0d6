"""Accuracy of the photo-to-encoding path on the labelled photos in ../shared/faces/people.

The target (issue 4): balanced accuracy >= 0.985 at the default threshold,
with no more false accepts than the face_recognition library's 0.0007 there.
Measured at the time of writing: 1.000 (TAR 1.000, FAR 0.0000).
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
    assert rates["balanced"] >= 0.985, rates
    assert rates["far"] <= 0.0007, rates
