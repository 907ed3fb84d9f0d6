"""What the window shows: each face boxed with its name and distance, and the frame rate."""

from __future__ import annotations

import os
import sys
import unicodedata

import cv2
import numpy as np

from greeter.detect import Box
from greeter.match import Match

KNOWN_COLOUR = (60, 200, 60)      # BGR green
UNKNOWN_COLOUR = (40, 40, 220)    # BGR red
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _drawable(text: str) -> str:
    """``text`` in the ASCII that OpenCV's fonts can draw: accents dropped, others '?'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain if plain.strip() else "?"


def draw_faces(image: np.ndarray, boxes: list[Box], matches: list[Match],
               fps: float | None = None) -> np.ndarray:
    """A copy of ``image`` with each box, its name (or "unknown") and distance, and the fps."""
    canvas = image.copy()
    scale = max(0.6, canvas.shape[1] / 960)
    thickness = max(2, int(round(2 * scale)))
    for (x, y, w, h), match in zip(boxes, matches):
        colour = KNOWN_COLOUR if match.known else UNKNOWN_COLOUR
        cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, thickness)
        label = f"{_drawable(match.name)} {match.distance:.2f}"
        (text_w, text_h), baseline = cv2.getTextSize(label, FONT, 0.7 * scale, thickness)
        top = y + h if y + h + text_h + baseline + 6 < canvas.shape[0] else max(0, y - text_h - 10)
        cv2.rectangle(canvas, (x, top), (x + text_w + 8, top + text_h + baseline + 6), colour, -1)
        cv2.putText(canvas, label, (x + 4, top + text_h + 3), FONT, 0.7 * scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
    if fps is not None:
        # Black on a white outline: readable on any background.
        for colour, width in (((255, 255, 255), thickness + 3), ((0, 0, 0), thickness)):
            cv2.putText(canvas, f"{fps:.1f} fps", (10, int(30 * scale)), FONT, 0.8 * scale,
                        colour, width, cv2.LINE_AA)
    return canvas


def display_available() -> bool:
    """False where no window can open: Linux (and BSD) without an X or Wayland display."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Window:
    """The OpenCV window; closes on ESC or q, or when the user closes it."""

    def __init__(self, title: str = "facenet") -> None:
        self.title = title
        # Resizable, but opened at the video's own size (see show).
        cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
        self.open = True
        self._sized = False

    def show(self, image: np.ndarray, wait_ms: int = 1) -> bool:
        """Show ``image``; False once the user asked to stop (ESC, q, or closed the window)."""
        if not self.open:
            return False
        if not self._sized:
            cv2.resizeWindow(self.title, image.shape[1], image.shape[0])
            self._sized = True
        cv2.imshow(self.title, image)
        key = cv2.waitKey(wait_ms) & 0xFF
        try:
            visible = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            visible = False
        if key in (27, ord("q")) or not visible:
            self.close()
        return self.open

    def close(self) -> None:
        if self.open:
            self.open = False
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
