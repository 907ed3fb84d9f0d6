"""facenet's parts, one module per stage of the pipeline.

capture -> detect -> landmarks/align -> encode -> match -> speak/draw.
The top-level ``facenet.py``, ``fr_utils.py`` and ``inception_blocks_v2.py``
are the familiar entry points; the work happens here.
"""
