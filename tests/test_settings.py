"""The settings file, through the real program: found where the user keeps it, checked
line by line, printed with where each value came from, and used by the greeter on a
real video of a real face."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import REPO
from greeter.detect import DETECTORS
from videos import mary_jane_at_the_door


def environment(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUNBUFFERED="1",
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    env.pop("DISPLAY", None)
    return env


def facenet(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "facenet.py"), *args], cwd=tmp_path,
                          env=environment(tmp_path), capture_output=True, text=True,
                          timeout=timeout)


def settings_lines(output: str) -> dict[str, str]:
    """``settings``' lines as key: "value # origin"."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"(?:# )?([a-z-]+)(?: = | \(not set\))(.*)", line)
        if match:
            found[match[1]] = " ".join(match[2].split())
    return found


def test_a_misspelt_key_names_the_file_and_line_and_the_key_meant(tmp_path):
    config = tmp_path / "door.toml"
    config.write_text("coldown = 30\n")
    result = facenet(tmp_path, "--config", str(config), "--source", "nowhere.mp4")
    assert result.returncode == 2
    assert f"{config}, line 1: unknown setting \"coldown\"; did you mean \"cooldown\"?" \
        in result.stderr
    assert result.stdout == ""


def test_mistakes_in_tables_and_types_are_named_with_their_line(tmp_path):
    config = tmp_path / "facenet.toml"
    cases = [
        ('cooldown = "a minute"\n', 'line 1: "cooldown" must be a number'),
        ('# comment\n\n[people."Mary Jane"]\ngreeting = "Hi {name}"\nvoise = "fr"\n',
         'line 5: unknown setting "voise" for Mary Jane; did you mean "voice"?'),
        ('[greetings]\nmorning = "Morning {nom}!"\n', "line 2: \"morning\": only {name}"),
        ('[greetings]\nevening-from = 25\n', 'line 2: "evening-from" is an hour'),
        ('language = "klingon"\n', 'line 1: "language" must be one of en, fr, de'),
        ('detector = "hog"\n', f'line 1: "detector" must be one of {", ".join(DETECTORS)}'),
        ('no-speech = 1\n', 'line 1: "no-speech" must be true or false'),
        ('cooldown = 30\ncooldown = 40\n', "not valid TOML"),
        ('[people."Ann"]\nsound = "ann.wav"\n', "line 2: no such sound file"),
    ]
    for text, message in cases:
        config.write_text(text)
        result = facenet(tmp_path, "settings")
        assert result.returncode == 2, (text, result.stdout)
        assert str(config) in result.stderr and message in result.stderr, \
            (text, result.stderr)


def test_settings_says_where_each_value_came_from_and_the_command_line_wins(tmp_path):
    config = tmp_path / "config" / "facenet" / "facenet.toml"  # the user's config folder
    config.parent.mkdir(parents=True)
    config.write_text('# mine\ncooldown = 30\nquiet = true\nlanguage = "de"\n'
                      '[people."Mary Jane"]\nvoice = "fr"\ngreet = false\n')
    result = facenet(tmp_path, "settings", "--cooldown", "5", "--verbose")
    assert result.returncode == 0, result.stderr
    lines = settings_lines(result.stdout)
    assert lines["cooldown"] == "5 # command line"
    assert lines["language"] == f'"de" # {config}, line 4'
    assert lines["confirm"] == "3 # default"
    # The file's quiet gives way to the --verbose typed: they cannot both be on.
    assert lines["verbose"] == "true # command line" and lines["quiet"] == "false # default"
    assert '[people."Mary Jane"]\nvoice = "fr"\ngreet = false' in result.stdout
    # A facenet.toml in the working folder comes before the user's.
    (tmp_path / "facenet.toml").write_text("confirm = 5\n")
    lines = settings_lines(facenet(tmp_path, "settings").stdout)
    assert lines["confirm"] == f"5 # {tmp_path / 'facenet.toml'}, line 1"
    assert lines["cooldown"] == "60 # default"


def test_init_writes_a_starter_file_that_reads_back_and_never_replaces_one(tmp_path):
    result = facenet(tmp_path, "settings", "--init")
    assert result.returncode == 0, result.stderr
    starter = tmp_path / "facenet.toml"
    text = starter.read_text()
    assert tomllib.loads(text) == {"greetings": {}}  # everything is commented out
    # Uncommented, each example line is a valid setting.
    uncommented = re.sub(r"^# ([a-z-]+ = |\[)", r"\1", text, flags=re.M)
    uncommented = uncommented.replace('sound = "mary-jane.wav"', "")
    (tmp_path / "full.toml").write_text(uncommented)
    lines = settings_lines(facenet(tmp_path, "settings", "--config", "full.toml").stdout)
    assert lines["cooldown"].startswith("60 # full.toml, line")
    starter.write_text("cooldown = 12\n")
    again = facenet(tmp_path, "settings", "--init")
    assert again.returncode == 2 and "already exists" in again.stderr
    assert starter.read_text() == "cooldown = 12\n"


def test_a_sound_file_is_found_beside_the_settings_file(tmp_path):
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "ann.wav").write_bytes(b"RIFF")
    (folder / "door.toml").write_text('[people."Ann"]\nsound = "ann.wav"\ngreeting = ""\n')
    result = facenet(tmp_path, "settings", "--config", str(folder / "door.toml"))
    assert result.returncode == 0, result.stderr
    assert f'[people."Ann"]\ngreeting = ""\nsound = "{folder / "ann.wav"}"' in result.stdout


