"""The settings file: the command-line options a user would otherwise type at every start.

A TOML file, found at ``--config FILE``, else ``facenet.toml`` in the working
folder, else ``facenet.toml`` in the user's config folder (platformdirs). Each
command-line option has a top-level key of the same name (``cooldown = 30``,
``no-speech = true``); the command line wins over the file. Greetings and the
people's own settings live in the ``[greetings]`` and ``[people."NAME"]``
tables (see :mod:`greeter.greetings`).

Everything in the file is checked before anything runs: a key that does not
exist, or a value of the wrong type, is named with the file and line and the
nearest valid key, as a :class:`SettingsError` (exit status 2).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import platformdirs

from greeter.recognise import Tracking
from greeter.report import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, redact_url
from greeter.speak import SpeechError, list_voices
from greeter.greetings import (GREETING_KEYS, LANGUAGES, PERSON_KEYS, DayHours,
                               GreetingSettings, PersonSettings, Sentences)

FILE_NAME = "facenet.toml"
# Options that act once, when typed: in the file they would act at every start
# (`forget = 3` deleting visitor 3 each time), so they have no key.
ONE_TIME_OPTIONS = frozenset({"help", "config", "init", "forget", "from_visitor"})


class SettingsError(ValueError):
    """The settings file cannot be used; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class OptionSpec:
    """What a command-line option accepts, as a settings key."""

    key: str          # "cooldown", "no-speech"
    dest: str         # argparse's attribute: "no_speech"
    kind: type        # bool, int, float or str
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SettingsFile:
    """A checked settings file: its option values and its tables.

    ``options`` maps an option's dest to its value; ``lines`` the dest to the
    line it was given on; ``path`` is None when no file was found.
    """

    path: str | None
    options: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    greetings: GreetingSettings = field(default_factory=GreetingSettings)
    tracking: dict[str, Any] = field(default_factory=dict)  # Tracking's fields by name

    def where(self, dest: str) -> str:
        """Where the value of option ``dest`` was set in this file: "FILE, line N"."""
        return f"{self.path}, line {self.lines[dest]}"


def option_specs(parsers: Iterable[argparse.ArgumentParser]) -> dict[str, OptionSpec]:
    """Every long option of ``parsers`` as a settings key (``--config`` and ``--help`` aside)."""
    specs: dict[str, OptionSpec] = {}
    for parser in parsers:
        for action in parser._actions:  # argparse keeps no public list of its options
            longs = [name for name in action.option_strings if name.startswith("--")]
            if not longs or action.dest in ONE_TIME_OPTIONS:
                continue
            if action.nargs == 0:
                kind: type = bool
            elif action.type in (int, float):
                kind = action.type
            else:
                kind = str
            key = longs[0][2:]
            specs[key] = OptionSpec(key, action.dest, kind,
                                    tuple(action.choices) if action.choices else None)
    return specs


def find_settings_file(config: str | None) -> str | None:
    """The settings file to read: ``config`` (--config) if given, else the first
    facenet.toml found in the working folder and the user's config folder."""
    if config is not None:
        return config
    for folder in (os.getcwd(), platformdirs.user_config_dir("facenet", appauthor=False)):
        path = os.path.join(folder, FILE_NAME)
        if os.path.isfile(path):
            return path
    return None


def user_settings_path() -> str:
    """Where ``settings --init`` writes when no --config is given: the working folder's file."""
    return os.path.join(os.getcwd(), FILE_NAME)


def load_settings(path: str | None, specs: dict[str, OptionSpec]) -> SettingsFile:
    """Read and check the settings file at ``path`` (None: no file, all defaults).

    Raises SettingsError naming the file and line of the first mistake.
    """
    if path is None:
        return SettingsFile(None)
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except FileNotFoundError:
        raise SettingsError(f"{path}: no such settings file; check the path given to "
                            f"--config, or write a starter file with `python facenet.py "
                            f"settings --init --config {path}`") from None
    except OSError as error:
        raise SettingsError(f"{path}: cannot read the settings file "
                            f"({error.strerror or error})") from None
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML: {error}; see the README's "
                            "\"Settings\" section for the form of each line") from None
    return _Checker(path, text, specs).check(data)


