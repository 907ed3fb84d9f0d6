"""Imports run one way: each module of greeter/ imports only modules below it.

LAYERS lists every module from the top (the command line) down to the
stages nothing else builds on. A module may import those listed after it,
never one listed before it, so the import map has no circle and no stage
imports a command. Imports inside functions count too.
"""

from __future__ import annotations

import ast
import importlib

import pytest

from conftest import REPO

PACKAGE = REPO / "greeter"

LAYERS = [
    # the command line, and the commands it hands parsed options to
    "cli", "app", "enroll", "doctor", "calibrate", "visitors", "service",
    # what the commands share: loading the networks once from the typed settings, the
    # settings file they are read from; one greeter per folder and source
    "common", "settings", "settings_file", "instance",
    # what the frame loop does with each frame's faces
    "reactions",
    # the stages, each building only on those below it
    "progress", "draw", "fonts", "speak", "speech_worker", "greetings", "greet", "events", "outbox",
    "presence", "visits", "crops",
    "database", "recognise", "match",
    "encode", "photo_faces", "landmarker", "embed", "models", "openface", "resnet", "shape5", "sface", "align", "landmarks", "detect",
    "faceboxes", "yunet",
    "capture", "live_sources", "file_sources", "frames", "motion",
    "weights", "photos", "files", "paths", "report", "interrupts",
]


def modules() -> list[str]:
    return sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__")


def imported_modules(name: str) -> set[str]:
    """The greeter modules that greeter/<name>.py imports, anywhere in the file."""
    tree = ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[1] for alias in node.names
                         if alias.name.startswith("greeter."))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "greeter":  # from greeter import align, landmarks
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("greeter."):
                found.add(node.module.split(".")[1])
    return found - {name}


def test_every_module_has_its_place_in_the_order():
    unlisted = sorted(set(modules()) - set(LAYERS))
    assert not unlisted, (f"add {unlisted} to LAYERS in {__file__}, below every module "
                          "that imports it and above every module it imports")
    assert sorted(set(LAYERS) - set(modules())) == [], "LAYERS names a module that is gone"
    assert len(LAYERS) == len(set(LAYERS))


@pytest.mark.parametrize("name", modules())
def test_imports_only_modules_below_it(name):
    importlib.import_module(f"greeter.{name}")  # it imports at all
    if name not in LAYERS:
        pytest.skip(f"{name} is not in LAYERS (see the test above)")
    rank = LAYERS.index(name)
    upward = sorted(module for module in imported_modules(name)
                    if module in LAYERS and LAYERS.index(module) < rank)
    assert not upward, f"greeter/{name}.py imports {upward}, which sit above it in LAYERS"


def test_the_order_is_checked_against_real_imports():
    """The reader sees real edges: cli reaches the commands, encode the networks."""
    assert {"app", "enroll", "doctor", "calibrate", "common"} <= imported_modules("cli")
    assert {"detect", "landmarker", "embed", "photo_faces"} <= imported_modules("encode")
    assert {"align", "resnet", "openface", "sface", "shape5"} <= imported_modules("embed")
    assert "cli" not in set().union(*(imported_modules(name) for name in modules()))
