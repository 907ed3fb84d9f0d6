"""Build a benchmark video from the real photos in ../shared/faces.

    .venv/bin/python bench/make_video.py OUT.avi [--seconds-per-scene 4]

1280x720 at 30 fps: scenes with one to three faces, each slowly zoomed and
panned as a camera would drift, so faces move a little in every frame, with
a moment of empty wall between scenes.
"""

from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

FACES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "faces")
SCENES = ["people/obama/obama_4.jpg", "scenes/kit_with_rose.jpg", "scenes/obama_and_biden.jpg",
          "people/lennon/lennon_2.jpg", "scenes/two_people.jpg", "scenes/longoria-cooper.jpg",
          "people/kit_harington/kit_harington_3.jpg"]
SIZE = (1280, 720)


def fitted(image: np.ndarray) -> np.ndarray:
    """``image`` centred on a 1280x720 grey wall, as large as fits."""
    scale = min(SIZE[0] / image.shape[1], SIZE[1] / image.shape[0])
    resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    wall = np.full((SIZE[1], SIZE[0], 3), 118, np.uint8)
    top, left = (SIZE[1] - resized.shape[0]) // 2, (SIZE[0] - resized.shape[1]) // 2
    wall[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--seconds-per-scene", type=float, default=4.0)
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()
    writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*"MJPG"), args.fps, SIZE)
    steps = int(args.seconds_per_scene * args.fps)
    for scene in SCENES:
        base = fitted(cv2.imread(os.path.join(FACES, scene)))
        for step in range(steps):
            progress = step / steps
            zoom = 1.0 + 0.12 * progress  # a slow drift towards the door
            shift_x = 30 * np.sin(2 * np.pi * progress)
            transform = cv2.getRotationMatrix2D((SIZE[0] / 2, SIZE[1] / 2), 0, zoom)
            transform[0, 2] += shift_x
            writer.write(cv2.warpAffine(base, transform, SIZE, borderMode=cv2.BORDER_REPLICATE))
        for _ in range(int(args.fps / 2)):
            writer.write(np.full((SIZE[1], SIZE[0], 3), 118, np.uint8))
    writer.release()
    print(f"wrote {args.out}: {len(SCENES)} scenes, {len(SCENES) * (steps + int(args.fps / 2))} "
          f"frames at {args.fps:g} fps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