class _Checker:
    """Checks one parsed file against the valid keys, naming lines as it goes."""

    def __init__(self, path: str, text: str, specs: dict[str, OptionSpec]) -> None:
        self.path = path
        self.specs = specs
        self.lines = _key_lines(text)

    def line(self, *keys: str) -> int:
        """The line where the dotted key ``keys`` is written (its table's, if not found)."""
        for end in range(len(keys), 0, -1):
            if keys[:end] in self.lines:
                return self.lines[keys[:end]]
        return 1

    def fail(self, keys: tuple[str, ...], message: str) -> SettingsError:
        return SettingsError(f"{self.path}, line {self.line(*keys)}: {message}")

    def unknown(self, keys: tuple[str, ...], valid: Iterable[str], where: str) -> SettingsError:
        near = difflib.get_close_matches(keys[-1], list(valid), n=1, cutoff=0.6)
        hint = f"did you mean \"{near[0]}\"?" if near else \
            "see the README's \"Settings\" section for the keys"
        return self.fail(keys, f"unknown setting \"{keys[-1]}\"{where}; {hint}")

    def check(self, data: dict[str, Any]) -> SettingsFile:
        options, lines = {}, {}
        tables = {"greetings", "people", "tracking"}
        for key, value in data.items():
            if key in tables:
                continue
            spec = self.specs.get(key) or self.specs.get(key.replace("_", "-"))
            if spec is None:
                raise self.unknown((key,), [*self.specs, *tables], "")
            options[spec.dest] = self.value((key,), value, spec.kind, spec.choices)
            lines[spec.dest] = self.line(key)
        greetings = self.greetings(data.get("greetings", {}), data.get("people", {}),
                                   options.get("language"))
        tracking = self.tracking(data.get("tracking", {}))
        return SettingsFile(self.path, options, lines, greetings, tracking)

    def tracking(self, table: Any) -> dict[str, Any]:
        """``[tracking]``: Tracking's fields (``reencode-frames = 15``), each of its type."""
        kinds = {item.name.replace("_", "-"): type(item.default) for item in fields(Tracking)}
        found = {}
        for key, value in self.table(("tracking",), table).items():
            if key not in kinds:
                raise self.unknown(("tracking", key), kinds, " in [tracking]")
            value = self.value(("tracking", key), value, kinds[key])
            if not value > 0:
                raise self.fail(("tracking", key), f"\"{key}\" must be more than 0")
            found[key.replace("-", "_")] = value
        return found

    def value(self, keys: tuple[str, ...], value: Any, kind: type,
              choices: Iterable[str] | None = None) -> Any:
        """``value`` checked to be a ``kind`` (an int passes for a float)."""
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            example = {bool: "true or false", int: "a whole number, like 3",
                       float: "a number, like 2.5", str: "text in quotes, like \"fr\""}[kind]
            raise self.fail(keys, f"\"{keys[-1]}\" must be {example}, not "
                                  f"{_toml_type(value)} {value!r}")
        if choices is not None and value not in choices:
            raise self.fail(keys, f"\"{keys[-1]}\" must be one of "
                                  f"{', '.join(map(str, choices))}, not {value!r}")
        return value

    def table(self, keys: tuple[str, ...], value: Any, dashed: bool = True) -> dict[str, Any]:
        """``value`` checked to be a table; its keys with _ read as - (``morning_from``)
        unless they are names (``[people]``)."""
        if not isinstance(value, dict):
            raise self.fail(keys, f"\"{keys[-1]}\" must be a table: [{'.'.join(keys)}]")
        return {key.replace("_", "-") if dashed else key: item for key, item in value.items()}

    def sentences(self, keys: tuple[str, ...], table: dict[str, Any]) -> Sentences:
        found = {}
        for key in Sentences.KEYS:
            if key in table:
                text = self.value((*keys, key), table[key], str)
                if "{" in text.replace("{name}", "").replace("{names}", ""):
                    raise self.fail((*keys, key), f"\"{key}\": only {{name}} and {{names}} "
                                                  "can be filled in; write other braces "
                                                  "as {{ and }}")
                found[key] = text
        return Sentences(**found)

    def language(self, keys: tuple[str, ...], value: Any) -> str:
        language = self.value(keys, value, str)
        if language not in LANGUAGES:
            raise self.fail(keys, f"\"language\" must be one of {', '.join(LANGUAGES)} "
                                  f"(the built-in greetings), not {language!r}; for another "
                                  "language write your own sentences and set \"voice\"")
        return language

    def greetings(self, greetings: Any, people: Any, language: str | None) -> GreetingSettings:
        greetings = self.table(("greetings",), greetings)
        for key in greetings:
            if key not in GREETING_KEYS:
                raise self.unknown(("greetings", key), GREETING_KEYS, " in [greetings]")
        hours = {}
        for part in DayHours.PARTS:
            key = f"{part}-from"
            if key in greetings:
                hour = self.value(("greetings", key), greetings[key], int)
                if not 0 <= hour <= 23:
                    raise self.fail(("greetings", key), f"\"{key}\" is an hour, 0 to 23")
                hours[part] = hour
        try:
            day = DayHours(**hours)
        except ValueError as error:
            raise self.fail(("greetings",), str(error)) from None
        together = self.value(("greetings", "together"), greetings.get("together", 2.0), float)
        unknown = greetings.get("unknown")
        if unknown is not None:
            unknown = self.value(("greetings", "unknown"), unknown, str)
        return GreetingSettings(
            language=self.language(("language",), language) if language else "en",
            sentences=self.sentences(("greetings",), greetings), hours=day,
            unknown=unknown, together=max(0.0, together),
            people=self.people(self.table(("people",), people, dashed=False)))

    def people(self, people: dict[str, Any]) -> dict[str, PersonSettings]:
        found = {}
        for name, table in people.items():
            keys = ("people", name)
            table = self.table(keys, table)
            for key in table:
                if key not in PERSON_KEYS:
                    raise self.unknown((*keys, key), PERSON_KEYS, f" for {name}")
            typed = {key: self.value((*keys, key), table[key], kind)
                     for key, kind in (("voice", str), ("sound", str), ("greet", bool))
                     if key in table}
            if "rate" in table:
                typed["rate"] = self.value((*keys, "rate"), table["rate"], int)
            if "volume" in table:
                typed["volume"] = self.value((*keys, "volume"), table["volume"], float)
                if not 0 <= typed["volume"] <= 1:
                    raise self.fail((*keys, "volume"), "\"volume\" is 0.0 (silent) to 1.0")
            if "language" in table:
                typed["language"] = self.language((*keys, "language"), table["language"])
            if "sound" in typed:
                sound = os.path.join(os.path.dirname(os.path.abspath(self.path)),
                                     os.path.expanduser(typed["sound"]))
                if not os.path.isfile(sound):
                    raise self.fail((*keys, "sound"), f"no such sound file: {sound}")
                typed["sound"] = sound
            found[name] = PersonSettings(sentences=self.sentences(keys, table), **typed)
        return found


