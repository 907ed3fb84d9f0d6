"""Make README.md's screenshot: the real program's window on a virtual screen.

    .venv/bin/python tools/screenshot.py [OUT.png]   (default: docs/screenshot.png)

Needs Debian's xvfb, xdotool and imagemagick (./setup.sh --dev installs
them) and ../shared/faces. The photos come from the face_recognition
project's examples (MIT licence): images/ holds obama_1.jpg as "Barack
Obama" and biden_1.jpg as "Joe Biden"; the video shows a crop of
scenes/obama_and_biden.jpg.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
from conftest import greeted  # noqa: E402
from videos import write_video  # noqa: E402

FACES = Path(REPO).parent / "shared" / "faces"


def main() -> int:
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                          os.path.join(REPO, "docs", "screenshot.png"))
    for tool in ("Xvfb", "xdotool", "import"):
        if not shutil.which(tool):
            print(f"error: {tool} is missing: ./setup.sh --dev installs it", file=sys.stderr)
            return 1
    work = Path(tempfile.mkdtemp(prefix="facenet-shot-"))
    images = work / "images"
    images.mkdir()
    shutil.copy(FACES / "people/obama/obama_1.jpg", images / "barack_obama.jpg")
    shutil.copy(FACES / "people/biden/biden_1.jpg", images / "joe_biden.jpg")
    # The two of them as a camera by a door would see them: heads and shoulders.
    scene = cv2.imread(str(FACES / "scenes/obama_and_biden.jpg"))
    height, width = scene.shape[:2]
    cv2.imwrite(str(work / "door.png"),
                scene[int(height * 0.15):int(height * 0.75), int(width * 0.25):int(width * 0.8)])
    video = work / "door.avi"
    write_video(video, [(work / "door.png", 6)])
    display = ":77"
    screen = subprocess.Popen(["Xvfb", display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
    env = dict(os.environ, DISPLAY=display, XDG_CACHE_HOME=str(work / "cache"),
               PYTHONUNBUFFERED="1")
    program = None
    try:
        time.sleep(1)
        program = subprocess.Popen(
            [sys.executable, os.path.join(REPO, "facenet.py"), "--source", str(video),
             "--images", str(images), "--no-speech", "--loop"],
            env=env, stdout=subprocess.PIPE, text=True)
        # If nobody is ever greeted, the loop below ends when this kills the program.
        threading.Timer(90, program.kill).start()
        for line in program.stdout:
            if greeted(line.rstrip("\n")):
                break
        time.sleep(2)
        window = subprocess.run(["xdotool", "search", "--name", "^facenet$"], env=env,
                                capture_output=True, text=True).stdout.split()
        subprocess.run(["import", "-window", window[-1] if window else "root", out],
                       env=env, check=True)
        print(f"wrote {out}")
    finally:
        if program is not None:
            program.send_signal(signal.SIGTERM)
            program.communicate(timeout=30)
        screen.terminate()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
