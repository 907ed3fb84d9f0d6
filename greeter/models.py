"""The face encoders one can choose (``--model``) and the distance that names a person
with each: known before any network is loaded, so that options are checked at once."""

from __future__ import annotations

FUSED = "dlib+sface"
NETWORKS = (FUSED, "dlib", "openface")
DEFAULT_NETWORK = FUSED

# Chosen on ../shared/faces/people with bench/accuracy.py; see README.md.
DLIB_THRESHOLD = 0.6
# The fused model's scales and threshold, chosen on the IMM face database
# (tools/choose_fusion.py; never on the sets README.md reports): a distance
# of DLIB_UNIT in dlib's encodings counts as much as SFACE_UNIT between two
# unit SFace features (SFACE_UNIT = sqrt(2 - 2 cos)).
DLIB_UNIT = 1.041
SFACE_UNIT = 1.301
FUSED_THRESHOLD = 1.0
# The classic demo's largest L2 distance between encodings of one person.
OPENFACE_THRESHOLD = 0.52

THRESHOLDS = {FUSED: FUSED_THRESHOLD, "dlib": DLIB_THRESHOLD, "openface": OPENFACE_THRESHOLD}
