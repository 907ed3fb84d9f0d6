"""Build the benchmark video from the real footage in ../shared/videos.

    .venv/bin/python bench/make_video.py OUT.avi

1280x720 at 30 fps, every frame of real clips one after another: two
people turning their heads, three walking up to the camera, people walking
down a corridor, a speech at a podium and two people talking to a camera.
Each clip is scaled to fill the frame (cropped, not stretched). These are
real recordings with faces from 20 to 300 pixels wide, not photos moved
around, so that the speed measured is the speed at a real door.
"""

from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

VIDEOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "videos")
CLIPS = ["hallway/head-pose-face-detection-female-and-male.gif",
         "hallway/face-demographics-walking-and-pause.gif",
         "hallway/face-demographics-walking.gif",
         "podium/obama.mp4",
         "talking/WDA_KatieHill_000.mp4",
         "talking/retalking_face4.mp4"]
SIZE = (1280, 720)


def filled(frame: np.ndarray) -> np.ndarray:
    """``frame`` scaled to cover SIZE, centred and cropped to it."""
    scale = max(SIZE[0] / frame.shape[1], SIZE[1] / frame.shape[0])
    resized = cv2.resize(frame, None, fx=scale, fy=scale,
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top = (resized.shape[0] - SIZE[1]) // 2
    left = (resized.shape[1] - SIZE[0]) // 2
    return resized[top:top + SIZE[1], left:left + SIZE[0]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", help="the .avi to write (MJPG)")
    args = parser.parse_args()
    writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*"MJPG"), 30, SIZE)
    frames = 0
    for clip in CLIPS:
        path = os.path.join(VIDEOS, clip)
        reader = cv2.VideoCapture(path)
        if not reader.isOpened():
            sys.exit(f"cannot read {path}: ../shared/videos is needed")
        while True:
            ok, frame = reader.read()
            if not ok:
                break
            writer.write(filled(frame))
            frames += 1
        reader.release()
    writer.release()
    print(f"wrote {args.out}: {frames} frames of {len(CLIPS)} real clips, "
          f"{SIZE[0]}x{SIZE[1]} at 30 fps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
