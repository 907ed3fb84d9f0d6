"""Writing files so that a crash never leaves a half-written one, readable by the owner only.

Encodings and greeting logs are biometric data: every file the program
creates is made with mode 0600.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np


def write_npz_atomically(path: str, **arrays: np.ndarray) -> None:
    """Write ``arrays`` to ``path`` (.npz) via a temporary file and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
