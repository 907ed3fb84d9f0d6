"""Who may use the web page and what it refuses: the real app, in process, on real photos.

The app is the one ``--web`` serves, built on a real PhotoLibrary of photos
from ../shared/faces and the real encoder; Starlette's test client speaks
HTTP to it without a socket. The checks of the command line and of a port
in use run the real program.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest

from conftest import REPO, greeted
from web_app import make_client

PASSWORD = "door-secret-42"


@pytest.fixture(scope="module")
def library(faces, encoder, tmp_path_factory):
    from greeter.database import PhotoLibrary
    images = tmp_path_factory.mktemp("images")
    shutil.copy(faces / "people" / "amy" / "amy_1.png", images / "amy.png")
    library = PhotoLibrary(str(images), encoder, cache_dir=str(tmp_path_factory.mktemp("cache")))
    library.refresh()
    return library


@pytest.fixture
def locked(library, encoder, tmp_path):
    """The page bound to the network, with a password."""
    return make_client(library, encoder, tmp_path, PASSWORD, "192.168.1.20")


@pytest.fixture
def open_page(library, encoder, tmp_path):
    """The page on 127.0.0.1 without a password."""
    return make_client(library, encoder, tmp_path, None, "127.0.0.1")


def log_in(client) -> str:
    """Log in; the session's CSRF token."""
    answer = client.post("/login", data={"password": PASSWORD})
    assert answer.status_code == 303
    return client.get("/api/status").json()["csrf"]


def test_without_a_password_nothing_but_the_login_form(locked):
    assert locked.get("/people").headers["location"] == "/login"
    assert locked.get("/api/people").status_code == 401
    assert locked.get("/snapshot.jpg").status_code == 401
    assert locked.get("/live.mjpg").status_code == 401
    assert locked.post("/api/people/rename", data={"name": "Amy", "new_name": "x"}
                       ).status_code == 401
    assert 'type="password"' in locked.get("/login").text


def test_login_gives_a_strict_http_only_session_cookie(locked):
    answer = locked.post("/login", data={"password": PASSWORD})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert [person["name"] for person in locked.get("/api/people").json()["people"]] == ["Amy"]
    locked.post("/logout", data={"csrf": locked.get("/api/status").json()["csrf"]})
    assert locked.get("/api/people").status_code == 401


def test_wrong_passwords_are_slowed_after_three(locked):
    for _ in range(3):
        answer = locked.post("/login", data={"password": "guess"})
        assert answer.status_code == 401 and "wrong password" in answer.text
    answer = locked.post("/login", data={"password": PASSWORD})
    assert answer.status_code == 429 and "too many wrong passwords: wait" in answer.text


def test_a_write_without_the_csrf_token_is_refused(locked, library):
    token = log_in(locked)
    for data in ({"name": "Amy", "new_name": "Amelia"},
                 {"name": "Amy", "new_name": "Amelia", "csrf": "not-the-token"}):
        answer = locked.post("/api/people/rename", data=data)
        assert answer.status_code == 403 and "CSRF token" in answer.json()["error"]
    assert os.listdir(library.images_dir) == ["amy.png"]
    # The token is what lets it through (a refusal for another reason, not this one).
    answer = locked.post("/api/people/rename", data={"name": "Amy", "new_name": "Amy",
                                                     "csrf": token})
    assert answer.status_code == 400 and "already what the greeter calls them" in answer.text


