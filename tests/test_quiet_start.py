"""A quiet start: the real program prints none of TensorFlow's, absl's or oneDNN's
start-up lines unless --verbose asks for them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, greeted

VIDEO = REPO.parent / "shared" / "videos" / "podium" / "obama.mp4"

# What TensorFlow 2.x, its C++ logging (absl) and oneDNN print while loading.
CHATTER = re.compile(r"absl::InitializeLog|oneDNN|TF_ENABLE_ONEDNN_OPTS|cpu_feature_guard"
                     r"|This TensorFlow binary|^[IWE]\d{4} \d\d:\d\d:\d\d", re.MULTILINE)


def user_env(tmp_path, **settings: str) -> dict[str, str]:
    """The environment of a user who set nothing for TensorFlow."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("TF_CPP_", "TF_ENABLE_ONEDNN"))}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return dict(env, XDG_CACHE_HOME=str(tmp_path / "cache"), **settings)


def run(tmp_path, *arguments: str, **settings: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "facenet.py"), *arguments],
                          cwd=tmp_path, env=user_env(tmp_path, **settings),
                          capture_output=True, text=True, timeout=300)


def test_verify_prints_only_its_answer(faces, tmp_path):
    amy, biden = faces / "people/amy/amy_1.png", faces / "people/biden/biden_1.jpg"
    result = run(tmp_path, "verify", str(amy), str(biden))
    assert result.returncode == 0, result.stderr
    assert "different people" in result.stdout
    assert not CHATTER.search(result.stdout + result.stderr), result.stderr


def test_verbose_lets_tensorflow_speak(faces, tmp_path):
    amy, biden = faces / "people/amy/amy_1.png", faces / "people/biden/biden_1.jpg"
    result = run(tmp_path, "verify", "--verbose", str(amy), str(biden))
    assert result.returncode == 0, result.stderr
    # Level 0 shows TensorFlow's info lines, such as the CPU instructions it was built for.
    assert CHATTER.search(result.stderr), result.stderr


def test_the_users_own_log_level_is_kept(faces, tmp_path):
    amy, biden = faces / "people/amy/amy_1.png", faces / "people/biden/biden_1.jpg"
    result = run(tmp_path, "verify", str(amy), str(biden), TF_CPP_MIN_LOG_LEVEL="0")
    assert result.returncode == 0, result.stderr
    assert CHATTER.search(result.stderr), result.stderr


def test_the_greeter_starts_quietly_on_a_video(faces, tmp_path):
    if not VIDEO.exists():
        pytest.skip(f"{VIDEO} is not there (see ../shared/videos)")
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(faces / "people/obama/obama_1.jpg", images / "obama.jpg")
    result = run(tmp_path, "--source", str(VIDEO), "--images", str(images),
                 "--headless", "--no-speech")
    assert result.returncode == 0, result.stderr
    assert greeted(result.stdout) == ["Obama"]
    assert not CHATTER.search(result.stdout + result.stderr), result.stderr
