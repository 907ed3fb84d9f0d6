"""facenet: welcome the people whose photos are in images/ by name.

    python facenet.py                 # camera 0, images/, speech on
    python facenet.py --help          # every option and command
"""

import gc
import os
import sys
import time

LAUNCHED = time.monotonic()

from greeter.cli import main  # noqa: E402  (after LAUNCHED: start-up time includes imports)

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
