"""Where the project's own files live, wherever the program is started from."""

import os

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEIGHTS_DIR = os.path.join(PROJECT_DIR, "weights")
IMAGES_DIR = os.path.join(PROJECT_DIR, "images")
