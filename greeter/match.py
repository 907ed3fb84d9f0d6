"""Naming faces: the nearest stored encoding by L2 distance, under a threshold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Gallery:
    """The known people: one row of ``encodings`` per photo, ``names[i]`` its person."""

    names: tuple[str, ...]
    encodings: np.ndarray  # (photos, 128) float32

    @classmethod
    def empty(cls, dimensions: int = 128) -> "Gallery":
        return cls((), np.zeros((0, dimensions), np.float32))

    def __post_init__(self) -> None:
        # Squared norms are needed for every match; computing them once per
        # gallery rather than once per face keeps a large gallery cheap.
        object.__setattr__(self, "_squared_norms",
                           np.einsum("ij,ij->i", self.encodings, self.encodings))

    @property
    def people(self) -> list[str]:
        """The distinct names, sorted."""
        return sorted(set(self.names))


@dataclass(frozen=True)
class Match:
    """Who a face is: ``name`` is UNKNOWN when no one is within the threshold;
    ``distance`` is the distance to the nearest photo either way (inf if none)."""

    name: str
    distance: float

    @property
    def known(self) -> bool:
        return self.name != UNKNOWN


def face_distance(known_encodings: np.ndarray, face_encoding: np.ndarray) -> np.ndarray:
    """The L2 distance from ``face_encoding`` (128,) to each row of ``known_encodings``."""
    return np.linalg.norm(np.asarray(known_encodings) - face_encoding, axis=1)


def match_faces(gallery: Gallery, encodings: np.ndarray, threshold: float) -> list[Match]:
    """One Match per row of ``encodings`` (faces, 128): the person of the nearest photo.

    A person's distance is the smallest over their photos, so the nearest photo
    names the nearest person. All faces are matched against all photos at once.
    """
    encodings = np.asarray(encodings, np.float32).reshape(-1, gallery.encodings.shape[1])
    if len(encodings) == 0:
        return []
    if len(gallery.names) == 0:
        return [Match(UNKNOWN, float("inf")) for _ in encodings]
    # |a-b|^2 = |a|^2 + |b|^2 - 2ab: one matrix product instead of a
    # (faces x photos x 128) difference array, which matters at 100,000 photos.
    squared = (np.einsum("ij,ij->i", encodings, encodings)[:, None]
               + gallery._squared_norms[None, :] - 2.0 * encodings @ gallery.encodings.T)
    nearest = np.argmin(squared, axis=1)
    # The expansion loses digits to cancellation; the reported distance is exact.
    distances = np.linalg.norm(encodings - gallery.encodings[nearest], axis=1)
    return [Match(gallery.names[row] if distance <= threshold else UNKNOWN, float(distance))
            for row, distance in zip(nearest, distances)]


def match_looks(gallery: Gallery, looks: np.ndarray, threshold: float,
                parts: tuple[tuple[int, int], ...]) -> Match:
    """Who a followed face is, from all its looks ``looks`` (L, width) float32, a
    row per encoding, NaN in the ``parts`` ((start, stop) columns per network)
    a look was not encoded with.

    A photo's distance is the root of the sum, over parts, of the median over
    looks of that part's squared distance: never nearer than the looks
    themselves are, where the distance of the looks' mean is (a mean of
    several looks is shorter and nearer to every photo: a passer-by came
    0.596 from a photo as a mean, 0.637-0.648 look by look, issue 20). The
    name is the nearest photo's within ``threshold``; UNKNOWN while a part has
    no look at all (its distance then counts 0: a lower bound).
    """
    if len(gallery.names) == 0 or len(looks) == 0:
        return Match(UNKNOWN, float("inf"))
    squared = np.zeros(len(gallery.names), np.float64)
    complete = True
    for start, stop in parts:
        part = looks[:, start:stop]
        part = part[~np.isnan(part[:, 0])]
        if len(part) == 0:
            complete = False
            continue
        photos = gallery.encodings[:, start:stop]
        # (looks x photos) differences per part: a track has a few looks.
        per_look = (np.einsum("ij,ij->i", part, part)[:, None]
                    + np.einsum("ij,ij->i", photos, photos)[None, :] - 2.0 * part @ photos.T)
        squared += np.median(np.maximum(per_look, 0.0), axis=0)
    nearest = int(np.argmin(squared))
    distance = float(np.sqrt(squared[nearest]))
    known = complete and distance <= threshold
    return Match(gallery.names[nearest] if known else UNKNOWN, distance)