def test_help_and_typing_mistakes_work_as_without_a_file(tmp_path):
    (tmp_path / "facenet.toml").write_text("cooldown = 30\nquiet = true\n")
    shown = facenet(tmp_path, "--help")
    assert shown.returncode == 0 and shown.stderr == ""
    assert re.search(r"--cooldown S\s+do not greet the same person again within S\s+"
                     r"seconds\s+\(default: 30\.0\)", shown.stdout), shown.stdout
    wrong = facenet(tmp_path, "doctor", "--rate", "fast")
    assert wrong.returncode == 2
    assert wrong.stderr.count("argument --rate: invalid int value: 'fast'") == 1, wrong.stderr


def test_a_missing_config_file_is_an_error_not_a_silent_default(tmp_path):
    result = facenet(tmp_path, "--config", "nothere.toml", "--source", "x.mp4")
    assert result.returncode == 2 and "nothere.toml: no such settings file" in result.stderr


@pytest.fixture
def mary_jane(faces, tmp_path):
    """images/mary-jane.jpg and a video in which she comes to the door."""
    return mary_jane_at_the_door(faces, tmp_path)


def test_a_person_s_own_greeting_and_french_voice_from_the_settings_file(mary_jane,
                                                                        tmp_path):
    images, video = mary_jane
    config = tmp_path / "door.toml"
    config.write_text('[people."Mary Jane"]\ngreeting = "Bonjour {name} !"\nvoice = "fr"\n')
    speech = tmp_path / "speech"
    speech.mkdir()
    result = facenet(tmp_path, "--config", str(config), "--source", str(video), "--images",
                     str(images), "--headless", "--no-speech", "--speech-to", str(speech),
                     timeout=300)
    assert result.returncode == 0, result.stderr
    greetings = [line.split(" ", 2)[2] for line in result.stdout.splitlines()
                 if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", line)]
    assert greetings == ["Bonjour Mary Jane !"], result.stdout + result.stderr
    assert (speech / "0001.txt").read_text() == "Bonjour Mary Jane !\nvoice: roa/fr\n"
    measured = subprocess.run(["soxi", "-D", str(speech / "0001.wav")], capture_output=True,
                              text=True) if shutil.which("soxi") else None
    if measured is not None:
        assert float(measured.stdout) > 0.8


def test_doctor_says_how_and_in_which_voice_each_person_is_greeted(mary_jane, tmp_path):
    images, _ = mary_jane
    config = tmp_path / "door.toml"
    config.write_text('language = "de"\n[people."Mary Jane"]\ngreeting = "Bonjour {name} !"\n'
                      'voice = "fr"\n[people."Mary-Jane"]\ngreet = false\n')
    result = facenet(tmp_path, "doctor", "--config", str(config), "--images", str(images),
                     "--source", str(tmp_path / "door.avi"), timeout=300)
    out = result.stdout
    assert 'greetings: Mary Jane: "Bonjour Mary Jane !" in voice roa/fr (French (France))' \
        in out, out
    assert re.search(r'greetings: Barack: "Guten (Morgen|Tag|Abend), Barack!" in voice gmw/de|'
                     r'greetings: Barack: "Hallo Barack, so spät noch wach!" in voice gmw/de',
                     out), out
    assert f'[people."Mary-Jane"] in {config} names nobody in {images}; the names there ' \
           'are: Barack, Mary Jane' in out, out
    assert f"images: {images / 'mary-jane.jpg'}: Mary Jane" in out, out


def test_the_tracking_table_reaches_the_recogniser_and_its_mistakes_are_named(tmp_path):
    from greeter.cli import parse_args
    config = tmp_path / "facenet.toml"
    config.write_text("[tracking]\nlooks-kept = 4\nsame_face_iou = 0.5\n")
    recognition = parse_args(["--config", str(config)]).typed_settings.recognition
    assert recognition.tracking.looks_kept == 4 and recognition.tracking.same_face_iou == 0.5
    assert recognition.tracking.reencode_frames == 10  # the rest as the defaults
    for text, message in (("[tracking]\nlooks-kept = 0\n", 'line 2: "looks-kept" must be more '
                                                           'than 0'),
                          ("[tracking]\nlooks-kpt = 4\n", 'line 2: unknown setting "looks-kpt" in '
                                                          '[tracking]; did you mean "looks-kept"?'),
                          ("[tracking]\nlooks-kept = 2.5\n", 'line 2: "looks-kept" must be a whole '
                                                             'number')):
        config.write_text(text)
        result = facenet(tmp_path, "--config", str(config), "--source", "nowhere.mp4")
        assert result.returncode == 2 and message in result.stderr, (text, result.stderr)


def test_settings_never_prints_a_password(tmp_path):
    config = tmp_path / "facenet.toml"
    config.write_text('web-password = "s3cret"\nmqtt = "mqtt://door:hunter2@broker"\n')
    result = facenet(tmp_path, "settings", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "s3cret" not in result.stdout and "hunter2" not in result.stdout
    lines = settings_lines(result.stdout)
    assert lines["web-password"].startswith('"***"') and "password hidden" in lines["mqtt"]
