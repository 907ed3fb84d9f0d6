"""Shared fixtures: the real face photos beside the repository, and the real encoder."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FACES = (REPO.parent / "shared" / "faces").resolve()

# A greeting as the greeter prints it with the built-in English sentences:
# "2026-03-02 08:15:00 Good morning, Alice!", "... Welcome back, Alice and Bob!".
GREETING = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?:Good (?:morning|afternoon|evening), "
                      r"|Welcome back, |Hello )(.+?)(?:, you are up late)?!$", re.M)


def greeted(output: str) -> list[str]:
    """The names greeted in the greeter's ``output``, in order ("Alice and Bob" for two
    greeted together)."""
    return GREETING.findall(output)


@pytest.fixture(scope="session", autouse=True)
def private_visitors_folder(tmp_path_factory) -> Path:
    """Unknown visitors seen by any test (and the programs it starts), the events that
    wait and the locks of running greeters are kept in temporary folders, never in the
    user's own data folder."""
    folder = tmp_path_factory.mktemp("visitors")
    os.environ["FACENET_VISITORS_DIR"] = str(folder)
    os.environ["FACENET_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    return folder


@pytest.fixture(scope="session")
def faces() -> Path:
    """../shared/faces beside the repository; tests that need it skip where it is absent."""
    if not FACES.is_dir():
        pytest.skip(f"real face photos not found at {FACES} (../shared/faces beside the "
                    "repository); they are in every developer checkout and in CI")
    return FACES


@pytest.fixture(scope="session")
def encoder():
    """The default FaceEncoder (dlib+sface: dlib's ResNet and SFace, shipped weights),
    loaded once per session."""
    from greeter.encode import FaceEncoder
    return FaceEncoder()


@pytest.fixture(scope="session")
def dlib_encoder():
    """``--model dlib``: dlib's network alone (face_recognition's pipeline), once per session."""
    from greeter.encode import FaceEncoder
    return FaceEncoder("dlib")
