"""``python facenet.py calibrate``: the threshold that keeps strangers from being greeted.

The greeter's question, asked of the people in images/ (:func:`door_rates`):
each person in turn plays a stranger, every photo of theirs coming to a door
where everyone else is enrolled (greeted if any other person's photo lies
within the threshold); and each photo of a person with two or more photos
comes as a known visitor, the person's other photos enrolled (greeted right
if the nearest photo is theirs and within the threshold). The recommended
threshold is the largest that greets at most ``--strangers`` of the
strangers (default 1%), with the share of known visitors greeted right that
it costs. It is never looser than the model's default without saying how
many more strangers that greets. (Balanced pair accuracy, which this used
to maximise, recommended looser thresholds that doubled the strangers
greeted: issue 20.)

Every pair of encoded photos is also compared for the plot: pairs of one
person's photos give the same-person distances, pairs of two people's photos
the different-person distances. The pair arithmetic (:func:`pair_distances`,
:func:`rates_at`) is shared with bench/accuracy.py: a NaN encoding (a photo
without a usable face) fails each of its pairs whichever their kind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from greeter.common import load_models_or_say_why
from greeter.database import PhotoLibrary, is_note_on
from greeter.files import write_atomically
from greeter.progress import progress_for
from greeter.report import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, warn
from greeter.settings import Settings

if TYPE_CHECKING:
    from greeter.encode import FaceEncoder

# Fewer people with two or more photos give too few same-person pairs for
# a threshold that means anything.
MIN_PEOPLE_WITH_PAIRS = 3
# Below this many same-person pairs the result is called a rough estimate.
FEW_SAME_PAIRS = 30
# The plot's size: 8 x 4.5 inches at 100 dpi.
PLOT_INCHES, PLOT_DPI = (8.0, 4.5), 100
PLOT_PIXELS = (int(PLOT_INCHES[0] * PLOT_DPI), int(PLOT_INCHES[1] * PLOT_DPI))


@dataclass(frozen=True)
class Pairs:
    """Distances of every pair of photos, by kind; ``*_index`` rows are the (i, j) of each."""

    same: np.ndarray            # (S,) float, NaN where a photo has no encoding
    different: np.ndarray       # (D,) float, likewise
    same_index: np.ndarray      # (S, 2) int
    different_index: np.ndarray  # (D, 2) int


@dataclass(frozen=True)
class Rates:
    """How a threshold does on a set of pairs; all shares are in [0, 1]."""

    threshold: float
    tar: float       # same-person pairs accepted
    far: float       # different-person pairs accepted
    balanced: float  # (tar + 1 - far) / 2


def pair_distances(encodings: np.ndarray, labels: list[str]) -> Pairs:
    """The L2 distance of every pair of rows of ``encodings`` (N, 128), split by whether
    their ``labels`` are equal; pairs in ``itertools.combinations`` order."""
    encodings = np.asarray(encodings, np.float32)
    label_ids = np.unique(np.asarray(labels), return_inverse=True)[1]
    distances, firsts, seconds = [], [], []
    for i in range(len(encodings) - 1):
        # One row against the rest: exact differences (no |a|^2+|b|^2-2ab
        # cancellation) in memory that grows with N, not N^2 x 128.
        distances.append(np.linalg.norm(encodings[i + 1:] - encodings[i], axis=1))
        firsts.append(np.full(len(encodings) - i - 1, i))
        seconds.append(np.arange(i + 1, len(encodings)))
    if not distances:
        empty = np.zeros(0)
        return Pairs(empty, empty, np.zeros((0, 2), int), np.zeros((0, 2), int))
    distance = np.concatenate(distances).astype(np.float64)
    index = np.stack([np.concatenate(firsts), np.concatenate(seconds)], axis=1)
    same = label_ids[index[:, 0]] == label_ids[index[:, 1]]
    return Pairs(distance[same], distance[~same], index[same], index[~same])


def rates_at(same: np.ndarray, different: np.ndarray, threshold: float) -> Rates:
    """TAR, FAR and balanced accuracy at ``threshold``; NaN distances are errors.

    A NaN same-person pair is not accepted, a NaN different-person pair
    counts as accepted. Empty kinds give NaN shares.
    """
    with np.errstate(invalid="ignore"):
        tar = float(np.mean(same <= threshold)) if len(same) else float("nan")
        far = float(np.mean(~(different > threshold))) if len(different) else float("nan")
    return Rates(float(threshold), tar, far, (tar + 1 - far) / 2)


@dataclass(frozen=True)
class DoorRates:
    """The door's rates at one threshold (see the module docstring)."""

    threshold: float
    strangers_greeted: float  # share of stranger visits greeted by any name
    greeted_right: float      # share of known visits greeted by their own name
    greeted_wrong: float      # share of known visits greeted by someone else's


