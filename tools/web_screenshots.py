"""Screenshots of every page of ``--web``, on a laptop and on a phone, to look at.

    .venv/bin/python tools/web_screenshots.py [OUT_DIR]   (default: /tmp/facenet-web)

Runs the real greeter on the test clip of tests/videos.py (Barack Obama at a
podium, then Bob Menendez) with Obama and Amy known (Amy in a folder of
three photos), waits until Obama was greeted and Bob is a visitor, and
saves the login form and each page at 1280x800 and 390x844 (CSS pixels) as
``<page>-<width>x<height>.png``: the whole page, not only the first screen.
Needs Debian's chromium and chromium-driver, selenium, and ../shared.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import browser  # noqa: E402
from streams import free_port  # noqa: E402
from videos import write_door_clip  # noqa: E402

FACES = REPO.parent / "shared" / "faces" / "people"
PAGES = {"live": "/", "people": "/people", "visitors": "/visitors", "history": "/history"}
# The greeter runs with a password, so that the login form is seen and used too.
PASSWORD = "screenshots"
SIZES = [(1280, 800), (390, 844)]


def status(url: str, path: str) -> dict:
    request = urllib.request.Request(url + path,
                                     headers={"Authorization": f"Bearer {PASSWORD}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)
    except OSError:
        return {}


def prepare(folder: Path) -> tuple[Path, Path]:
    images = folder / "images"
    (images / "amy").mkdir(parents=True)
    shutil.copy(FACES / "obama" / "obama_1.jpg", images / "Barack_Obama.jpg")
    for number in (1, 2, 3):
        shutil.copy(FACES / "amy" / f"amy_{number}.png", images / "amy" / f"amy_{number}.png")
    clip = folder / "door.avi"
    write_door_clip(clip)
    return images, clip


def shoot(url: str, out: Path) -> list[Path]:
    """Each page at each size, whole; the files written."""
    written = []
    for width, height in SIZES:
        driver = browser.chromium(width, height)
        try:
            driver.get(url + "/login")
            written.append(save(driver, out / f"login-{width}x{height}.png", width))
            driver.find_element("id", "password").send_keys(PASSWORD + "\n")
            time.sleep(1)
            for name, path in PAGES.items():
                driver.get(url + path)
                time.sleep(3)  # the stream's first pictures, the figures' first refresh
                written.append(save(driver, out / f"{name}-{width}x{height}.png", width))
        finally:
            driver.quit()
    return written


def save(driver, target: Path, width: int) -> Path:
    """The whole page as ``target`` (PNG); says so when it is wider than the screen."""
    shot = driver.execute_cdp_cmd("Page.captureScreenshot",
                                  {"format": "png", "captureBeyondViewport": True})
    wide = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    if wide > 0:
        print(f"warning: {target.name} is {wide} px wider than a {width} px screen")
    target.write_bytes(base64.b64decode(shot["data"]))
    return target


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/facenet-web")
    reason = browser.missing()
    if reason or not FACES.is_dir():
        print(f"error: {reason or f'{FACES} not found'}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        images, clip = prepare(folder)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = browser.start_greeter(folder, images, clip, port, "--realtime", "--loop",
                                        password=PASSWORD)
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and not (
                    status(url, "/api/greetings").get("entries")
                    and status(url, "/api/visitors").get("visitors")):
                if process.poll() is not None:
                    print((folder / "out.txt").read_text(), file=sys.stderr)
                    return 1
                time.sleep(1)
            for path in shoot(url, out):
                print(path)
        finally:
            process.terminate()
            process.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
