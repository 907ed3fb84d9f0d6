"""What the commands share: loading the networks once, from the recognition settings.

The commands (app, calibrate, doctor, enroll, and encode/verify in cli)
import this module; it imports no command, so imports run one way: cli on
top, the commands below it, this module and the stages beneath them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from greeter.report import warn
from greeter.settings import RecognitionSettings

if TYPE_CHECKING:
    from greeter.encode import FaceEncoder


def load_models(recognition: RecognitionSettings) -> FaceEncoder:
    """The face detector, landmarks and networks ``recognition`` asks for, loaded once
    for every photo and frame; raises WeightsError or DetectorError naming the file
    that is wrong."""
    # TensorFlow is imported only now, so that --help and argument errors are instant.
    from greeter.encode import FaceEncoder
    return FaceEncoder(recognition.model, recognition.weights, detector=recognition.detector)


def load_models_or_say_why(recognition: RecognitionSettings) -> FaceEncoder | None:
    """As :func:`load_models`, or None after saying why they cannot load."""
    from greeter.detect import DetectorError
    from greeter.weights import WeightsError
    try:
        return load_models(recognition)
    except (WeightsError, DetectorError) as error:
        warn(f"error: {error}")
        return None
