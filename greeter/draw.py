"""What the window shows: each face boxed with its name and distance, and the frame rate."""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np

from greeter.detect import Box
from greeter.fonts import label_image
from greeter.match import Match

KNOWN_COLOUR = (60, 200, 60)      # BGR green
UNKNOWN_COLOUR = (40, 40, 220)    # BGR red
FONT = cv2.FONT_HERSHEY_SIMPLEX

# OpenCV's Qt window hands its pictures to the X server through shared memory
# (MIT-SHM), a known cause of black OpenCV windows in containers and over
# remote X; without it Qt sends the pixels over the X connection, at no cost
# measured here (a 1280x720 video shown at 25 fps: the greeter 0.94-1.02
# CPU-s per s either way, the X server 0.02). A value of the user's own is
# kept. The window that stayed black on a bare Xvfb under load (issue 18) was
# not this: see tests/test_window.py's display.
os.environ.setdefault("QT_X11_NO_MITSHM", "1")


Rect = tuple[int, int, int, int]  # x, y, width, height


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def place_label(box: Box, size: tuple[int, int], frame: tuple[int, int],
                taken: list[Rect]) -> Rect:
    """Where a label of ``size`` (w, h) goes for ``box`` in a ``frame`` (w, h): under
    the box, else above it, else further down, clear of the labels ``taken``."""
    (x, y, _, h), (label_w, label_h), (frame_w, frame_h) = box, size, frame
    left = min(max(0, x), max(0, frame_w - label_w))
    tops = [y + h, y - label_h] + [y + h + step * label_h for step in range(1, 8)] + \
        [y - label_h * step for step in range(2, 8)]
    inside = [top for top in tops if 0 <= top <= frame_h - label_h]
    for top in inside:
        if not any(_overlaps((left, top, label_w, label_h), other) for other in taken):
            return left, top, label_w, label_h
    return left, (inside or [max(0, min(y + h, frame_h - label_h))])[0], label_w, label_h


def draw_faces(image: np.ndarray, boxes: list[Box], matches: list[Match],
               fps: float | None = None) -> np.ndarray:
    """A copy of ``image`` with each box, its name (or "unknown") and distance, and the fps."""
    colours = [KNOWN_COLOUR if match.known else UNKNOWN_COLOUR for match in matches]
    canvas = draw_boxes(image, boxes, colours)
    scale = _scale(canvas)
    # The labels after every box, so that no box line crosses a name.
    taken: list[Rect] = []
    for box, match, colour in zip(boxes, matches, colours):
        label = label_image(f"{match.name} {match.distance:.2f}", int(round(22 * scale)),
                            (255, 255, 255), colour)
        left, top, width, height = place_label(
            box, (label.shape[1], label.shape[0]), (canvas.shape[1], canvas.shape[0]), taken)
        taken.append((left, top, width, height))
        # A label wider or taller than the frame is cut at its edges.
        visible = canvas[top:top + height, left:left + width]
        visible[:] = label[:visible.shape[0], :visible.shape[1]]
    return canvas if fps is None else draw_caption(canvas, f"{fps:.1f} fps")


def _scale(image: np.ndarray) -> float:
    """Lines and letters grow with the frame, so that they read the same at any size."""
    return max(0.6, image.shape[1] / 960)


def draw_boxes(image: np.ndarray, boxes: list[Box],
               colours: list[tuple[int, int, int]]) -> np.ndarray:
    """A copy of ``image`` with each box drawn in its colour (BGR)."""
    canvas = image.copy()
    thickness = max(2, int(round(2 * _scale(canvas))))
    for (x, y, w, h), colour in zip(boxes, colours):
        cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, thickness)
    return canvas


def draw_caption(canvas: np.ndarray, text: str) -> np.ndarray:
    """``canvas`` with ``text`` written in its top left corner (in place)."""
    scale = _scale(canvas)
    thickness = max(2, int(round(2 * scale)))
    # Black on a white outline: readable on any background.
    for colour, width in (((255, 255, 255), thickness + 3), ((0, 0, 0), thickness)):
        cv2.putText(canvas, text, (10, int(30 * scale)), FONT, 0.8 * scale, colour, width,
                    cv2.LINE_AA)
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
        # Resizable, but opened at the video's own size (see show); without the Qt
        # toolbar and status bar, which took their height from the picture.
        cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        self.open = True
        self._sized = False
        # Not shown yet is not closed: on a loaded machine the window may still be
        # unmapped after the first frames, and the greeter used to stop right
        # away, as if the user had closed it.
        self._was_visible = False

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
        self._was_visible |= visible
        if key in (27, ord("q")) or self._was_visible and not visible:
            self.close()
        return self.open

    def close(self) -> None:
        if self.open:
            self.open = False
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
