"""Whether anything moved: a small grey copy of each frame against a running background.

An empty hall needs no face detector: most of a greeter's days are frames in
which nothing moved. Each frame is shrunk to MOTION_WIDTH pixels wide, turned
grey and blurred (0.4 ms for a 1080p frame), and compared with a background
that follows the scene slowly. What is not motion:

- camera noise: shrinking and blurring average it away (white noise of 4
  grey levels leaves differences of at most 3), far under PIXEL_CHANGE;
- auto-exposure and light that changes over the whole picture: the frame is
  brought to the background's mean brightness before the comparison, leaving
  out what either exposure saturates (a bright window);
- light that changes slowly in one place (the sun on a wall): the background
  takes up BACKGROUND_RATE of each frame, faster than such light changes.

A person walking in changes a large patch by far more than PIXEL_CHANGE at
once, in the first frame they are in.
"""

from __future__ import annotations

import cv2
import numpy as np

# The grey copy's width: a 40-pixel face of a 1920-pixel frame is 7 pixels
# wide in it, a person's body far more.
MOTION_WIDTH = 320
# A pixel of the blurred copy that differs from the background by more than
# this many grey levels (of 255) has changed.
PIXEL_CHANGE = 15
# A frame moved when more than this share of its pixels changed: 58 of the
# copy's 57,600 pixels at 16:9, a patch of about 8 x 8 (a face 48 pixels wide
# in a 1080p frame, a hand at the edge of the picture).
MOVED_SHARE = 0.001
# How much of each frame the background takes up: a change that stays (a
# door left open, a chair moved) is background within a second or so at 30 fps.
BACKGROUND_RATE = 0.05
# Grey levels from which a pixel of the blurred copy is taken for saturated:
# well under 255, because the blur spreads a clipped pixel into its
# neighbours (at 250, a 16% exposure step in a room with a bright window
# still moved; from 240 down it did not, and walkers were still seen).
SATURATED = 230


class MotionGate:
    """Says, frame by frame, whether anything moved since the frames before."""

    def __init__(self, frames_per_check: int = 1) -> None:
        """``frames_per_check``: moved() is asked on every this many frames of the
        video; the background then follows the scene as fast as on every frame."""
        self._background: np.ndarray | None = None  # float32, the motion copy's size
        self._rate = 1 - (1 - BACKGROUND_RATE) ** frames_per_check

    def moved(self, copy: np.ndarray) -> bool:
        """Whether anything moved in the frame of this :func:`motion_copy` (True for
        the first frame, and when the frame's size changes: there is nothing to
        compare with)."""
        background = self._background
        if background is None or background.shape != copy.shape:
            self._background = copy.copy()
            return True
        # Brought to the background's brightness: auto-exposure scales the
        # whole picture, which is no motion.
        # Saturated pixels (a window, a lamp) stay white whatever the gain.
        unsaturated = (copy < SATURATED) & (background < SATURATED)
        level = (float(background[unsaturated].mean()) / max(float(copy[unsaturated].mean()), 1.0)
                 if unsaturated.any() else 1.0)
        # A pixel that would be saturated in the brighter of the two exposures
        # tells nothing: a brighter exposure clips a bright wall to white, which
        # brought back to the background's brightness looks like a change.
        brightest = np.maximum(copy * max(level, 1.0), background * max(1.0 / level, 1.0))
        changed = (np.abs(copy * level - background) > PIXEL_CHANGE) & (brightest < SATURATED)
        cv2.accumulateWeighted(copy, background, self._rate)
        return float(changed.mean()) > MOVED_SHARE


def motion_copy(image: np.ndarray) -> np.ndarray:
    """``image`` (BGR, or grey) MOTION_WIDTH wide, grey and blurred, as float32:
    what MotionGate compares.

    A grey copy that libjpeg decoded at reduced size (greeter.frames) gives
    the same copy as the whole frame, within 6 grey levels (measured on the
    hallway clips), far under PIXEL_CHANGE: a stream whose frames are
    decoded in full some of the time only is not seen to move for that.
    """
    height, width = image.shape[:2]
    size = (MOTION_WIDTH, max(int(round(height * MOTION_WIDTH / width)), 1))
    # Linear, not area: 0.1 ms instead of 4 for a 1080p frame; the blur
    # then averages the noise that area shrinking would have.
    small = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    grey = small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return cv2.GaussianBlur(grey, (5, 5), 0).astype(np.float32)
