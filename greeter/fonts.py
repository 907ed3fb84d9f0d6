"""Drawing any name as written: a chain of real fonts, each letter in the first that has it.

OpenCV's Hershey fonts draw only ASCII ("王小明" came out as "?", "José" as
"Jose"). Pillow draws with TrueType fonts; no single font has every script,
so the letters of a label are drawn in runs, each with the first font of
:data:`FONT_FILES` found on this machine that has the letter (Latin, Greek
and Cyrillic from DejaVu or the system's sans-serif, CJK from WenQuanYi,
Noto CJK or the system's CJK font).
"""

from __future__ import annotations

import functools
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Tried in order; the first that has a letter draws it. Debian: fonts-dejavu-core,
# fonts-wqy-microhei (or fonts-noto-cjk).
if sys.platform == "win32":
    _FOLDER = os.path.join(os.environ.get("WINDIR", r"C:\Windows"), "Fonts")
    FONT_FILES = [os.path.join(_FOLDER, name) for name in
                  ("segoeui.ttf", "arial.ttf", "msyh.ttc", "yugothm.ttc", "malgun.ttf")]
elif sys.platform == "darwin":
    FONT_FILES = ["/System/Library/Fonts/Helvetica.ttc", "/System/Library/Fonts/PingFang.ttc",
                  "/System/Library/Fonts/Hiragino Sans GB.ttc",
                  "/Library/Fonts/Arial Unicode.ttf"]
else:
    FONT_FILES = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                  "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                  "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                  "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"]
# A code point no font draws: what a font draws for it is its "missing letter" box.
_NO_SUCH_LETTER = "\U0010fffd"


@functools.lru_cache(maxsize=16)
def font_chain(size: int) -> tuple[ImageFont.FreeTypeFont, ...]:
    """The fonts of FONT_FILES found here, at ``size`` pixels; Pillow's own (which
    draws Latin letters only) when none is."""
    fonts = tuple(ImageFont.truetype(path, size) for path in FONT_FILES if os.path.isfile(path))
    return fonts or (ImageFont.load_default(size),)


@functools.lru_cache(maxsize=4096)
def _has_letter(font: ImageFont.FreeTypeFont, letter: str) -> bool:
    if letter.isspace():
        return True
    return bytes(font.getmask(letter)) != bytes(font.getmask(_NO_SUCH_LETTER))


def runs(text: str, size: int) -> list[tuple[str, ImageFont.FreeTypeFont]]:
    """``text`` cut into runs of letters drawn by one font each."""
    fonts = font_chain(size)
    found: list[tuple[str, ImageFont.FreeTypeFont]] = []
    for letter in text:
        font = next((font for font in fonts if _has_letter(font, letter)), fonts[0])
        if found and found[-1][1] is font:
            found[-1] = (found[-1][0] + letter, font)
        else:
            found.append((letter, font))
    return found


def missing_letters(text: str, size: int = 20) -> str:
    """The letters of ``text`` that no font here can draw ("" when all can)."""
    fonts = font_chain(size)
    return "".join(letter for letter in text
                   if not any(_has_letter(font, letter) for font in fonts))


@functools.lru_cache(maxsize=256)
def label_image(text: str, size: int, colour: tuple[int, int, int],
                background: tuple[int, int, int], padding: int = 4) -> np.ndarray:
    """``text`` drawn in ``colour`` on ``background`` (BGR), as a BGR image. Cached:
    the same names are drawn frame after frame."""
    pieces = runs(text, size)
    ascent = max(font.getmetrics()[0] for _, font in pieces)
    descent = max(font.getmetrics()[1] for _, font in pieces)
    width = int(sum(font.getlength(piece) for piece, font in pieces))
    image = Image.new("RGB", (width + 2 * padding, ascent + descent + 2 * padding),
                      background[::-1])
    draw = ImageDraw.Draw(image)
    x = float(padding)
    for piece, font in pieces:
        # Each run on the common baseline, whatever its font's own ascent.
        draw.text((x, padding + ascent), piece, font=font, fill=colour[::-1], anchor="ls")
        x += font.getlength(piece)
    picture = np.asarray(image)[:, :, ::-1]
    picture.setflags(write=False)
    return picture
