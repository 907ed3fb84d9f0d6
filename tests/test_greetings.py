"""Greetings as templates: by time of day, first or again the same day, per person, in
groups, and in every built-in language, rendered by the real espeak-ng and measured
with sox."""

from __future__ import annotations

import ctypes.util
import shutil
import subprocess
import sys
from datetime import datetime

import pytest

from greeter.greet import GreetingPolicy
from greeter.greetings import (LANGUAGES, DayHours, Greeter, GreetingSettings,
                               PersonSettings, Sentences, built_in, fill, join_names,
                               voice_for_names)
from greeter.speak import SpeechError, render_speech_to_file

needs_espeak = pytest.mark.skipif(
    sys.platform.startswith("linux") and ctypes.util.find_library("espeak-ng") is None,
    reason="espeak-ng is not installed (sudo apt-get install espeak-ng)")
needs_sox = pytest.mark.skipif(shutil.which("sox") is None,
                               reason="sox is not installed (sudo apt-get install sox)")

MORNING = datetime(2026, 3, 2, 8, 15)
EVENING = datetime(2026, 3, 2, 19, 0)
NEXT_DAY = datetime(2026, 3, 3, 14, 0)


def greet(greeter: Greeter, names: list[str], time: float, now: datetime) -> list[tuple]:
    greeter.add(names, time, now)
    return [(g.names, g.text) for g in greeter.flush()]


def test_first_greeting_of_the_day_goes_by_the_hour_then_welcome_back():
    greeter = Greeter(GreetingSettings())
    assert greet(greeter, ["Alice"], 0, MORNING) == [(("Alice",), "Good morning, Alice!")]
    assert greet(greeter, ["Alice"], 100, EVENING) == [(("Alice",), "Welcome back, Alice!")]
    assert greet(greeter, ["Bob"], 200, EVENING) == [(("Bob",), "Good evening, Bob!")]
    assert greet(greeter, ["Alice"], 300, NEXT_DAY) == [(("Alice",), "Good afternoon, Alice!")]


def test_hours_are_settable_and_night_may_start_after_midnight():
    hours = DayHours(morning=7, afternoon=13, evening=17, night=1)
    assert [hours.part(hour) for hour in (0, 1, 6, 7, 12, 13, 17, 23)] == \
        ["evening", "night", "night", "morning", "morning", "afternoon", "evening", "evening"]
    default = DayHours()
    assert [default.part(hour) for hour in (4, 5, 11, 12, 17, 18, 21, 22)] == \
        ["night", "morning", "morning", "afternoon", "afternoon", "evening", "evening", "night"]
    with pytest.raises(ValueError, match="in order"):
        DayHours(morning=12, afternoon=5)


def test_people_coming_in_together_are_one_sentence_and_someone_alone_waits_not():
    greeter = Greeter(GreetingSettings(together=2.0))
    greeter.add(["Alice"], 10.0, MORNING)
    assert greeter.ready(11.0, others_coming=True) == []   # Bob is being recognised
    greeter.add(["Bob"], 11.5, MORNING)
    greeter.add(["Carol"], 11.9, MORNING)
    assert greeter.ready(11.9, others_coming=True) == []
    [group] = greeter.ready(12.0, others_coming=True)     # waited long enough
    assert group.names == ("Alice", "Bob", "Carol")
    assert group.text == "Good morning, Alice, Bob and Carol!"
    assert greeter.ready(20.0) == []
    greeter.add(["Dave"], 30.0, MORNING)
    assert [g.names for g in greeter.ready(30.0)] == [("Dave",)]


def test_the_policy_says_when_someone_else_is_on_the_way_to_a_greeting():
    policy = GreetingPolicy(confirm=2, cooldown=60)
    assert policy.update(["Alice"], 0.0) == [] and policy.confirming
    assert policy.update(["Alice", "Bob"], 0.1) == ["Alice"] and policy.confirming
    assert policy.update(["Alice", "Bob"], 0.2) == ["Bob"] and not policy.confirming
    assert policy.update(["Alice", "Bob"], 0.3) == [] and not policy.confirming  # cooldown


def test_a_group_in_french_and_chinese_is_joined_the_language_s_way():
    assert join_names(["Alice", "Bob"], "fr") == "Alice et Bob"
    assert join_names(["王小明", "李华", "张伟"], "zh") == "王小明、李华和张伟"
    assert fill("{names}, bonjour !", ["Alice", "Bob"], "fr") == "Alice et Bob, bonjour !"


def test_people_of_their_own_are_greeted_apart_with_their_settings():
    mary = PersonSettings(sentences=Sentences(greeting="Bonjour {name} !"), voice="fr",
                          rate=140)
    settings = GreetingSettings(people={"Mary Jane": mary,
                                        "Maggie": PersonSettings(greet=False)})
    greeter = Greeter(settings)
    greeter.add(["Alice", "Mary Jane", "Maggie", "Bob"], 0.0, EVENING)
    greetings = {g.names: g for g in greeter.flush()}
    assert greetings[("Alice", "Bob")].text == "Good evening, Alice and Bob!"
    assert greetings[("Mary Jane",)].text == "Bonjour Mary Jane !"
    assert (greetings[("Mary Jane",)].voice, greetings[("Mary Jane",)].rate) == ("fr", 140)
    assert greetings[("Maggie",)].shown is False and greetings[("Alice", "Bob")].shown
    # Her own sentence is for every first greeting of the day; "again" is still the default.
    greeter.add(["Mary Jane"], 10.0, EVENING)
    assert [g.text for g in greeter.flush()] == ["Welcome back, Mary Jane!"]


