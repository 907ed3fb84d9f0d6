"""facenet: welcome the people whose photos are in images/ by name.

    python facenet.py                 # camera 0, images/, speech on
    python facenet.py --help          # every option and command
"""

import sys

from greeter.cli import main

if __name__ == "__main__":
    sys.exit(main())
