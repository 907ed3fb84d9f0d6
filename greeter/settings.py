"""The settings in force, typed and checked once: one frozen section per concern.

The command line and the settings file (:mod:`greeter.settings_file`) fill
them, in ``cli.py`` only; each stage is handed its own section, never the
whole command line. A section checks its own values where it is made and
raises SettingsError naming the option that is wrong and why (the command
line turns that into exit status 2). Model: Frigate's typed config sections,
handed to each processor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from greeter.detect import DEFAULT_DETECTOR, DETECTORS
from greeter.events import EventSettings
from greeter.greetings import GreetingSettings
from greeter.models import DEFAULT_NETWORK, NETWORKS, THRESHOLDS
from greeter.paths import IMAGES_DIR, WEIGHTS_DIR
from greeter.presence import PresenceSettings
from greeter.recognise import Tracking
from greeter.settings_file import SettingsError, SettingsFile
from greeter.speak import SpeechSettings
from greeter.web.security import WebSettings

__all__ = ["EventSettings", "GreetingSettings", "PresenceSettings", "RecognitionSettings",
           "Settings", "SettingsError", "SourceSettings", "SpeechSettings", "VisitorSettings",
           "WebSettings", "WelcomeSettings"]


@dataclass(frozen=True)
class RecognitionSettings:
    """Who is who: the photos of the people known, the networks, and the distance that
    names a person. ``threshold`` None is the model's own (models.THRESHOLDS), so
    that after construction it always holds the one distance in force."""

    images: str = IMAGES_DIR
    model: str = DEFAULT_NETWORK
    weights: str = WEIGHTS_DIR
    detector: str = DEFAULT_DETECTOR
    threshold: float | None = None
    first_looks: int = 3  # a new face's first frames each encoded (--confirm)
    tracking: Tracking = field(default_factory=Tracking)

    def __post_init__(self) -> None:
        if self.model not in NETWORKS:
            raise SettingsError(f"--model {self.model}: choose one of {', '.join(NETWORKS)}")
        if self.detector not in DETECTORS:
            raise SettingsError(f"--detector {self.detector}: choose one of "
                                f"{', '.join(DETECTORS)}")
        if self.threshold is None:
            object.__setattr__(self, "threshold", THRESHOLDS[self.model])
        elif not self.threshold > 0:
            raise SettingsError("--threshold must be a positive distance")
        if self.first_looks < 1:
            raise SettingsError(f"--confirm {self.first_looks}: give 1 frame or more")


@dataclass(frozen=True)
class WelcomeSettings:
    """When and how a recognised person is welcomed: after ``confirm`` frames, not
    again within ``cooldown`` seconds, each greeting a row of ``log`` (None: no log),
    in the words of ``greetings``."""

    confirm: int = 3
    cooldown: float = 60.0
    log: str | None = None
    greetings: GreetingSettings = field(default_factory=GreetingSettings)

    def __post_init__(self) -> None:
        if self.confirm < 1:
            raise SettingsError(f"--confirm {self.confirm}: give 1 frame or more")
        if self.cooldown < 0:
            raise SettingsError(f"--cooldown {self.cooldown:g}: give 0 seconds or more")


@dataclass(frozen=True)
class VisitorSettings:
    """What is kept of unknown visitors: nothing unless ``keep``; a face seen again
    within ``visit_gap`` seconds is the same visit; visits older than ``keep_days``
    are deleted; ``folder`` None is the user data folder's."""

    keep: bool = True
    visit_gap: float = 600.0
    keep_days: float = 7.0
    folder: str | None = None

    def __post_init__(self) -> None:
        if self.visit_gap < 0 or not self.keep_days > 0:
            raise SettingsError("--visit-gap must be 0 or more minutes, --keep-visitors "
                                "more than 0 days")


@dataclass(frozen=True)
class SourceSettings:
    """What is watched (a --source value) and how: ``loop`` a file again and again,
    ``realtime`` at its own rate, ``wait`` for a camera or stream not up yet."""

    source: str = field(default="0", repr=False)  # a stream URL may hold a password
    loop: bool = False
    realtime: bool = False
    wait: bool = False


@dataclass(frozen=True)
class Settings:
    """Every section, as one command runs with them. ``file`` is the settings file
    read (for the warnings that name it); ``progress`` whether progress is shown
    (not --quiet); ``window`` whether to show one where there is a display."""

    recognition: RecognitionSettings = field(default_factory=RecognitionSettings)
    welcome: WelcomeSettings = field(default_factory=WelcomeSettings)
    speech: SpeechSettings = field(default_factory=SpeechSettings)
    visitors: VisitorSettings = field(default_factory=VisitorSettings)
    presence: PresenceSettings = field(default_factory=PresenceSettings)
    events: EventSettings = field(default_factory=EventSettings)
    source: SourceSettings = field(default_factory=SourceSettings)
    web: WebSettings | None = None  # no page unless --web
    file: SettingsFile = field(default_factory=lambda: SettingsFile(None))
    window: bool = True
    progress: bool = True
    verbose: bool = False


def unknown_people(settings: Settings, known: Iterable[str]) -> list[str]:
    """A warning for each ``[people."NAME"]`` table that names nobody ``known`` (a typo,
    or "Mary-Jane" for the greeter's "Mary Jane"), with the names there are."""
    known = list(known)
    return [f"[people.\"{name}\"] in {settings.file.path} names nobody in "
            f"{settings.recognition.images}; the names there are: "
            f"{', '.join(known) or 'none yet'}"
            for name in settings.welcome.greetings.people if name not in known]
