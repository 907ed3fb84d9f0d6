"""Where the project's own files live, wherever the program is started from, and
where the program keeps what it learns (the user's data folder)."""

import os

import platformdirs

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEIGHTS_DIR = os.path.join(PROJECT_DIR, "weights")
IMAGES_DIR = os.path.join(PROJECT_DIR, "images")
DATA_DIR_VARIABLE = "FACENET_DATA_DIR"


def data_dir() -> str:
    """$FACENET_DATA_DIR, else the user's data folder for facenet
    (``~/.local/share/facenet`` on Linux): visitors, waiting events, running greeters."""
    return (os.environ.get(DATA_DIR_VARIABLE)
            or platformdirs.user_data_dir("facenet", appauthor=False))
