"""The web page in a real headless chromium, against the real greeter on real video.

One greeter runs for the module: ``python facenet.py --web`` on a clip of
two real recordings played in a loop in real time (Barack Obama at a podium,
then Bob Menendez talking), with nobody known at first. Through the page a
photo of Obama from ../shared/faces is uploaded and he is greeted in the
video afterwards; Bob Menendez, an unknown visitor, is named and greeted
from then on; the greetings show in the history, with a crop.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np
import pytest

import browser
from conftest import greeted
from streams import free_port
from videos import BOB, DOOR_SIZE as SIZE, OBAMA, fitted, write_door_clip

# The machine running the tests may be loaded: a greeting may take a while to come.
PATIENCE = 120.0


class Greeter:
    """The running program: its URL, and what it printed so far."""

    def __init__(self, process: subprocess.Popen, url: str, out: Path, images: Path) -> None:
        self.process, self.url, self.out, self.images = process, url, out, images

    def output(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=30) as answer:
            return json.load(answer)

    def wait_for(self, what, timeout: float = PATIENCE, message: str = ""):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the greeter exited: {self.output()[-2000:]}"
            value = what()
            if value:
                return value
            time.sleep(0.5)
        pytest.fail(f"{message} within {timeout:.0f} s; the greeter printed:\n"
                    f"{self.output()[-3000:]}")


@pytest.fixture(scope="module")
def running(faces, tmp_path_factory):
    for video in (OBAMA, BOB):
        if not video.is_file():
            pytest.skip(f"{video} not found (../shared/videos beside the repository)")
    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("web")
    clip, images = folder / "door.avi", folder / "images"
    images.mkdir()
    write_door_clip(clip)
    port = free_port()
    out = folder / "out.txt"
    process = browser.start_greeter(folder, images, clip, port, "--realtime", "--loop",
                                    "--cooldown", "5", out=out)
    greeter = Greeter(process, f"http://127.0.0.1:{port}", out, images)
    try:
        greeter.wait_for(lambda: _frames(greeter) > 0, message="no frame processed")
        yield greeter
    finally:
        process.terminate()
        process.wait(30)


def _frames(greeter: Greeter) -> int:
    try:
        return greeter.get("/api/status")["frames"]
    except OSError:
        return 0


@pytest.fixture(scope="module")
def page(running):
    driver = browser.chromium(1280, 800)
    yield driver
    driver.quit()


def note(driver) -> str:
    from selenium.webdriver.common.by import By
    return driver.find_element(By.CSS_SELECTOR, ".note").text


def test_the_live_picture_changes_and_shows_the_state(running, page):
    from selenium.webdriver.common.by import By
    page.get(running.url + "/")
    live = page.find_element(By.ID, "live")
    running.wait_for(lambda: page.execute_script("return arguments[0].naturalWidth", live),
                     30, "the live picture did not show")
    assert page.execute_script("return arguments[0].naturalWidth", live) == SIZE[0]
    first = live.screenshot_as_png
    running.wait_for(lambda: live.screenshot_as_png != first, 30,
                     "the live picture did not change")
    running.wait_for(lambda: "fps" in page.find_element(By.CSS_SELECTOR, '[data-field="fps"]').text
                     and page.find_element(By.CSS_SELECTOR, '[data-field="fps"]').text[0].isdigit(),
                     30, "no frame rate shown")
    assert "web page's history" in page.find_element(By.ID, "events").text


def test_a_photo_uploaded_on_the_page_is_greeted_in_the_video(running, page, faces):
    from selenium.webdriver.common.by import By
    before = datetime.now(timezone.utc).isoformat()
    page.get(running.url + "/people")
    page.find_element(By.ID, "add-name").send_keys("Barack Obama")
    page.find_element(By.ID, "add-photos").send_keys(
        "\n".join(str(faces / "people" / "obama" / f"obama_{n}.jpg") for n in (1, 2)))
    page.find_element(By.CSS_SELECTOR, "#add-form button").click()
    running.wait_for(lambda: page.find_elements(By.CSS_SELECTOR, ".note"), 60, "no answer")
    assert "saved Barack_Obama.jpg, Barack_Obama_2.jpg" in note(page), note(page)
    assert sorted(os.listdir(running.images)) == ["Barack_Obama.jpg", "Barack_Obama_2.jpg"]
    assert all(os.stat(running.images / name).st_mode & 0o777 == 0o600
               for name in os.listdir(running.images))
    running.wait_for(lambda: "Barack Obama" in greeted(running.output()),
                     message="Barack Obama was not greeted after his photo was uploaded")
    names = [person["name"] for person in running.get("/api/people")["people"]]
    assert names == ["Barack Obama"]
    greetings = running.wait_for(
        lambda: running.get(f"/api/greetings?since={quote(before)}")["entries"], 30,
        "the greeting is not in the history")
    assert greetings[0]["name"] == "Barack Obama" and 0 < greetings[0]["distance"] <= 1.0
    assert greetings[0]["crop"] == f"/history/{greetings[0]['id']}.jpg"
    assert greetings[0]["source"].endswith("door.avi in real time")
    later = datetime.now(timezone.utc).isoformat()
    assert greetings[-1]["id"] not in [g["id"] for g in
                                       running.get(f"/api/greetings?since={quote(later)}")["entries"]]

    page.get(running.url + "/history?name=Barack+Obama")
    entry = page.find_element(By.CSS_SELECTOR, "#history .entry.greeting")
    assert "Greeted Barack Obama" in entry.text and "distance" in entry.text
    crop = entry.find_element(By.TAG_NAME, "img")
    assert page.execute_script("return arguments[0].naturalWidth", crop) > 50


def bob_visitor(running, encoder) -> int:
    """The id of the visitor who is Bob Menendez: the one whose best crop is nearest a
    frame of his recording (the encoder of the test, not the greeter's word)."""
    capture = cv2.VideoCapture(str(BOB))
    ok, frame = capture.read()
    capture.release()
    frame = fitted(frame)
    box = encoder.detector.face_locations(frame)[0]
    bob = encoder.face_encodings(frame, [box])[0]
    best = None
    for visitor in running.get("/api/visitors")["visitors"]:
        with urllib.request.urlopen(running.url + visitor["crops"][0], timeout=30) as answer:
            crop = cv2.imdecode(np.frombuffer(answer.read(), np.uint8), cv2.IMREAD_COLOR)
        found = encoder.detector.face_locations(crop)
        if found:
            distance = float(np.linalg.norm(encoder.face_encodings(crop, found[:1])[0] - bob))
            if best is None or distance < best[0]:
                best = (distance, visitor["id"])
    assert best is not None and best[0] < encoder.threshold, "Bob Menendez is no visitor"
    return best[1]


def test_a_visitor_named_on_the_page_becomes_a_person_and_is_greeted(running, page, encoder):
    from selenium.webdriver.common.by import By
    running.wait_for(lambda: len(running.get("/api/visitors")["visitors"]) >= 1,
                     message="no visitor kept")
    running.wait_for(lambda: _has_bob(running, encoder), message="Bob Menendez is no visitor")
    visitor = bob_visitor(running, encoder)
    page.get(running.url + "/visitors")
    field = page.find_element(By.ID, f"name-{visitor}")
    field.send_keys("Bob Menendez")
    field.submit()
    running.wait_for(lambda: page.find_elements(By.CSS_SELECTOR, ".note"), 60, "no answer")
    assert f"visitor {visitor} is Bob Menendez" in note(page), note(page)
    assert any(name.startswith("Bob_Menendez") for name in os.listdir(running.images))
    row = next(v for v in running.get("/api/visitors")["visitors"] if v["id"] == visitor)
    assert row["enrolled_as"] == "Bob Menendez"
    page.get(running.url + "/people")
    assert "Bob Menendez" in page.find_element(By.TAG_NAME, "main").text
    running.wait_for(lambda: "Bob Menendez" in greeted(running.output()),
                     message="Bob Menendez was not greeted once named")


def _has_bob(running, encoder) -> bool:
    try:
        bob_visitor(running, encoder)
    except AssertionError:
        return False
    return True


def test_the_json_api_as_a_script_reads_it(running):
    status = running.get("/api/status")
    assert status["source"].endswith("in real time") and status["frames"] > 0
    assert status["fps"] is None or status["fps"] > 0
    assert [sink["destination"] for sink in status["events"]] == ["web page's history"]
    for face in status["faces"]:
        assert len(face["box"]) == 4 and isinstance(face["track"], int)
    people = running.get("/api/people")["people"]
    assert all(set(person) == {"name", "photos", "skipped", "settings"} for person in people)
    visitors = running.get("/api/visitors")["visitors"]
    assert visitors and all(visitor["crops"] for visitor in visitors)
    with urllib.request.urlopen(running.url + "/snapshot.jpg", timeout=30) as answer:
        assert answer.headers["Content-Type"] == "image/jpeg"
        picture = cv2.imdecode(np.frombuffer(answer.read(), np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (SIZE[1], SIZE[0], 3)
    with pytest.raises(urllib.error.HTTPError) as refused:
        running.get("/api/greetings?since=yesterday")
    assert refused.value.code == 400 and "ISO 8601" in refused.value.read().decode()


def test_the_page_is_usable_with_the_keyboard(running, page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    page.get(running.url + "/people")
    keys = ActionChains(page)
    keys.send_keys(Keys.TAB).perform()
    focused = page.switch_to.active_element
    assert focused.text == "Skip to the content"
    keys.send_keys(Keys.ENTER).perform()
    keys.send_keys(Keys.TAB).perform()
    # From the content: the first field of the form to add photos, then the file chooser.
    assert page.switch_to.active_element.get_attribute("id") == "add-name"
    keys.send_keys(Keys.TAB).perform()
    assert page.switch_to.active_element.get_attribute("id") == "add-photos"
    for path, name in (("/", "People"), ("/visitors", "History")):
        page.get(running.url + path)
        links = [link.text for link in page.find_elements("css selector", "nav a")]
        assert name in links and all(link.get_attribute("href") for link in
                                     page.find_elements("css selector", "nav a"))


def test_sigterm_with_a_stream_open_stops_cleanly(running):
    """Last in this file: it stops the module's greeter."""
    stream = urllib.request.urlopen(running.url + "/live.mjpg", timeout=30)
    assert stream.read(1000).startswith(b"--frame")
    started = time.monotonic()
    running.process.terminate()
    assert running.process.wait(30) == 0
    assert time.monotonic() - started < 15
    output = running.output()
    assert "processed " in output and "sent to the web page's history" in output
    stream.close()
