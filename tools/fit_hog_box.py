"""Fit shape5.HOG_BOX_IN_FACE: where dlib's HOG detector puts its box, in the frame
of facenet's 68 landmarks.

Usage::

    .venv/bin/python tools/fit_hog_box.py FOLDER [FOLDER ...]

For every photo in which face_recognition's HOG detector (a dev dependency)
and facenet's photo path both find a face, the HOG box of the largest face is
expressed in the units of dlib's 68-point template placed on facenet's
landmarks (greeter.align.landmark_frame): centre x, centre y, width, height.
Prints the medians over the photos and their spread; shape5.HOG_BOX_IN_FACE
holds the figures printed for the photos of issue 12 (265 photos).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from greeter import align  # noqa: E402
from greeter.encode import FaceEncoder  # noqa: E402
from greeter.photos import PhotoError, list_photos  # noqa: E402


def hog_box_in_face(landmarks68: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """dlib's box (left, top, right, bottom) as centre x, y, width, height in the
    units of the 68-point template placed on ``landmarks68``."""
    a, t = align.landmark_frame(landmarks68)
    left, top, right, bottom = box
    centre = np.linalg.solve(a, np.array([(left + right) / 2, (top + bottom) / 2]) - t)
    scale = np.hypot(*a[:, 0])
    return np.array([*centre, (right - left) / scale, (bottom - top) / scale])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+")
    args = parser.parse_args()
    import face_recognition

    encoder = FaceEncoder()
    rows = []
    for path in list_photos(args.folders):
        try:
            image = face_recognition.load_image_file(path, mode="RGB")
        except (OSError, ValueError):
            continue
        boxes = face_recognition.face_locations(image)
        if not boxes:
            continue
        top, right, bottom, left = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
        # The photo as face_recognition reads it (no EXIF turn, full size), so
        # that both boxes are in the same pixels.
        try:
            _, points, _ = encoder.photo_face(np.ascontiguousarray(image[..., ::-1]))
        except PhotoError:
            continue
        if points is not None:
            rows.append(hog_box_in_face(points[0], (left, top, right, bottom)))
    if not rows:
        print("no photo in which both find a face", file=sys.stderr)
        return 1
    rows = np.array(rows)
    quartiles = np.percentile(rows, [25, 75], axis=0)
    print(f"{len(rows)} photos")
    print("HOG_BOX_IN_FACE = (" + ", ".join(f"{v:.4f}" for v in np.median(rows, 0)) + ")")
    print("interquartile range: " + ", ".join(f"{v:.4f}" for v in quartiles[1] - quartiles[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