def _toml_type(value: Any) -> str:
    return {bool: "true/false", int: "the number", float: "the number", str: "the text",
            list: "the list", dict: "the table"}.get(type(value), type(value).__name__)


_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([A-Za-z0-9_-]+)')


def _dotted(text: str) -> tuple[str, ...]:
    """The parts of a TOML dotted key or table header: ``people."Mary Jane"``."""
    return tuple(next(part for part in match.groups() if part is not None)
                 for match in _TOKEN.finditer(text))


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Each key's full dotted path (tables included) to the line it is written on.

    tomllib gives values only; the lines are found again here for the messages.
    Multi-line strings can hide a "key =" look-alike: the first line found wins,
    which is the real one for any file tomllib accepted with that key.
    """
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            table = _dotted(stripped.strip("[]"))
            lines.setdefault(table, number)
        elif "=" in stripped and not stripped.startswith("#"):
            key = _dotted(stripped.split("=", 1)[0])
            if key:
                lines.setdefault(table + key, number)
    return lines


STARTER = """\
# facenet's settings: every command-line option has a key of the same name
# (--cooldown 30 is cooldown = 30, --no-speech is no-speech = true); what is
# typed on the command line wins. Remove the "#" in front of a line to use it.
# See README.md, "Settings", for every key.

# source = "0"                  # camera index, video file or stream URL
# images = "images"             # folder of known people's photos
# cooldown = 60.0               # seconds before greeting the same person again
# confirm = 3                   # frames a face must be recognised in first
# language = "en"               # built-in greetings: {languages}
# voice = "fr"                  # a language or a voice name (python facenet.py voices)
# rate = 170                    # words per minute
# volume = 1.0                  # 0.0 to 1.0
# speech-to = "greetings-wav"   # also write each greeting as a WAV file here
# away-after = 30.0             # minutes unseen before a person counts as away
# mqtt = "mqtt://localhost"     # publish events, with Home Assistant discovery

[greetings]
# {{name}} is the person greeted, or the people greeted together ("Alice and Bob").
# morning = "Good morning, {{name}}!"
# afternoon = "Good afternoon, {{name}}!"
# evening = "Good evening, {{name}}!"
# night = "Hello {{name}}, you are up late!"
# again = "Welcome back, {{name}}!"     # seen again the same day
# unknown = "Hello, welcome!"          # an unknown visitor (off unless set)
# morning-from = 5                      # the hours each part of the day starts
# afternoon-from = 12
# evening-from = 18
# night-from = 22
# together = 2.0                        # people arriving within 2 s: one sentence