def test_a_person_s_language_picks_the_built_in_sentences_and_voice():
    settings = GreetingSettings(language="en",
                                people={"Hans": PersonSettings(language="de")})
    greeter = Greeter(settings)
    greeter.add(["Hans"], 0.0, MORNING)
    [greeting] = greeter.flush()
    assert (greeting.text, greeting.language, greeting.voice) == \
        ("Guten Morgen, Hans!", "de", "de")


def test_the_unknown_visitor_sentence_is_off_unless_set():
    assert Greeter(GreetingSettings()).unknown() is None
    greeting = Greeter(GreetingSettings(unknown="Hello, who are you?")).unknown()
    assert greeting.text == "Hello, who are you?" and greeting.names == ()


def sound_seconds(path: str) -> float:
    """Seconds of sound in the WAV ``path``: sox trims the silence at both ends first."""
    trimmed = path + ".trimmed.wav"
    subprocess.run(["sox", path, trimmed, "silence", "1", "0.02", "1%", "reverse",
                    "silence", "1", "0.02", "1%", "reverse"], check=True)
    return float(subprocess.run(["soxi", "-D", trimmed], check=True, capture_output=True,
                                text=True).stdout)


@needs_espeak
@needs_sox
@pytest.mark.parametrize(("language", "expected", "voice"), [
    ("en", "Good morning, Mary Jane!", "gmw/en"),
    ("fr", "Bonjour Mary Jane, bonne journée !", "roa/fr"),
    ("de", "Guten Morgen, Mary Jane!", "gmw/de"),
    ("es", "¡Buenos días, Mary Jane!", "roa/es"),
    ("it", "Buongiorno, Mary Jane!", "roa/it"),
    ("pt", "Bom dia, Mary Jane!", "roa/pt"),
    ("ru", "Доброе утро, Mary Jane!", "zle/ru"),
    ("zh", "早上好，Mary Jane！", "sit/cmn"),
])
def test_each_built_in_language_is_spoken_in_its_own_voice(tmp_path, language, expected,
                                                            voice):
    greeter = Greeter(GreetingSettings(language=language))
    greeter.add(["Mary Jane"], 0.0, MORNING)
    [greeting] = greeter.flush()
    assert greeting.text == expected
    path = str(tmp_path / f"{language}.wav")
    used = render_speech_to_file(greeting.text, path, voice=language)
    assert used == voice
    # espeak-ng 1.51 here: 1.1 s (pt) to 1.6 s (zh) of sound.
    assert sound_seconds(path) >= 0.8


def test_every_built_in_sentence_fills_in_the_name():
    for language in LANGUAGES:
        for kind in (*DayHours.PARTS, "again"):
            assert "Zoë" in fill(built_in(language, kind), ["Zoë"], language)


@needs_espeak
def test_a_missing_voice_is_named_with_what_to_install(tmp_path):
    with pytest.raises(SpeechError, match="no voice for 'xx-nowhere'.*espeak-ng"):
        render_speech_to_file("Hello", str(tmp_path / "x.wav"), voice="xx-nowhere")


def test_a_name_the_sentence_s_voice_cannot_say_gets_a_voice_that_can():
    assert voice_for_names(["王小明"], "en") == "zh"
    assert voice_for_names(["Дмитрий"], "fr") == "ru"
    assert voice_for_names(["Σοφία"], "en") == "el"
    assert voice_for_names(["José María", "Zoë"], "en") is None
    assert voice_for_names(["Дмитрий"], "ru") is None and voice_for_names(["Alice"], "zh") is None
    greeter = Greeter(GreetingSettings(
        people={"Ann": PersonSettings(voice="gmw/en-us")}))
    greeter.add(["王小明"], 0.0, MORNING)
    [greeting] = greeter.flush()
    assert (greeting.text, greeting.voice) == ("Good morning, 王小明!", "zh")
    greeter.add(["Ann"], 0.0, MORNING)
    assert greeter.flush()[0].voice == "gmw/en-us"  # her own voice comes first


@needs_espeak
@needs_sox
def test_a_chinese_name_in_an_english_greeting_is_spoken_by_the_mandarin_voice(tmp_path):
    path = str(tmp_path / "wang.wav")
    assert render_speech_to_file("Good morning, 王小明!", path,
                                 voice=voice_for_names(["王小明"], "en")) == "sit/cmn"
    assert sound_seconds(path) >= 0.8


def test_an_empty_sentence_with_a_sound_is_the_sound_alone():
    greeter = Greeter(GreetingSettings(people={"Ann": PersonSettings(
        sentences=Sentences(greeting=""), sound="/sounds/ann.wav")}))
    greeter.add(["Ann", "Bob"], 0.0, MORNING)
    greetings = {g.names: g for g in greeter.flush()}
    assert (greetings[("Ann",)].text, greetings[("Ann",)].sound) == ("", "/sounds/ann.wav")
    assert greetings[("Bob",)].text == "Good morning, Bob!"