@dataclass(frozen=True)
class Door:
    """Per visit, what decides it: a stranger's distance to the nearest photo of
    anyone else; a known visitor's distance to the nearest other photo and
    whether that photo is theirs."""

    stranger: np.ndarray      # (photos,) float: inf where the photo has no encoding
    known: np.ndarray         # (known visits,) float
    known_is_own: np.ndarray  # (known visits,) bool

    def at(self, threshold: float) -> DoorRates:
        greeted = self.known <= threshold
        return DoorRates(float(threshold), float(np.mean(self.stranger <= threshold)),
                         float(np.mean(greeted & self.known_is_own)) if len(greeted) else 0.0,
                         float(np.mean(greeted & ~self.known_is_own)) if len(greeted) else 0.0)

    def threshold_for(self, strangers_greeted: float) -> float:
        """The largest threshold that greets at most ``strangers_greeted`` of the strangers."""
        nearest = np.sort(self.stranger[np.isfinite(self.stranger)])
        allowed = int(np.floor(strangers_greeted * len(self.stranger)))
        if allowed >= len(nearest):
            return float(np.inf)
        # Just under the first stranger distance that would be one too many.
        return float(np.nextafter(nearest[allowed], 0))


def door_rates(encodings: np.ndarray, labels: list[str]) -> Door:
    """:class:`Door` of the photos ``encodings`` (N, width), NaN rows unusable, of the
    people ``labels``: each person a stranger to the others, and each photo of a
    person with other photos a known visitor (those photos enrolled)."""
    encodings = np.asarray(encodings, np.float64)
    labels_array = np.asarray(labels)
    usable = ~np.isnan(encodings[:, 0])
    distances = np.full((len(labels), len(labels)), np.inf)
    rows = np.flatnonzero(usable)
    for i in rows:
        distances[i, rows] = np.linalg.norm(encodings[rows] - encodings[i], axis=1)
    np.fill_diagonal(distances, np.inf)
    same = labels_array[:, None] == labels_array[None, :]
    stranger = np.where(same, np.inf, distances).min(axis=1)
    counts = {label: int(np.sum(labels_array == label)) for label in set(labels)}
    visits = [row for row, label in enumerate(labels) if counts[label] >= 2]
    nearest = distances[visits].argmin(axis=1) if visits else np.zeros(0, int)
    return Door(stranger, distances[visits, nearest] if visits else np.zeros(0),
                labels_array[nearest] == labels_array[visits] if visits else np.zeros(0, bool))


def photos_needed(photo_counts: dict[str, int],
                  people_with_pairs: int = MIN_PEOPLE_WITH_PAIRS) -> tuple[int, list[str]]:
    """How many photos must be added for ``people_with_pairs`` people with two or
    more photos each, and the people (fewest photos first) a second one would go to.

    People with one photo need one more each; beyond them, new people two each.
    """
    have = sum(count >= 2 for count in photo_counts.values())
    missing = max(0, people_with_pairs - have)
    singles = sorted(name for name, count in photo_counts.items() if count == 1)
    second_for = singles[:missing]
    return len(second_for) + 2 * (missing - len(second_for)), second_for


def save_plot(pairs: Pairs, best: Rates, current: Rates, path: str, title: str) -> None:
    """Write a PNG of PLOT_PIXELS to ``path`` (replaced atomically): the histograms of
    both kinds of distance, the recommended (``best``) and the current threshold marked."""
    import matplotlib
    matplotlib.use("Agg")  # no display needed, and no window pops up
    from matplotlib.figure import Figure

    same = pairs.same[np.isfinite(pairs.same)]
    different = pairs.different[np.isfinite(pairs.different)]
    top = max(float(np.max(same)), float(np.max(different)), best.threshold,
              current.threshold)
    bins = np.linspace(0.0, top * 1.05, 41)
    # A Figure without pyplot: no global state, nothing left open.
    figure = Figure(figsize=PLOT_INCHES, dpi=PLOT_DPI)
    axes = figure.add_subplot()
    axes.hist(different, bins=bins, density=True, alpha=0.55, color="tab:red",
              label=f"different people ({len(pairs.different)} pairs)")
    axes.hist(same, bins=bins, density=True, alpha=0.55, color="tab:green",
              label=f"same person ({len(pairs.same)} pairs)")
    axes.axvline(best.threshold, color="black", linewidth=2,
                 label=f"recommended threshold {best.threshold:.3f} "
                       f"(TAR {best.tar:.3f}, FAR {best.far:.4f})")
    axes.axvline(current.threshold, color="tab:blue", linestyle="--", linewidth=2,
                 label=f"current threshold {current.threshold:g} "
                       f"(TAR {current.tar:.3f}, FAR {current.far:.4f})")
    axes.set_xlabel("distance between the encodings of two photos")
    axes.set_ylabel("share of pairs (density)")
    axes.set_title(title)
    axes.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    write_atomically(path, lambda file: figure.savefig(file, format="png", dpi=PLOT_DPI),
                     suffix=".png")


