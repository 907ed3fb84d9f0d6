"""`python facenet.py service`: the unit it writes is one systemd accepts, and the
command in it runs the real greeter; nothing the user wrote is replaced.

The program runs with no service manager on its PATH, so that a test never
enables a real service in the developer's own session; the unit is checked
with `systemd-analyze verify` where systemd is installed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, greeted
from greeter.service import MARK


def service(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"), PATH="/nonexistent",
               XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    env.pop("DISPLAY", None)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, str(REPO / "facenet.py"), "service", *args],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120)


def exec_start(unit: str) -> list[str]:
    """The command of an ExecStart= line, unquoted as systemd does for these quotes."""
    line = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
    return [word.replace("%%", "%").replace("$$", "$") for word in shlex.split(line)]


@pytest.fixture
def people(faces, tmp_path) -> Path:
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(faces / "people/obama/obama_1.jpg", images / "barack.jpg")
    return images


def test_install_writes_a_unit_that_runs_the_greeter_and_uninstall_removes_it(
        faces, people, tmp_path):
    hook = 'echo "$FACENET_NAME at 100%" >> ' + str(tmp_path / "hook.txt")
    options = ["--source", str(faces / "people/obama/obama_4.jpg"), "--images", str(people),
               "--headless", "--no-speech", "--no-visitors", "--on-greet", hook]
    installed = service(tmp_path, "install", *options)
    unit_path = tmp_path / "config/systemd/user/facenet.service"
    # No service manager here: written, not started, and the user is told what to run.
    assert installed.returncode == 1, installed.stdout + installed.stderr
    assert f"wrote {unit_path}" in installed.stdout
    assert "systemctl --user daemon-reload && systemctl --user enable --now facenet.service" \
        in installed.stdout
    unit = unit_path.read_text()
    assert unit.startswith(MARK) and "Restart=on-failure" in unit
    assert f"WorkingDirectory={tmp_path / 'work'}" in unit
    command = exec_start(unit)
    assert command == [sys.executable, str(REPO / "facenet.py"), "--wait-for-source", *options]
    if shutil.which("systemd-analyze"):
        verified = subprocess.run(["systemd-analyze", "verify", str(unit_path)],
                                  capture_output=True, text=True)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    # The unit's own command line, run as systemd would run it: the real greeter greets.
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    ran = subprocess.run(command, cwd=tmp_path / "work", env=env, capture_output=True,
                         text=True, timeout=300)
    assert ran.returncode == 0 and greeted(ran.stdout) == ["Barack"], ran.stdout + ran.stderr
    assert (tmp_path / "hook.txt").read_text() == "Barack at 100%\n"

    status = service(tmp_path, "status")
    assert f"installed: {unit_path}" in status.stdout, status.stdout + status.stderr
    removed = service(tmp_path, "uninstall")
    assert removed.returncode == 0 and not unit_path.exists(), removed.stdout + removed.stderr
    assert service(tmp_path, "status").stdout.startswith("not installed")


def test_a_unit_the_user_wrote_is_never_replaced_or_removed(tmp_path):
    unit_path = tmp_path / "config/systemd/user/facenet.service"
    unit_path.parent.mkdir(parents=True)
    unit_path.write_text("[Service]\nExecStart=/usr/bin/my-own-greeter\n")
    for action in ("install", "uninstall"):
        result = service(tmp_path, action)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "not written by facenet" in result.stderr and "left as it is" in result.stderr
    assert unit_path.read_text() == "[Service]\nExecStart=/usr/bin/my-own-greeter\n"


def test_install_checks_the_greeter_options_first(tmp_path):
    result = service(tmp_path, "install", "--cooldwn", "3")
    assert result.returncode == 2 and "unrecognized arguments: --cooldwn" in result.stderr
    assert not (tmp_path / "config/systemd/user/facenet.service").exists()
    assert service(tmp_path, "status", "--source", "1").returncode == 2
