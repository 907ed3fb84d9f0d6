"""facenet's parts, one module per stage of the pipeline.

capture -> detect -> landmarks/align -> encode -> match -> speak/draw.
Imports run one way: cli, then the commands (app, enroll, doctor, calibrate),
then common, then the stages (see README's "How it works" and
tests/test_imports.py for the order).
The top-level ``facenet.py``, ``fr_utils.py`` and ``inception_blocks_v2.py``
are the familiar entry points; the work happens here.
"""