# How faces are followed (README.md, "Settings"); the defaults are what was measured.
# [tracking]
# reencode-frames = 10                  # encoded again after this many frames at the latest
# encodes-per-frame = 0.5               # faces encoded per frame on average

# One table per person, named as the greeter names them (mary-jane.jpg is "Mary Jane"):
# [people."Mary Jane"]
# greeting = "Bonjour {{name}} !"       # every first greeting of the day
# again = "Re-bonjour {{name}} !"
# voice = "fr"
# rate = 150
# volume = 0.8
# sound = "mary-jane.wav"               # played before the sentence (relative to this file)
# greet = false                         # recognised and counted, never spoken or shown
"""


def write_starter(path: str) -> None:
    """Write the commented starter file at ``path``; raise SettingsError if a file is there."""
    try:
        with open(path, "x", encoding="utf-8") as file:
            file.write(STARTER.format(languages=", ".join(LANGUAGES)))
    except FileExistsError:
        raise SettingsError(f"{path} already exists and is left as it is; edit it, or "
                            "give another file with --config") from None
    except OSError as error:
        raise SettingsError(f"cannot write {path} ({error.strerror or error})") from None


def init_command(path: str | None) -> int:
    """``settings --init``: write the starter file at ``path`` (None: ./facenet.toml)."""
    path = path or user_settings_path()
    try:
        write_starter(path)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {path}: remove the \"#\" in front of a setting to use it")
    return EXIT_OK


def settings_command(values: Mapping[str, Any], typed: set[str], settings: SettingsFile,
                     specs: Iterable[OptionSpec], greetings: GreetingSettings) -> int:
    """``settings``: print the settings in force, each with where it came from, as TOML
    that can be pasted into the file. ``values``: each option's value by dest;
    ``typed``: the dests typed on the command line; ``greetings``: those in force."""
    looked = (f"none found (looked for ./{FILE_NAME} and "
              f"{os.path.join(platformdirs.user_config_dir('facenet', appauthor=False), FILE_NAME)})")
    print(f"# settings file: {settings.path or looked}")
    for spec in specs:
        value = values[spec.dest]
        # A file value set aside for an exclusive option typed is not in force.
        from_file = spec.dest in settings.options and settings.options[spec.dest] == value
        origin = ("command line" if spec.dest in typed
                  else settings.where(spec.dest) if from_file else "default")
        shown = _hidden(spec.key, value)
        if shown != value:
            origin += ", password hidden"  # a screen or a pasted report must not show it
        line = f"# {spec.key} (not set)" if value is None else \
            f"{spec.key} = {_toml_value(shown)}"
        print(f"{line:48} # {origin}")
    print("\n[greetings]" + ("" if settings.path else "  # the built-in ones"))
    for key in Sentences.KEYS:
        if getattr(greetings.sentences, key) is not None:
            print(f"{key} = {_toml_value(getattr(greetings.sentences, key))}")
    for part in DayHours.PARTS:
        print(f"{part}-from = {getattr(greetings.hours, part)}")
    print(f"together = {greetings.together:g}")
    print(f"unknown = {_toml_value(greetings.unknown)}" if greetings.unknown
          else "# unknown (off)")
    for name, person in greetings.people.items():
        print(f"\n[people.{_toml_value(name)}]")
        for key in Sentences.KEYS:
            if getattr(person.sentences, key) is not None:
                print(f"{key} = {_toml_value(getattr(person.sentences, key))}")
        for key in ("language", "voice", "rate", "volume", "sound"):
            if getattr(person, key) is not None:
                print(f"{key} = {_toml_value(getattr(person, key))}")
        if not person.greet:
            print("greet = false")
    return EXIT_OK


def _hidden(key: str, value: Any) -> Any:
    """``value`` as it may be shown: a password as ***, a URL without its credentials."""
    if key.endswith("password") and value:
        return "***"
    return redact_url(value) if isinstance(value, str) and "://" in value else value


def _toml_value(value: Any) -> str:
    """``value`` written as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML string


def voices_command() -> int:
    """``voices``: the speech engine's voices with their languages, for ``voice = ...``."""
    try:
        voices = list_voices()
    except SpeechError as error:
        print(f"error: speech: {error}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"{'voice':24} {'languages':18} name")
    for voice in voices:
        print(f"{voice.id:24} {','.join(voice.languages):18} {voice.name}")
    print(f"{len(voices)} voices: give one as voice = \"ID\" or \"NAME\", or a language as "
          "voice = \"fr\" (its best voice)")
    return EXIT_OK
