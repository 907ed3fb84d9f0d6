"""Names drawn as written, with real fonts: every script's letters, labels clear of each
other in a crowd, on a real photo."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from greeter.draw import KNOWN_COLOUR, draw_faces, place_label
from greeter.fonts import FONT_FILES, label_image, missing_letters, runs
from greeter.match import Match

NAMES = ["王小明", "José María", "Дмитрий", "Σοφία", "Zoë Ångström"]
needs_fonts = pytest.mark.skipif(
    sum(os.path.isfile(path) for path in FONT_FILES) < 2,
    reason="needs a Latin and a CJK font: sudo apt-get install fonts-dejavu-core "
           "fonts-wqy-microhei")


@needs_fonts
def test_every_script_of_the_names_has_a_font():
    assert missing_letters("".join(NAMES)) == ""
    pieces = runs("王小明 0.41", 22)
    assert [text for text, _ in pieces] == ["王小明", " 0.41"]
    assert pieces[0][1] is not pieces[1][1]  # the CJK font, then the Latin one


@needs_fonts
def test_a_cjk_name_is_drawn_as_letters_not_missing_letter_boxes():
    drawn = label_image("王小明", 22, (255, 255, 255), KNOWN_COLOUR)
    boxes = label_image("\U0010fffd" * 3, 22, (255, 255, 255), KNOWN_COLOUR)
    assert drawn.shape[1] >= 3 * 18  # three full-width letters, not one "?"
    white = np.all(drawn > 200, axis=2).sum()
    assert white > 80
    assert drawn.shape != boxes.shape or not np.array_equal(drawn, boxes)


def test_labels_in_a_crowd_do_not_overlap_and_stay_in_the_frame():
    boxes = [(100, 100, 80, 80), (130, 110, 80, 80), (160, 120, 80, 80), (600, 320, 40, 40)]
    taken: list[tuple[int, int, int, int]] = []
    for box in boxes:
        taken.append(place_label(box, (150, 28), (640, 360), taken))
    for number, (x, y, w, h) in enumerate(taken):
        assert 0 <= x and x + w <= 640 and 0 <= y and y + h <= 360
        for (ox, oy, ow, oh) in taken[number + 1:]:
            assert x + w <= ox or ox + ow <= x or y + h <= oy or oy + oh <= y, taken


@needs_fonts
def test_names_drawn_on_a_real_photo(faces, tmp_path):
    image = cv2.imread(str(faces / "scenes/obama_and_biden.jpg"))
    image = cv2.resize(image, (960, 686))
    boxes = [(96, 137, 120, 120), (156, 157, 120, 120), (480, 137, 130, 130),
             (510, 147, 130, 130), (720, 343, 100, 100)]
    matches = [Match(name, 0.41 + number / 100) for number, name in enumerate(NAMES)]
    drawn = draw_faces(image, boxes, matches, 12.3)
    cv2.imwrite(str(tmp_path / "names.png"), drawn)
    # Each name's label is on the picture, whole: found where place_label put it.
    taken: list[tuple[int, int, int, int]] = []
    for box, match in zip(boxes, matches):
        label = label_image(f"{match.name} {match.distance:.2f}", 22, (255, 255, 255),
                            KNOWN_COLOUR)
        x, y, w, h = place_label(box, (label.shape[1], label.shape[0]), (960, 686), taken)
        taken.append((x, y, w, h))
        assert np.array_equal(drawn[y:y + h, x:x + w], label), match.name
