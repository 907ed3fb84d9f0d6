"""What is said to whom: greetings as templates, by language, time of day and person.

A sentence is a template in which ``{name}`` (or ``{names}``) is the person
greeted, or the people greeted together ("Alice and Bob"). The first greeting
of a person's day depends on the hour (morning, afternoon, evening, night);
a later one the same day is the "again" sentence ("Welcome back, Alice!").
Each person may have sentences, a voice, a rate, a volume and a sound of
their own (``[people."Alice"]`` in the settings file), or ``greet = false``.
People who come into view together are greeted in one sentence: a greeting
due waits up to ``together`` seconds while someone else in view is still being
recognised, and all who are due by then, with the same kind of sentence in the
same voice, are greeted at once. Someone alone is greeted without waiting.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import ClassVar

# The built-in sentences: (morning, afternoon, evening, night, again, unknown), and the
# word that joins the last two names of a group.
_BUILT_IN: dict[str, tuple[tuple[str, ...], str]] = {
    "en": (("Good morning, {name}!", "Good afternoon, {name}!", "Good evening, {name}!",
            "Hello {name}, you are up late!", "Welcome back, {name}!", "Hello, welcome!"),
           " and "),
    "fr": (("Bonjour {name}, bonne journée !", "Bon après-midi, {name} !", "Bonsoir {name} !",
            "Bonsoir {name}, il est tard !", "Re-bonjour {name} !", "Bonjour, bienvenue !"),
           " et "),
    "de": (("Guten Morgen, {name}!", "Guten Tag, {name}!", "Guten Abend, {name}!",
            "Hallo {name}, so spät noch wach!", "Willkommen zurück, {name}!",
            "Hallo, herzlich willkommen!"), " und "),
    "es": (("¡Buenos días, {name}!", "¡Buenas tardes, {name}!", "¡Buenas noches, {name}!",
            "¡Hola, {name}, qué tarde es!", "¡Hola de nuevo, {name}!", "¡Hola, bienvenido!"),
           " y "),
    "it": (("Buongiorno, {name}!", "Buon pomeriggio, {name}!", "Buonasera, {name}!",
            "Ciao {name}, è tardi!", "Ciao di nuovo, {name}!", "Buongiorno, benvenuti!"),
           " e "),
    "pt": (("Bom dia, {name}!", "Boa tarde, {name}!", "Boa noite, {name}!",
            "Olá, {name}, já é tarde!", "Olá de novo, {name}!", "Olá, seja bem-vindo!"),
           " e "),
    "ru": (("Доброе утро, {name}!", "Добрый день, {name}!", "Добрый вечер, {name}!",
            "Здравствуйте, {name}! Уже поздно.", "С возвращением, {name}!",
            "Здравствуйте, добро пожаловать!"), " и "),
    "zh": (("早上好，{name}！", "下午好，{name}！", "晚上好，{name}！", "{name}，夜深了，你好！",
            "欢迎回来，{name}！", "您好，欢迎光临！"), "和"),
}
LANGUAGES = tuple(_BUILT_IN)
# The scripts each built-in language's voice reads (the others read Latin only), and the
# language whose voice reads a script that the sentence's voice cannot.
_READS = {"ru": {"CYRILLIC", "LATIN"}, "zh": {"CJK", "LATIN"}}
_SCRIPT_LANGUAGE = {"CJK": "zh", "CYRILLIC": "ru", "GREEK": "el", "ARABIC": "ar",
                    "HEBREW": "he", "HANGUL": "ko", "HIRAGANA": "ja", "KATAKANA": "ja",
                    "DEVANAGARI": "hi", "THAI": "th", "ARMENIAN": "hy", "GEORGIAN": "ka"}
# Names in a group are listed with this, the last two joined by the language's word.
_LIST_SEPARATOR = {"zh": "、"}


@dataclass(frozen=True)
class DayHours:
    """The hour (0-23, local time) at which each part of the day starts."""

    PARTS: ClassVar[tuple[str, ...]] = ("morning", "afternoon", "evening", "night")
    morning: int = 5
    afternoon: int = 12
    evening: int = 18
    night: int = 22

    def __post_init__(self) -> None:
        starts = [self.morning, self.afternoon, self.evening]
        if starts != sorted(set(starts)) or not (self.evening < self.night or self.night
                                                  < self.morning):
            raise ValueError("the parts of the day must start in order: morning-from < "
                             "afternoon-from < evening-from < night-from (night may start "
                             "after midnight, before morning-from)")

    def part(self, hour: int) -> str:
        """"morning", "afternoon", "evening" or "night" for ``hour``."""
        if self.night < self.morning:  # night starts after midnight: evening runs past it
            if self.night <= hour < self.morning:
                return "night"
            if hour < self.night:
                return "evening"
        elif hour >= self.night or hour < self.morning:
            return "night"
        if hour >= self.evening:
            return "evening"
        return "afternoon" if hour >= self.afternoon else "morning"


@dataclass(frozen=True)
class Sentences:
    """Sentence templates; None keeps the one below (the person's, then the built-in).

    ``greeting`` is the first greeting of the day at any hour; the parts of the
    day take over from the built-in ones only.
    """

    KEYS: ClassVar[tuple[str, ...]] = ("greeting", "morning", "afternoon", "evening",
                                       "night", "again")
    greeting: str | None = None
    morning: str | None = None
    afternoon: str | None = None
    evening: str | None = None
    night: str | None = None
    again: str | None = None

    def pick(self, kind: str) -> str | None:
        """The template for ``kind`` ("again" or a part of the day), None if not set here
        ("" is set: a sound instead of a sentence)."""
        if kind == "again":
            return self.again
        return self.greeting if self.greeting is not None else getattr(self, kind)

    @property
    def any(self) -> bool:
        return any(getattr(self, item.name) is not None for item in fields(self))


@dataclass(frozen=True)
class PersonSettings:
    """One person's own settings (``[people."NAME"]``): None keeps the general one."""

    sentences: Sentences = field(default_factory=Sentences)
    language: str | None = None
    voice: str | None = None
    rate: int | None = None
    volume: float | None = None
    sound: str | None = None   # a sound file played before the sentence
    greet: bool = True         # False: recognised and counted, never spoken or shown


@dataclass(frozen=True)
class GreetingSettings:
    """What is said: the language of the built-in sentences, the user's sentences,
    the hours of the day, the unknown visitor's sentence (None: none), the seconds
    within which arrivals are greeted together, and each person's settings."""

    language: str = "en"
    sentences: Sentences = field(default_factory=Sentences)
    hours: DayHours = field(default_factory=DayHours)
    unknown: str | None = None
    together: float = 2.0
    people: Mapping[str, PersonSettings] = field(default_factory=dict)


GREETING_KEYS = (*Sentences.KEYS, "unknown", "together",
                 *(f"{part}-from" for part in DayHours.PARTS))
PERSON_KEYS = (*Sentences.KEYS, "language", "voice", "rate", "volume", "sound", "greet")


@dataclass(frozen=True)
class Greeting:
    """One sentence to show and speak, to ``names``; ``voice`` is a language or a voice
    name (None: the speaker's own), ``rate`` and ``volume`` likewise. ``shown`` is
    False for people with ``greet = false``: logged and sent as events only."""

    names: tuple[str, ...]
    text: str
    language: str
    voice: str | None = None
    rate: int | None = None
    volume: float | None = None
    sound: str | None = None
    shown: bool = True


def own_voice(person: PersonSettings, settings: GreetingSettings) -> str | None:
    """The voice a person asks for: theirs, else that of their own language; None: the
    speaker's (the general voice or language)."""
    if person.voice:
        return person.voice
    return person.language if person.language not in (None, settings.language) else None


def voice_for_names(names: Iterable[str], language: str) -> str | None:
    """The language of a voice that can say ``names`` when ``language``'s cannot (a
    Chinese name in an English sentence: "zh"); None when it can."""
    scripts = {unicodedata.name(letter, "?").split()[0] for name in names for letter in name
               if letter.isalpha()}
    foreign = sorted(scripts - _READS.get(language, {"LATIN"}) & set(_SCRIPT_LANGUAGE))
    return _SCRIPT_LANGUAGE[foreign[0]] if foreign else None


def join_names(names: Iterable[str], language: str = "en") -> str:
    """``["Alice", "Bob", "Carol"]`` as "Alice, Bob and Carol" in ``language``."""
    names = list(names)
    if not names:
        raise ValueError("join_names needs at least one name")
    word = _BUILT_IN.get(language, _BUILT_IN["en"])[1]
    if len(names) == 1:
        return names[0]
    return _LIST_SEPARATOR.get(language, ", ").join(names[:-1]) + word + names[-1]


def fill(template: str, names: Iterable[str], language: str = "en") -> str:
    """``template`` with {name} and {names} replaced by the names, joined."""
    who = join_names(names, language)
    return template.replace("{name}", who).replace("{names}", who) \
        .replace("{{", "{").replace("}}", "}")


def built_in(language: str, kind: str) -> str:
    """The built-in template of ``kind`` (a part of the day, "again" or "unknown")."""
    sentences = _BUILT_IN[language][0]
    return sentences[(*DayHours.PARTS, "again", "unknown").index(kind)]


class Greeter:
    """Turns the people due for a greeting into :class:`Greeting` sentences.

    ``add(names, time)`` takes those due at ``time`` (the source's seconds);
    ``ready(time, others_coming)`` gives the greetings to make now; ``flush()``
    gives all that wait (at the end of a source). Whether it is a first greeting today, and the part of
    the day, go by the local clock (``now``: for tests).
    """

    def __init__(self, settings: GreetingSettings) -> None:
        self.settings = settings
        self._greeted_on: dict[str, date] = {}
        self._waiting: list[tuple[str, datetime]] = []
        self._since: float | None = None

    def add(self, names: Iterable[str], time: float, now: datetime | None = None) -> None:
        """Note ``names`` as due at source time ``time``."""
        names = list(names)
        if not names:
            return
        clock = now or datetime.now()
        if self._since is None:
            self._since = time
        self._waiting += [(name, clock) for name in names]

    def ready(self, time: float, others_coming: bool = False) -> list[Greeting]:
        """The greetings due by ``time``: at once, unless ``others_coming`` (someone else
        in view is about to be due), then once they waited ``together`` seconds."""
        if self._since is None or (others_coming
                                   and time - self._since < self.settings.together):
            return []
        return self.flush()

    def flush(self) -> list[Greeting]:
        """Every waiting greeting, grouped; none wait afterwards."""
        waiting, self._waiting, self._since = self._waiting, [], None
        groups: dict[tuple, list[str]] = {}
        for name, clock in waiting:
            person = self.settings.people.get(name, PersonSettings())
            kind = "again" if self._greeted_on.get(name) == clock.date() \
                else self.settings.hours.part(clock.hour)
            self._greeted_on[name] = clock.date()
            # A person with a sentence or sound of their own is greeted on their own.
            alone = name if person.sentences.any or person.sound or not person.greet else None
            language = person.language or self.settings.language
            key = (kind, alone, language, person.voice, person.rate, person.volume)
            groups.setdefault(key, []).append(name)
        greetings = []
        for (kind, _, language, _, _, _), names in groups.items():
            person = self.settings.people.get(names[0], PersonSettings())
            template = next((text for text in (person.sentences.pick(kind),
                                               self.settings.sentences.pick(kind))
                             if text is not None), built_in(language, kind))
            # espeak-ng's English voice reads 王小明 as "Chinese letter" three times.
            voice = own_voice(person, self.settings) or voice_for_names(names, language)
            greetings.append(Greeting(tuple(names), fill(template, names, language), language,
                                      voice, person.rate,
                                      person.volume, person.sound, person.greet))
        return greetings

    def unknown(self) -> Greeting | None:
        """The unknown visitor's greeting, None unless the settings give one."""
        if self.settings.unknown is None:
            return None
        return Greeting((), fill(self.settings.unknown, ["?"], self.settings.language),
                        self.settings.language)
