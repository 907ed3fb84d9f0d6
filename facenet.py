"""facenet: welcome the people whose photos are in images/ by name.

    python facenet.py                 # camera 0, images/, speech on
    python facenet.py --help          # every option and command
"""

import sys
import time

LAUNCHED = time.monotonic()

from greeter.cli import main  # noqa: E402  (after LAUNCHED: start-up time includes imports)

if __name__ == "__main__":
    sys.exit(main(launched=LAUNCHED))
