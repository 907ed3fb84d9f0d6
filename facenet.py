"""facenet: welcome the people whose photos are in images/ by name.

    python facenet.py                 # camera 0, images/, speech on
    python facenet.py --help          # every option and command
"""

import gc
import os
import sys
import time

LAUNCHED = time.monotonic()


def _run_in_project_environment(missing: str) -> None:
    """Started by a Python without facenet's packages (`python facenet.py` outside the
    environment): run again with the project's .venv, or say how to set it up."""
    environment = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".venv")
    python = os.path.join(environment, "Scripts" if os.name == "nt" else "bin",
                          "python.exe" if os.name == "nt" else "python")
    if os.path.isfile(python) and os.path.realpath(sys.prefix) != os.path.realpath(environment):
        os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])
    sys.exit(f"error: this Python ({sys.executable}) does not have facenet's packages "
             f"(no module named {missing!r}). Set them up once with ./setup.sh (or "
             "pip install -r requirements.txt in a virtual environment), then run "
             ".venv/bin/python facenet.py")


if __name__ == "__main__":
    # First: a SIGTERM or Ctrl+C while the imports below run stops the program as
    # cleanly as one later (not by the default action, mid-import).
    from greeter.interrupts import hold_stop_signals
    hold_stop_signals()

try:
    from greeter.cli import main  # after LAUNCHED: start-up time includes imports
except ModuleNotFoundError as error:
    if error.name is None or error.name.split(".")[0] == "greeter":
        raise
    _run_in_project_environment(error.name)

if __name__ == "__main__":
    try:
        status = main(launched=LAUNCHED)
    except BrokenPipeError:  # the reader of our output went away (| head, a closed log)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 1
    # TensorFlow leaves millions of objects: the interpreter's last garbage
    # collection would take a second of the two a Ctrl+C may take; the OS
    # frees them faster.
    gc.freeze()
    sys.exit(status)
