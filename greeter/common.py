"""What every command shares: exit statuses, warnings, and loading the encoder.

The commands (app, calibrate, doctor, enroll, and encode/verify in cli)
import this module; it imports no command, so imports run one way: cli on
top, the commands below it, this module and the stages beneath them.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from greeter.encode import FaceEncoder

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def warn(text: str) -> None:
    """Print ``text`` on stderr at once (progress, warnings and errors go there)."""
    print(text, file=sys.stderr, flush=True)


def load_encoder(args: argparse.Namespace) -> FaceEncoder | None:
    """The FaceEncoder that ``--model``, ``--weights``, ``--detector`` and ``--threshold`` ask for,
    or None after saying why it cannot load."""
    # TensorFlow is imported only now, so that --help and argument errors are instant.
    from greeter.detect import DetectorError
    from greeter.encode import FaceEncoder
    from greeter.weights import WeightsError
    try:
        encoder = FaceEncoder(args.model, args.weights, detector=args.detector)
    except (WeightsError, DetectorError) as error:
        warn(f"error: {error}")
        return None
    if args.threshold is not None:
        encoder.threshold = args.threshold
    return encoder