def _inside(path: str, folder: str) -> bool:
    """True when ``path`` is ``folder`` or anywhere under it (links resolved)."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


def _summary(distances: np.ndarray) -> str:
    finite = distances[np.isfinite(distances)]
    return (f"distances {finite.min():.3f} to {finite.max():.3f}, "
            f"median {np.median(finite):.3f}")


def calibrate_command(settings: Settings, plot: str, strangers: float = 0.01,
                      encoder: FaceEncoder | None = None) -> int:
    """``calibrate``: print the best threshold for the images folder and how the current
    one does, and save the plot to ``plot``; returns the exit status (1: too few
    photos). The recommended threshold greets at most ``strangers`` of them.

    ``encoder`` is an already loaded FaceEncoder to use (else the settings' one loads).
    """
    recognition = settings.recognition
    problem = _plot_or_images_problem(plot, recognition.images)
    if problem:
        warn(f"error: {problem}")
        return EXIT_USAGE
    encoder = encoder or load_models_or_say_why(recognition)
    if encoder is None:
        return EXIT_FAILURE
    library = _loaded_library(settings, encoder)
    counts = library.photo_counts
    needed, second_for = photos_needed(counts)
    if needed:
        warn(f"error: {_more_photos_needed(counts, needed, second_for, recognition.images)}")
        return EXIT_FAILURE
    names = list(library.gallery.names)
    pairs = pair_distances(library.gallery.encodings, names)
    door = door_rates(library.gallery.encodings, names)
    recommended = door.at(min(door.threshold_for(strangers), 10 * encoder.threshold))
    _print_rates(settings, encoder, counts, pairs, door, recommended, strangers,
                 list(library.photo_paths), names)
    threshold = recognition.threshold
    if abs(recommended.threshold - threshold) >= 0.01:
        # Rounded down: rounded up it could let in the stranger it was set under.
        print(f"to use it: python facenet.py --threshold "
              f"{np.floor(recommended.threshold * 1000) / 1000:.3f}")
    plotted = rates_at(pairs.same, pairs.different, recommended.threshold)
    title = f"{len(names)} photos of {len(counts)} people, {encoder.network} model"
    try:
        save_plot(pairs, plotted, rates_at(pairs.same, pairs.different, threshold), plot, title)
    except ImportError:
        warn("error: the plot needs matplotlib: pip install matplotlib")
        return EXIT_FAILURE
    except OSError as error:
        warn(f"error: cannot write the plot {plot} ({error.strerror or error}); choose "
             "another --plot path")
        return EXIT_FAILURE
    print(f"plot saved to {plot}")
    return EXIT_OK


def _plot_or_images_problem(plot: str, images: str) -> str:
    """What is wrong with the --plot path or the images folder, or ""."""
    folder = os.path.dirname(os.path.abspath(plot))
    if not plot.lower().endswith(".png"):
        return f"--plot {plot}: the plot is a PNG; give a file name ending in .png"
    if _inside(plot, images):
        return (f"--plot {plot} is inside the images folder {images}, where the greeter "
                "would take it for a photo; save it elsewhere")
    if not os.path.isdir(folder):
        return f"--plot {plot}: folder {folder} does not exist; create it or choose another path"
    if not os.path.isdir(images):
        return (f"images folder {images} does not exist; put photos of each person there "
                "(alice.jpg, alice_2.jpg, or a folder alice/)")
    return ""


def _loaded_library(settings: Settings, encoder: FaceEncoder) -> PhotoLibrary:
    """The photos encoded, saying what was skipped (and, with -v, how faces were found)."""
    messages: list[str] = []
    library = PhotoLibrary(settings.recognition.images, encoder, on_message=messages.append)
    library.refresh(on_progress=progress_for(settings.progress))
    paths = list(library.photo_paths)
    for message in messages:
        # How an encoded photo's face was found is detail; skipped photos are not.
        if settings.verbose or settings.progress and not is_note_on(message, paths):
            warn(message)
    return library


def _more_photos_needed(counts: dict[str, int], needed: int, second_for: list[str],
                        images: str) -> str:
    """Why calibration cannot run on ``counts`` photos per person, and what to add."""
    with_pairs = [name for name, count in counts.items() if count >= 2]
    where = (f"a second photo of {', '.join(second_for)}" if second_for else "")
    if needed > len(second_for):
        new = needed - len(second_for)
        where += (" and " if where else "") + f"{new} photos of new people (two each)"
    return (f"calibration needs at least {MIN_PEOPLE_WITH_PAIRS} people with two or "
            f"more photos each; {images} has {len(with_pairs)}"
            f"{' (' + ', '.join(with_pairs) + ')' if with_pairs else ''} among "
            f"{len(counts)} people: add {needed} more photo{'s' if needed != 1 else ''} "
            f"({where}), named alice_2.jpg or put in a folder alice/")


def _print_rates(settings: Settings, encoder: FaceEncoder, counts: dict[str, int],
                 pairs: Pairs, door: Door, recommended: DoorRates, target: float,
                 paths: list[str], names: list[str]) -> None:
    """Print the distances found, and how the recommended and current thresholds do;
    ``paths`` and ``names``: each encoded photo's file and person."""
    current, default = door.at(settings.recognition.threshold), door.at(encoder.threshold)
    people_with_pairs = sum(count >= 2 for count in counts.values())
    print(f"calibration on {len(names)} photos of {len(counts)} people in "
          f"{settings.recognition.images} ({encoder.network} model; {people_with_pairs} "
          "people have two or more photos)")
    print(f"  {len(pairs.same)} same-person pairs: {_summary(pairs.same)}")
    print(f"  {len(pairs.different)} different-person pairs: {_summary(pairs.different)}")
    print(f"  at the door: {len(door.stranger)} stranger visits (each person a stranger to "
          f"the others), {len(door.known)} known visits (each photo, the person's others "
          "enrolled)")
    for label, rates in ((f"recommended threshold (strangers greeted at most {target:g})",
                          recommended), ("current threshold", current)):
        print(f"{label} {rates.threshold:.3f}: strangers greeted {rates.strangers_greeted:.3f}, "
              f"known people greeted right {rates.greeted_right:.3f}, by a wrong name "
              f"{rates.greeted_wrong:.3f}")
    if settings.verbose:
        _print_hardest(pairs, paths, names)
    if len(door.stranger) < 1 / max(target, 1e-9):
        print(f"note: {len(door.stranger)} stranger visits cannot measure a rate of {target:g} "
              "(one of them is already more): the threshold keeps every one of them out; more "
              "photos of more people make it better")
    if len(pairs.same) < FEW_SAME_PAIRS:
        print(f"note: only {len(pairs.same)} same-person pairs: a rough estimate; more photos "
              "of each person make it better")
    if recommended.threshold > encoder.threshold:
        # Looser than the model's default, chosen on few people: say what it costs.
        print(f"note: {recommended.threshold:.3f} is looser than the {encoder.network} default "
              f"{encoder.threshold:g}: here it greets {recommended.strangers_greeted:.3f} of the "
              f"strangers against {default.strangers_greeted:.3f}, for known people greeted "
              f"right {recommended.greeted_right:.3f} against {default.greeted_right:.3f}; on "
              "people other than these it may greet more strangers")


def _print_hardest(pairs: Pairs, paths: list[str] | None, names: list[str],
                   count: int = 5) -> None:
    """Print the same-person pairs farthest apart and the different-person pairs closest."""
    def photo(row: int) -> str:
        return paths[row] if paths is not None else names[row]

    for title, distances, index, order in (
            ("same-person pairs farthest apart", pairs.same, pairs.same_index,
             np.argsort(-pairs.same)),
            ("different-person pairs closest", pairs.different, pairs.different_index,
             np.argsort(pairs.different))):
        print(f"  {title}:")
        for row in order[:count]:
            i, j = index[row]
            print(f"    {distances[row]:.3f}  {photo(i)}  {photo(j)}")