def test_a_script_with_the_password_as_bearer_needs_no_session(locked):
    headers = {"Authorization": f"Bearer {PASSWORD}"}
    assert locked.get("/api/status", headers=headers).status_code == 200
    assert locked.get("/api/status", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_names_with_dot_dot_or_slashes_are_refused(open_page, library):
    token = open_page.get("/api/status").json()["csrf"]
    photo = REPO.parent / "shared" / "faces" / "people" / "amy" / "amy_2.png"
    for name in ("../evil", "..", "a/b", "..\\up", ".hidden"):
        answer = open_page.post("/api/people/photos", data={"name": name, "csrf": token},
                                files={"photos": ("amy.png", photo.read_bytes(), "image/png")})
        assert answer.status_code == 400, name
        assert "leave it out" in answer.json()["error"] or "is not a name" in answer.json()["error"]
    assert open_page.get("/photo.jpg?path=../../etc/passwd").status_code == 404
    assert sorted(os.listdir(library.images_dir)) == ["amy.png"]
    assert not (REPO.parent / "evil.jpg").exists()


def test_a_50_mb_upload_and_a_text_file_named_jpg_are_refused(open_page, library):
    token = open_page.get("/api/status").json()["csrf"]
    large = open_page.post("/api/people/photos", data={"name": "Big", "csrf": token},
                           files={"photos": ("big.jpg", b"\xff\xd8\xff" + os.urandom(50 * 2**20),
                                             "image/jpeg")})
    assert large.status_code == 413
    assert "big.jpg is 50.0 MB; photos up to 20 MB are taken" in large.json()["error"]
    text = open_page.post("/api/people/photos", data={"name": "Text", "csrf": token},
                          files={"photos": ("notes.jpg", b"shopping list: milk\n" * 50,
                                            "image/jpeg")})
    assert text.status_code == 422
    assert "notes.jpg: cannot be decoded: not an image but text" in text.json()["error"]
    assert sorted(os.listdir(library.images_dir)) == ["amy.png"]


def test_a_form_of_the_page_gets_its_page_back_with_the_message(open_page):
    token = open_page.get("/api/status").json()["csrf"]
    answer = open_page.post("/api/people/rename", data={"name": "Nobody", "new_name": "X",
                                                        "csrf": token, "next": "/people"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/people?note=")
    page = open_page.get(answer.headers["location"])
    assert "nobody called &#39;Nobody&#39;" in page.text and 'role="alert"' in page.text
    # Only the page's own paths: never a redirect elsewhere.
    answer = open_page.post("/api/people/rename", data={"name": "Nobody", "new_name": "X",
                                                        "csrf": token,
                                                        "next": "https://evil.example/"})
    assert answer.status_code == 404 and "location" not in answer.headers


def test_loopback_page_answers_only_to_loopback_host_names(open_page):
    assert open_page.get("/api/status").status_code == 200
    assert open_page.get("/api/status", headers={"Host": "localhost:8080"}).status_code == 200
    # A site that points its own name at 127.0.0.1 (DNS rebinding) reads nothing.
    assert open_page.get("/api/status", headers={"Host": "evil.example:8080"}).status_code == 403


def program(*options: str, timeout: float = 60) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items()
                   if key != "FACENET_WEB_PASSWORD"}
    return subprocess.run([sys.executable, str(REPO / "facenet.py"), *options],
                          capture_output=True, text=True, timeout=timeout, env=environment)


@pytest.mark.parametrize("address", ["0.0.0.0:8080", "192.168.1.20:8080", "[::]:8080"])
def test_no_password_on_a_network_address_exits_2(address):
    result = program("--web", address, "--headless")
    assert result.returncode == 2
    assert "without a password" in result.stderr and "FACENET_WEB_PASSWORD" in result.stderr


def test_a_bad_address_exits_2():
    result = program("--web", "127.0.0.1:http", "--headless")
    assert result.returncode == 2 and "give [HOST:]PORT" in result.stderr


def test_a_port_in_use_is_named_and_the_greeter_still_runs(faces, tmp_path):
    from videos import write_video
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(faces / "people" / "obama" / "obama_1.jpg", images / "obama.jpg")
    video = tmp_path / "door.avi"
    write_video(video, [(None, 0.5), (faces / "people" / "obama" / "obama_2.jpg", 3.0)])
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        result = program("--images", str(images), "--source", str(video), "--headless",
                         "--no-speech", "--web", f"127.0.0.1:{port}", timeout=300)
    finally:
        taken.close()
    assert result.returncode == 0, result.stderr
    assert f"port {port} is in use" in result.stderr
    assert "choose another with --web [HOST:]PORT; the greeter goes on without it" in result.stderr
    assert greeted(result.stdout) == ["Obama"]


@pytest.mark.parametrize("value, address", [
    ("8080", ("127.0.0.1", 8080)), ("0.0.0.0", ("0.0.0.0", 8750)),
    ("0.0.0.0:81", ("0.0.0.0", 81)), ("[::1]:9000", ("::1", 9000)), ("[::]", ("::", 8750))])
def test_web_addresses(value, address):
    from greeter.web.security import parse_address
    assert parse_address(value) == address
