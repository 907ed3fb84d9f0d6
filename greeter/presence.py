"""Who is home: each known person's last sighting, and home or away.

A person recognised is home; one unseen for ``away_after`` seconds (of the
source's time, as the greeting cooldown) is away. Each change is a
:class:`Change`, which the greeter sends as an ``arrived`` or ``left`` event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ARRIVED, LEFT = "arrived", "left"


@dataclass(frozen=True)
class PresenceSettings:
    """``away_after``: seconds unseen after which a person is away."""

    away_after: float = 30 * 60.0

    def __post_init__(self) -> None:
        if not self.away_after > 0:
            raise ValueError("--away-after must be more than 0 minutes")


@dataclass(frozen=True)
class Sighting:
    """When and where a person was last seen: the source's time, UTC ISO 8601, the source."""

    time: float
    utc: str
    source: str


@dataclass(frozen=True)
class Change:
    """A person turned home (``ARRIVED``) or away (``LEFT``); ``last_seen`` is their last
    sighting (for an arrival, the one that made it)."""

    kind: str
    name: str
    last_seen: Sighting


class Presence:
    """Keeps each known person's last sighting and whether they are home."""

    def __init__(self, settings: PresenceSettings) -> None:
        self.settings = settings
        self.last_seen: dict[str, Sighting] = {}
        self.home: set[str] = set()

    def update(self, names: Iterable[str], sighting: Sighting) -> list[Change]:
        """Note ``names`` seen at ``sighting``; the changes: arrivals of those who were
        away (or never seen), then departures of those unseen ``away_after`` seconds."""
        changes = []
        for name in dict.fromkeys(names):
            self.last_seen[name] = sighting
            if name not in self.home:
                self.home.add(name)
                changes.append(Change(ARRIVED, name, sighting))
        for name in sorted(self.home):
            last = self.last_seen[name]
            if sighting.time - last.time >= self.settings.away_after:
                self.home.discard(name)
                changes.append(Change(LEFT, name, last))
        return changes

    def keep_only(self, people: Iterable[str]) -> None:
        """Forget everyone not in ``people`` (their photos were removed)."""
        people = set(people)
        self.home &= people
        self.last_seen = {name: seen for name, seen in self.last_seen.items() if name in people}
