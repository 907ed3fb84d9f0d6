"""Issue 7, in process: the greetings log and the weight files when the disk or the file is bad."""

from __future__ import annotations

import csv
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from greeter.greet import GreetingLog, GreetingLogError
from greeter.weights import WeightsError, load_tensors

WEIGHTS = REPO / "weights"
CASCADE = REPO / "haarcascade_frontalface_default.xml"


# -- the greetings log -------------------------------------------------------

def rows_of(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.reader(file))


def test_log_folders_are_created_private(tmp_path):
    path = tmp_path / "var" / "facenet" / "greetings.csv"
    log = GreetingLog(str(path))
    log.write("2026-01-01T00:00:00.000+00:00", 3, "Zoë 🎉", 0.25)
    log.close()
    log.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (tmp_path / "var", tmp_path / "var" / "facenet"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert rows_of(path)[1] == ["2026-01-01T00:00:00.000+00:00", "3", "Zoë 🎉", "0.2500"]


def test_log_that_cannot_be_opened_is_a_clear_error(tmp_path):
    for path in (tmp_path, tmp_path / "file" / "greetings.csv"):  # a folder; under a file
        (tmp_path / "file").write_text("x")
        with pytest.raises(GreetingLogError) as raised:
            GreetingLog(str(path))
        assert str(path) in str(raised.value) and "--log" in str(raised.value)


def test_log_cut_short_by_a_crash_goes_on_on_a_new_line(tmp_path):
    path = tmp_path / "greetings.csv"
    path.write_bytes(b"time,frame,name,distance\r\n2026-01-01T00:00:00.000+00:00,1,Al")
    log = GreetingLog(str(path))
    log.write("2026-01-01T00:00:01.000+00:00", 2, "Bob", 0.5)
    log.write("2026-01-01T00:00:02.000+00:00", 3, "Zo\udceb", 0.5)  # a non-UTF-8 file name
    log.close()
    rows = rows_of(path)
    assert rows[2:] == [["2026-01-01T00:00:01.000+00:00", "2", "Bob", "0.5000"],
                        ["2026-01-01T00:00:02.000+00:00", "3", "Zo?", "0.5000"]]


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE (POSIX) makes the disk full")
def test_full_disk_costs_one_warning_and_no_half_row(tmp_path):
    """RLIMIT_FSIZE makes writes past 400 bytes fail as on a full disk; then space comes back."""
    path = tmp_path / "greetings.csv"
    script = f"""
import resource, signal, sys
sys.path.insert(0, {str(REPO)!r})
from greeter.greet import GreetingLog
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
warnings = []
log = GreetingLog({str(path)!r}, on_warning=warnings.append)
resource.setrlimit(resource.RLIMIT_FSIZE, (400, resource.RLIM_INFINITY))
for frame in range(20):
    log.write("2026-01-01T00:00:00.000+00:00", frame, "Alice", 0.4)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
log.write("2026-01-01T00:00:09.000+00:00", 99, "Bob", 0.4)
log.close()
print("\\n".join(warnings))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    warnings = result.stdout.splitlines()
    assert len(warnings) == 2, warnings
    assert str(path) in warnings[0] and "greetings go on" in warnings[0]
    assert "written again" in warnings[1]
    rows = rows_of(path)
    assert all(len(row) == 4 for row in rows), rows  # no row cut in half
    frames = [int(row[1]) for row in rows[1:]]
    assert frames[-1] == 99 and frames[:-1] == list(range(len(frames) - 1))
    assert 0 < len(frames) - 1 < 20


# -- weight files ------------------------------------------------------------

def damaged_copies(source: Path, folder: Path) -> dict[str, Path]:
    """``source`` damaged in the ways files get damaged, one copy each."""
    data = source.read_bytes()
    middle = len(data) // 2
    variants = {
        "empty": b"",
        "truncated": data[:middle],
        "cut at the end": data[:-10],
        "overwritten": data[:middle] + bytes(4096) + data[middle + 4096:],
        "garbage": np.random.default_rng(1).integers(0, 256, 5000, np.uint8).tobytes(),
        "html error page": b"<html><body><h1>404 Not Found</h1></body></html>\n",
        "git lfs pointer": (b"version https://git-lfs.github.com/spec/v1\n"
                            b"oid sha256:0123\nsize 6544298\n"),
    }
    copies = {}
    for kind, content in variants.items():
        path = folder / kind.replace(" ", "_") / source.name
        path.parent.mkdir()
        path.write_bytes(content)
        copies[kind] = path
    copies["missing"] = folder / "missing" / source.name
    return copies


@pytest.mark.parametrize("name", ["dlib_resnet.npz", "face_landmark_68.npz",
                                  "shape_predictor_5.npz"])
def test_damaged_weight_file_is_named(name, tmp_path):
    for kind, path in damaged_copies(WEIGHTS / name, tmp_path).items():
        with pytest.raises(WeightsError) as raised:
            load_tensors(str(path))
        message = str(raised.value)
        assert str(path) in message, (kind, message)
        assert "git" in message, (kind, message)  # how to get it back
        assert "allow_pickle" not in message, (kind, message)  # numpy's advice is no help


def test_no_byte_of_a_weight_file_can_be_damaged_unnoticed(tmp_path):
    """A byte flipped, or the file cut, at 300 places: WeightsError from the landmark
    network's loader, or the very same weights (zip metadata no reader checks)."""
    from greeter import landmarks
    original = (WEIGHTS / "face_landmark_68.npz").read_bytes()
    expected = load_tensors(str(WEIGHTS / "face_landmark_68.npz"))
    rng = np.random.default_rng(0)
    places = sorted(set(rng.integers(0, len(original), 200).tolist())
                    | set(range(0, 200, 2)) | set(range(len(original) - 300, len(original), 3)))
    path = tmp_path / "face_landmark_68.npz"
    for place in places:
        flipped = bytearray(original)
        flipped[place] ^= 0xFF
        for data in (bytes(flipped), original[:place]):
            path.write_bytes(data)
            try:
                tensors = load_tensors(str(path))
            except WeightsError:
                continue
            if tensors.keys() == expected.keys() and all(
                    np.array_equal(tensors[key], value) for key, value in expected.items()):
                continue
            # A tensor renamed (its name in the zip's directory damaged): the network misses it.
            with pytest.raises(WeightsError, match=re.escape(str(path))):
                landmarks.load_landmark_model(str(path))


def test_damaged_weights_fail_the_networks_with_the_file_named(tmp_path):
    """The loaders on top of load_tensors: wrong tensors, wrong shapes, extra tensors."""
    from greeter import landmarks, resnet
    tensors = dict(np.load(WEIGHTS / "face_landmark_68.npz"))
    cases = {
        "missing tensor": {k: v for k, v in tensors.items() if not k.startswith("fc/weights")},
        "wrong shape": {**tensors, "fc/bias": np.zeros(10, np.float32)},
        "extra tensor": {**tensors, "stray": np.zeros(3, np.float32)},
        "not finite": {**tensors, "fc/bias": np.full(136, np.nan, np.float32)},
    }
    for kind, arrays in cases.items():
        path = tmp_path / f"{kind.replace(' ', '_')}.npz"
        np.savez(path, **arrays)
        with pytest.raises(WeightsError, match=re.escape(str(path))):
            landmarks.load_landmark_model(str(path))
    with pytest.raises(WeightsError, match="dlib ResNet does not use|no tensor"):
        resnet.load_dlib_resnet(str(WEIGHTS / "face_landmark_68.npz"))


def test_missing_face_detector_is_named(tmp_path):
    from greeter.detect import DetectorError, HaarDetector
    with pytest.raises(DetectorError) as raised:
        HaarDetector(str(tmp_path / "haarcascade_frontalface_default.xml"))
    assert "missing" in str(raised.value) and "git checkout" in str(raised.value)


def test_damaged_face_detector_is_named(tmp_path):
    from greeter.detect import DetectorError, HaarDetector
    for kind, path in damaged_copies(CASCADE, tmp_path).items():
        if kind == "missing":
            continue
        with pytest.raises(DetectorError) as raised:
            HaarDetector(str(path))
        assert str(path) in str(raised.value) and "corrupt" in str(raised.value), kind
    # A well-formed XML file that holds no cascade.
    other = tmp_path / "other.xml"
    other.write_text('<?xml version="1.0"?>\n<opencv_storage><x>1</x></opencv_storage>\n')
    with pytest.raises(DetectorError):
        HaarDetector(str(other))


def load_network(name: str, path: Path):
    """The detector network ``name`` loaded from ``path`` with its own loader."""
    if name == "faceboxes":
        from greeter.faceboxes import load_faceboxes
        return load_faceboxes(str(path))
    from greeter.yunet import load_yunet
    return load_yunet(0.6, str(path))


@pytest.mark.parametrize("name, file", [("faceboxes", "faceboxes.pb"),
                                        ("yunet", "face_detection_yunet_2023mar_int8bq.onnx")])
def test_damaged_detector_network_is_named(tmp_path, name, file):
    """Missing, empty, an LFS pointer, cut short, or one byte changed anywhere
    (inside the weights, where the file would still parse): WeightsError
    naming the file and how to get it back."""
    source = WEIGHTS / file
    copies = damaged_copies(source, tmp_path)
    original = source.read_bytes()
    for place in (100, len(original) // 2, len(original) - 10):
        flipped = bytearray(original)
        flipped[place] ^= 0x01
        path = tmp_path / f"flipped_{place}" / file
        path.parent.mkdir()
        path.write_bytes(bytes(flipped))
        copies[f"byte {place} flipped"] = path
    for kind, path in copies.items():
        with pytest.raises(WeightsError) as raised:
            load_network(name, path)
        message = str(raised.value)
        assert str(path) in message, (kind, message)
        assert "git" in message, (kind, message)


def test_shipped_files_are_intact():
    """The files the damage above starts from load (so the tests damage good files)."""
    from greeter.detect import HaarDetector
    from greeter.faceboxes import load_faceboxes
    assert load_tensors(str(WEIGHTS / "dlib_resnet.npz"))
    assert load_tensors(str(WEIGHTS / "face_landmark_68.npz"))
    assert not HaarDetector(str(CASCADE))._load().empty()
    assert load_faceboxes(str(WEIGHTS / "faceboxes.pb"))
    assert load_network("yunet", WEIGHTS / "face_detection_yunet_2023mar_int8bq.onnx")
