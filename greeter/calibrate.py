"""``python facenet.py calibrate``: the threshold that best tells the people in images/ apart.

Every pair of encoded photos is compared: pairs of one person's photos give
the same-person distances (so only people with two or more photos add to
them), pairs of two people's photos the different-person distances. The
best threshold maximises balanced accuracy, (TAR + 1 - FAR) / 2, where TAR
is the share of same-person pairs accepted (distance <= threshold) and FAR
the share of different-person pairs accepted.

The pair arithmetic (:func:`pair_distances`, :func:`rates_at`,
:func:`best_threshold`) is shared with bench/accuracy.py: a NaN encoding (a
photo without a usable face) fails each of its pairs whichever their kind.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import numpy as np

from greeter.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, load_encoder
from greeter.files import write_atomically

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


def best_threshold(same: np.ndarray, different: np.ndarray) -> Rates:
    """The threshold of highest balanced accuracy, and its rates.

    Candidates are the midpoints between consecutive distinct distances; of
    equally good ones the one in the widest gap wins (the largest margin).
    Raises ValueError when either kind has no finite distance.
    """
    same_finite = np.sort(same[np.isfinite(same)])
    different_finite = np.sort(different[np.isfinite(different)])
    if not len(same_finite) or not len(different_finite):
        raise ValueError("best_threshold needs same-person and different-person distances")
    values = np.unique(np.concatenate([same_finite, different_finite]))
    if len(values) == 1:
        return rates_at(same, different, float(values[0]))
    candidates = (values[:-1] + values[1:]) / 2
    gaps = values[1:] - values[:-1]
    tar = np.searchsorted(same_finite, candidates, side="right") / len(same)
    failed_different = len(different) - len(different_finite)
    far = ((np.searchsorted(different_finite, candidates, side="right") + failed_different)
           / len(different))
    balanced = (tar + 1 - far) / 2
    best = np.flatnonzero(balanced >= balanced.max() - 1e-12)
    chosen = best[np.argmax(gaps[best])]
    return rates_at(same, different, float(candidates[chosen]))


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
    both kinds of distance, the best and the current threshold marked."""
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
                 label=f"best threshold {best.threshold:.3f} "
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


def calibrate_command(args: argparse.Namespace, encoder=None) -> int:
    """``calibrate``: print the best threshold for --images and how the current one does,
    and save the plot to --plot; returns the exit status (1: too few photos).

    ``encoder`` is an already loaded FaceEncoder to use (else the options' one loads).
    """
    def say(text: str) -> None:
        if not args.quiet:
            print(text, file=sys.stderr)

    plot = args.plot
    if not plot.lower().endswith(".png"):
        print(f"error: --plot {plot}: the plot is a PNG; give a file name ending in .png",
              file=sys.stderr)
        return EXIT_USAGE
    if _inside(plot, args.images):
        print(f"error: --plot {plot} is inside the images folder {args.images}, where the "
              "greeter would take it for a photo; save it elsewhere", file=sys.stderr)
        return EXIT_USAGE
    if not os.path.isdir(os.path.dirname(os.path.abspath(plot))):
        print(f"error: --plot {plot}: folder {os.path.dirname(os.path.abspath(plot))} does "
              "not exist; create it or choose another path", file=sys.stderr)
        return EXIT_USAGE
    if not os.path.isdir(args.images):
        print(f"error: images folder {args.images} does not exist; put photos of each "
              "person there (alice.jpg, alice_2.jpg, or a folder alice/)", file=sys.stderr)
        return EXIT_USAGE

    from greeter.database import PhotoLibrary, is_note_on
    from greeter.progress import progress_for
    if encoder is None:
        encoder = load_encoder(args)
        if encoder is None:
            return EXIT_FAILURE
    threshold = args.threshold if args.threshold is not None else encoder.threshold
    messages: list[str] = []
    library = PhotoLibrary(args.images, encoder, on_message=messages.append)
    library.refresh(on_progress=progress_for(args))
    paths = list(library.photo_paths)
    for message in messages:
        # How an encoded photo's face was found is detail; skipped photos are not.
        if args.verbose or not is_note_on(message, paths or []):
            say(message)

    counts = library.photo_counts
    needed, second_for = photos_needed(counts)
    if needed:
        with_pairs = [name for name, count in counts.items() if count >= 2]
        where = (f"a second photo of {', '.join(second_for)}" if second_for else "")
        if needed > len(second_for):
            new = needed - len(second_for)
            where += (" and " if where else "") + f"{new} photos of new people (two each)"
        print(f"error: calibration needs at least {MIN_PEOPLE_WITH_PAIRS} people with two or "
              f"more photos each; {args.images} has {len(with_pairs)}"
              f"{' (' + ', '.join(with_pairs) + ')' if with_pairs else ''} among "
              f"{len(counts)} people: add {needed} more photo{'s' if needed != 1 else ''} "
              f"({where}), named alice_2.jpg or put in a folder alice/", file=sys.stderr)
        return EXIT_FAILURE

    names = list(library.gallery.names)
    pairs = pair_distances(library.gallery.encodings, names)
    best = best_threshold(pairs.same, pairs.different)
    current = rates_at(pairs.same, pairs.different, threshold)
    people_with_pairs = sum(count >= 2 for count in counts.values())
    print(f"calibration on {len(names)} photos of {len(counts)} people in {args.images} "
          f"({encoder.network} network; {people_with_pairs} people have two or more photos)")
    print(f"  {len(pairs.same)} same-person pairs: {_summary(pairs.same)}")
    print(f"  {len(pairs.different)} different-person pairs: {_summary(pairs.different)}")
    for label, rates in (("best threshold", best), ("current threshold", current)):
        print(f"{label} {rates.threshold:.3f}: TAR {rates.tar:.3f}, FAR {rates.far:.4f}, "
              f"balanced accuracy {rates.balanced:.4f}")
    if args.verbose:
        _print_hardest(pairs, paths, names)
    if len(pairs.same) < FEW_SAME_PAIRS:
        print(f"note: only {len(pairs.same)} same-person pairs: a rough estimate; more photos "
              "of each person make it better")
    if abs(best.threshold - threshold) >= 0.01 and best.balanced > current.balanced:
        print(f"to use it: python facenet.py --threshold {best.threshold:.2f}")
    title = f"{len(names)} photos of {len(counts)} people, {encoder.network} network"
    try:
        save_plot(pairs, best, current, plot, title)
    except ImportError:
        print("error: the plot needs matplotlib: pip install matplotlib", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as error:
        print(f"error: cannot write the plot {plot} ({error.strerror or error}); choose "
              "another --plot path", file=sys.stderr)
        return EXIT_FAILURE
    print(f"plot saved to {plot}")
    return EXIT_OK


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
