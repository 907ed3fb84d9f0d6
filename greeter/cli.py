"""The command line: ``python facenet.py [COMMAND] [OPTIONS]``.

With no command the greeter runs; ``encode`` and ``verify`` work on photos.
Every command takes the common options after its name. Exit status: 0
success, 1 a runtime failure, 2 bad arguments or unreadable input files.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from typing import Any

from greeter.common import load_models_or_say_why
from greeter.detect import DEFAULT_DETECTOR, DETECTORS
from greeter.events import EventSettings
from greeter.interrupts import release_stop_signals
from greeter.models import DEFAULT_NETWORK, NETWORKS
from greeter.paths import IMAGES_DIR, WEIGHTS_DIR
from greeter.presence import PresenceSettings
from greeter.recognise import Tracking
from greeter.report import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, setup_logging
from greeter.settings import (RecognitionSettings, Settings, SourceSettings, SpeechSettings,
                              VisitorSettings, WelcomeSettings)
from greeter.settings_file import SettingsFile
from greeter.web.security import WebSettings


COMMANDS = {
    "run": "watch the source and welcome the people in --images (the default)",
    "encode": "write the encodings of photos to an .npz file",
    "verify": "tell whether two photos show the same person",
    "enroll": "take a photo of NAME at the camera and add it to --images",
    "calibrate": "find the threshold that keeps strangers from being greeted as the people "
                 "in --images",
    "doctor": "check the camera, speech, weights and photos, and report what is wrong",
    "visitors": "list the unknown visitors kept (--html: a page of their photos)",
    "service": "start the greeter at boot: install, status or uninstall a user service",
    "settings": "print the settings in force and where each came from (--init: a starter file)",
    "voices": "list the speech engine's voices and their languages",
}


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    common = parser.add_argument_group("common options")
    common.add_argument("--config", metavar="FILE.toml",
                        help="the settings file (default: ./facenet.toml, else facenet.toml "
                             "in the user's config folder); the command line wins over it")
    common.add_argument("--images", default=IMAGES_DIR, metavar="DIR",
                        help="folder of known people: NAME.jpg or NAME/*.jpg (default: %(default)s)")
    common.add_argument("--model", choices=NETWORKS, default=DEFAULT_NETWORK,
                        help="face encoder: dlib+sface, dlib's network and SFace, both "
                             "must agree (the fused distance); dlib alone, as the "
                             "face_recognition library; openface needs OpenFace's CSV "
                             "weights in --weights (default: %(default)s)")
    common.add_argument("--weights", default=WEIGHTS_DIR, metavar="DIR",
                        help="folder of the OpenFace CSV weights for --model openface "
                             "(default: %(default)s)")
    common.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                        help="face detector of the frames: yunet finds small and turned "
                             "faces in real time at the least cost; faceboxes finds as many at "
                             "twice the cost; haar is the classic demo's cascade, for "
                             "large frontal faces. The photos of --images are always found "
                             "with faceboxes (default: %(default)s)")
    common.add_argument("--threshold", type=float, default=None, metavar="D",
                        help="largest L2 distance that counts as the same person "
                             "(default: the model's, 1.0 for dlib+sface, 0.6 for dlib, "
                             "0.52 for openface)")
    common.add_argument("--source", default="0", metavar="SRC",
                        help="camera index, video file, image file, folder of images, "
                             "or a stream URL of your own camera (default: camera 0)")
    talk = common.add_mutually_exclusive_group()
    talk.add_argument("-v", "--verbose", action="store_true",
                      help="say more about what is done and why")
    talk.add_argument("-q", "--quiet", action="store_true",
                      help="only errors, warnings and results; no progress")


def build_parser(command: str) -> argparse.ArgumentParser:
    """The argument parser of ``command`` (one of COMMANDS)."""
    if command == "run":
        listing = "\n".join(f"  {name:10} {text}" for name, text in COMMANDS.items())
        parser = argparse.ArgumentParser(
            prog="facenet.py", formatter_class=argparse.RawDescriptionHelpFormatter,
            description="Recognise the people whose photos are in images/ and welcome "
                        "them by voice.",
            epilog=f"commands (python facenet.py COMMAND --help):\n{listing}")
        _add_run_options(parser)
    else:
        parser = argparse.ArgumentParser(prog=f"facenet.py {command}",
                                         description=COMMANDS[command])
        if command == "encode":
            parser.add_argument("photos", nargs="+", metavar="PHOTO_OR_FOLDER")
            parser.add_argument("--out", required=True, metavar="FILE.npz",
                                help="where to write paths, encodings and threshold")
        elif command == "verify":
            parser.add_argument("photo1")
            parser.add_argument("photo2")
        elif command == "enroll":
            parser.add_argument("name", metavar="NAME",
                                help="the person's name, as the greeter will say it "
                                     "(saved as images/NAME.jpg, NAME_2.jpg, ...)")
            parser.add_argument("--from-visitor", type=int, metavar="ID",
                                help="copy the best photos of visitor ID (see `visitors`) "
                                     "instead of using the camera")
            parser.add_argument("--timeout", type=float, default=60.0, metavar="S",
                                help="give up (exit 1) when no steady, sharp single face "
                                     "came within S seconds (default: %(default)g)")
            _add_window_and_speech_options(parser, "confirm in text only")
        elif command == "calibrate":
            parser.add_argument("--plot", default="calibration.png", metavar="FILE.png",
                                help="where to save the plot of the distances "
                                     "(default: %(default)s in the current folder)")
            parser.add_argument("--strangers", type=float, default=0.01, metavar="RATE",
                                help="the largest share of strangers the recommended threshold "
                                     "may greet (default: %(default)g)")
        elif command == "doctor":
            parser.add_argument("--no-speech", action="store_true",
                                help="skip the speech checks")
            _add_speech_options(parser)
            _add_event_options(parser)
        elif command == "settings":
            parser.add_argument("--init", action="store_true",
                                help="write a commented starter file at --config (default: "
                                     "./facenet.toml); an existing file is never replaced")
            _add_run_options(parser)
        elif command == "service":
            _add_service_arguments(parser)
            return parser  # the greeter's options follow; they are checked on their own
        elif command == "visitors":
            parser.add_argument("--html", metavar="FILE.html",
                                help="also write a page showing their photos in a grid")
            parser.add_argument("--forget", type=int, metavar="ID",
                                help="first delete visitor ID: every visit and photo")
    _add_common_options(parser)
    return parser


def _add_service_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = "facenet.py service {install [GREETER OPTIONS ...],status,uninstall}"
    parser.add_argument("action", choices=("install", "status", "uninstall"),
                        help="install: run the greeter at boot with the options that "
                             "follow (as given to python facenet.py: --source, "
                             "--webhook, ...), restarted when it fails")


def _add_window_and_speech_options(parser: argparse.ArgumentParser, no_speech_help: str) -> None:
    parser.add_argument("--headless", action="store_true",
                        help="no window (chosen automatically when there is no display)")
    parser.add_argument("--no-speech", action="store_true", help=no_speech_help)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    _add_window_and_speech_options(parser, "greet in text only")
    parser.add_argument("--confirm", type=int, default=3, metavar="N",
                        help="greet a person recognised in N consecutive processed frames "
                             "(default: %(default)s)")
    parser.add_argument("--cooldown", type=float, default=60.0, metavar="S",
                        help="do not greet the same person again within S seconds "
                             "(default: %(default)s)")
    parser.add_argument("--log", metavar="FILE.csv",
                        help="append one row per greeting: time,frame,name,distance")
    parser.add_argument("--realtime", action="store_true",
                        help="play a video file at its own frame rate, dropping the frames "
                             "the program cannot keep up with, as a camera does")
    parser.add_argument("--loop", action="store_true",
                        help="play a file source again and again")
    parser.add_argument("--wait-for-source", action="store_true",
                        help="wait for a camera or stream that cannot be opened yet, instead "
                             "of exit status 1 (as the service does: the PC may start before "
                             "its camera)")
    visitors = parser.add_argument_group(
        "visitors (unknown faces, kept privately in $FACENET_VISITORS_DIR or the user "
        "data folder)")
    visitors.add_argument("--visit-gap", type=float, default=10.0, metavar="MIN",
                          help="an unknown person seen again within MIN minutes is on the "
                               "same visit (default: %(default)g)")
    visitors.add_argument("--keep-visitors", type=float, default=7.0, metavar="DAYS",
                          help="delete visits older than DAYS days, at start and once a day "
                               "(default: %(default)g)")
    visitors.add_argument("--no-visitors", action="store_true",
                          help="keep nothing about unknown visitors")
    _add_speech_options(parser)
    parser.add_argument("--away-after", type=float, default=30.0, metavar="MIN",
                        help="a known person unseen for MIN minutes is away (an event "
                             "'left'; seen again: 'arrived') (default: %(default)g)")
    _add_event_options(parser)
    web = parser.add_argument_group("web page (see README: the page and its API)")
    web.add_argument("--web", metavar="[HOST:]PORT", nargs="?", const="127.0.0.1:8750",
                     help="serve a page to run the door from: live picture, people, visitors, "
                          "history (HOST defaults to 127.0.0.1, PORT to 8750; e.g. --web, "
                          "--web 8080, --web 0.0.0.0:8080)")
    web.add_argument("--web-password", metavar="PASSWORD",
                     help="the page's password, needed on any address but 127.0.0.1; better "
                          "in the settings file or $FACENET_WEB_PASSWORD than typed, where "
                          "other users of the machine see it")


def _add_speech_options(parser: argparse.ArgumentParser) -> None:
    from greeter.greetings import LANGUAGES
    speech = parser.add_argument_group(
        "greetings and speech (per person: [people.\"NAME\"] in the settings file)")
    speech.add_argument("--language", choices=LANGUAGES, default="en",
                        help="language of the built-in greetings (default: %(default)s)")
    speech.add_argument("--voice", metavar="VOICE",
                        help="a language (fr) or a voice name, see `voices` (default: the "
                             "language's voice)")
    speech.add_argument("--rate", type=int, metavar="WPM",
                        help="speech rate in words per minute (default: the engine's)")
    speech.add_argument("--volume", type=float, metavar="V",
                        help="speech volume, 0.0 to 1.0 (default: the engine's)")
    speech.add_argument("--speech-to", metavar="DIR",
                        help="also write each greeting as a WAV file (and its sentence as "
                             ".txt) in DIR; with --no-speech, instead of playing it")


def _add_event_options(parser: argparse.ArgumentParser) -> None:
    events = parser.add_argument_group(
        "events (each greeting and each new visit, as JSON; see README)")
    events.add_argument("--on-greet", metavar="COMMAND",
                        help="run COMMAND per event: FACENET_TYPE, FACENET_NAME, ... in its "
                             "environment, the JSON on its stdin")
    events.add_argument("--hook-timeout", type=float, default=10.0, metavar="S",
                        help="kill the --on-greet command after S seconds (default: %(default)g)")
    events.add_argument("--webhook", default=os.environ.get("FACENET_WEBHOOK"), metavar="URL",
                        help="POST each event to URL (default: $FACENET_WEBHOOK)")
    events.add_argument("--mqtt", default=os.environ.get("FACENET_MQTT"),
                        metavar="mqtt://[USER:PASS@]HOST[:PORT]",
                        help="publish to facenet/greeting and facenet/visitor, with Home "
                             "Assistant discovery (default: $FACENET_MQTT)")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The parsed command line; ``args.command`` is one of COMMANDS."""
    command = argv[0] if argv and argv[0] in COMMANDS else "run"
    rest = argv[1:] if argv and argv[0] in COMMANDS else argv
    if command == "service":
        args = build_parser(command).parse_args(rest[:1])
        args.command, args.greeter_argv, args.verbose = command, rest[1:], False
        if args.action != "install" and args.greeter_argv:
            build_parser(command).error(f"service {args.action} takes no options")
        parse_args(args.greeter_argv)  # the greeter's options, checked now: exit 2 if wrong
        return args
    parser = build_parser(command)
    args = parser.parse_args(rest, _settings_file(command, parser, rest))
    args.command = command
    if (command in ("run", "enroll") and os.path.abspath(args.images) != IMAGES_DIR
            and not os.path.isdir(args.images)):
        # A mistyped folder would be created and the greeter would greet nobody.
        parser.error(f"--images {args.images}: no such folder; check the path, "
                     "or create it and put one photo per person in it")
    try:
        args.typed_settings = settings_from_args(args)
    except ValueError as error:  # SettingsError, EventsError: the option and the fix
        parser.error(str(error))
    return args


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The typed settings of the options parsed (the settings file's values already
    in them): the one place the command line becomes the stages' sections. Raises
    a ValueError naming the option that is wrong."""
    def given(name: str, default=None):
        return getattr(args, name, default)

    file: SettingsFile = args.settings
    recognition = RecognitionSettings(
        images=args.images, model=args.model, weights=args.weights, detector=args.detector,
        threshold=args.threshold, first_looks=given("confirm", 3),
        tracking=Tracking(**file.tracking))
    language = given("language", "en")
    welcome = WelcomeSettings(confirm=given("confirm", 3), cooldown=given("cooldown", 60.0),
                              log=given("log"),
                              greetings=replace(file.greetings, language=language))
    speech = SpeechSettings(voice=given("voice"), language=language, rate=given("rate"),
                            volume=given("volume"), speech_to=given("speech_to"),
                            play=not given("no_speech", False))
    visitors = VisitorSettings(keep=not given("no_visitors", False),
                               visit_gap=given("visit_gap", 10.0) * 60,
                               keep_days=given("keep_visitors", 7.0))
    events = EventSettings(on_greet=given("on_greet"), webhook=given("webhook"),
                           mqtt=given("mqtt"), hook_timeout=given("hook_timeout", 10.0))
    source = SourceSettings(source=args.source, loop=given("loop", False),
                            realtime=given("realtime", False),
                            wait=given("wait_for_source", False))
    web = WebSettings.from_option(args.web, given("web_password")) if given("web") else None
    return Settings(recognition, welcome, speech, visitors,
                    PresenceSettings(away_after=given("away_after", 30.0) * 60), events,
                    source, web, file, window=not given("headless", False),
                    progress=not args.quiet, verbose=args.verbose)


def _settings_file(command: str, parser: argparse.ArgumentParser,
                   argv: list[str]) -> argparse.Namespace:
    """Read the settings file (exit 2 naming the file and line of a mistake) and make its
    values ``parser``'s defaults; returns the Namespace to parse into, which holds the
    file (``settings``) and the options typed (``typed``)."""
    from greeter.settings_file import (SettingsError, find_settings_file, load_settings,
                                       option_specs)
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config")
    path = find_settings_file(config.parse_known_args(argv)[0].config)
    if command == "settings" and "--init" in argv:
        path = None  # the file to write need not be readable yet
    try:
        settings = load_settings(path, option_specs(
            build_parser(name) for name in COMMANDS if name != "service"))
    except SettingsError as error:
        parser.exit(EXIT_USAGE, f"error: {error}\n")
    return argparse.Namespace(settings=settings, typed=apply_settings(parser, settings, argv))


class _Stop(Exception):
    """Raised in place of argparse's help and errors while the typed options are found."""


def _stop(*args: Any, **kwargs: Any) -> None:
    raise _Stop


def explicit_options(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The dests of the options typed on the command line ``argv``.

    Parsed once with no defaults at all, so that only what was typed is set.
    Help and mistakes are left to the real parse that follows (they would
    be printed twice, and help cannot be formatted without the defaults).
    """
    given = argparse.Namespace()
    saved = {action.dest: action.default for action in parser._actions}
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    parser.print_help = parser.exit = parser.error = _stop  # for this parse only
    try:
        parser.parse_known_args(argv, given)
    except _Stop:
        return set()
    finally:
        del parser.print_help, parser.exit, parser.error
        for action in parser._actions:
            action.default = saved[action.dest]
    return set(vars(given))


def apply_settings(parser: argparse.ArgumentParser, settings: SettingsFile,
                   argv: list[str]) -> set[str]:
    """Make the file's values ``parser``'s defaults, so that the command line wins;
    returns the dests given on the command line.

    A file value of one of a group of exclusive options (``quiet`` in the file,
    ``--verbose`` typed) gives way to the one typed.
    """
    typed = explicit_options(parser, argv)
    own = {action.dest for action in parser._actions}
    values = {dest: value for dest, value in settings.options.items() if dest in own}
    for group in parser._mutually_exclusive_groups:
        members = {action.dest for action in group._group_actions}
        if members & typed:
            values = {dest: value for dest, value in values.items()
                      if dest not in members - typed}
    parser.set_defaults(**values)
    return typed


def quiet_tensorflow(verbose: bool) -> None:
    """Keep TensorFlow's start-up lines off the console unless ``verbose``; settings
    the user made in the environment are kept.

    Must run before TensorFlow is first imported: it reads these once, when
    it loads. TensorFlow is imported only after the arguments are parsed, so
    that --help and argument errors are instant.
    """
    # "oneDNN custom operations are on..." (and absl's "All log messages
    # before absl::InitializeLog()..." that comes with it) is logged before
    # TF_CPP_MIN_LOG_LEVEL is read, so only turning the custom operations off
    # silences it. They bring no speed here: 10 photos encode as fast without.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if not verbose:
        # Info and warnings (the CPU instructions it was built for, ...) say
        # nothing a user can act on; errors still show.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None, launched: float | None = None) -> int:
    """Run the command line; returns the exit status.

    ``launched``: the time.monotonic() at which the program started.
    """
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # A name the console cannot show (an emoji on a Windows console redirected
    # to a file, a file name that is not UTF-8) is printed escaped, not fatal.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    if args.command != "run":  # the greeter stops through its Interrupts; others as usual
        release_stop_signals()
    if args.command == "service":
        from greeter.service import service_command
        return service_command(args.action, args.greeter_argv)
    quiet_tensorflow(args.verbose)
    setup_logging(args.verbose, args.quiet)
    settings: Settings = args.typed_settings
    if args.command == "encode":
        return encode_command(settings.recognition, args.photos, args.out)
    if args.command == "verify":
        return verify_command(settings.recognition, args.photo1, args.photo2)
    if args.command == "enroll":
        from greeter.enroll import enroll_command, enroll_from_visitor
        if args.from_visitor is not None:
            return enroll_from_visitor(settings.recognition, args.name, args.from_visitor)
        return enroll_command(settings, args.name, args.timeout)
    if args.command == "calibrate":
        from greeter.calibrate import calibrate_command
        return calibrate_command(settings, args.plot, args.strangers)
    if args.command == "doctor":
        from greeter.doctor import doctor_command
        return doctor_command(settings)
    if args.command == "visitors":
        from greeter.visitors import visitors_command
        return visitors_command(args.html, args.forget)
    if args.command == "settings":
        from greeter.settings_file import init_command, option_specs, settings_command
        if args.init:
            return init_command(args.config)
        return settings_command(vars(args), args.typed, args.settings,
                                option_specs([build_parser("settings")]).values(),
                                settings.welcome.greetings)
    if args.command == "voices":
        from greeter.settings_file import voices_command
        return voices_command()
    from greeter.app import run_greeter
    return run_greeter(settings, launched)


def encode_command(recognition: RecognitionSettings, paths: list[str], out: str) -> int:
    """``encode``: photos to an .npz of paths, encodings (NaN rows when unusable) and threshold."""
    import numpy as np

    from greeter.photos import list_photos
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    photos = list_photos(paths)
    if not photos:
        print(f"error: no photos in {', '.join(paths)}", file=sys.stderr)
        return EXIT_USAGE
    encoder = load_models_or_say_why(recognition)
    if encoder is None:
        return EXIT_FAILURE
    encodings = np.full((len(photos), encoder.width), np.nan, np.float32)
    for row, path in enumerate(photos):
        result = encoder.encode_photo(path)
        if result.encoding is None:
            print(f"skipped {path}: {result.note}", file=sys.stderr)
            continue
        encodings[row] = result.encoding
        if result.note:
            print(f"{path}: {result.note}", file=sys.stderr)
    encoded = int(np.isfinite(encodings[:, 0]).sum())
    from greeter.files import write_npz_atomically
    write_npz_atomically(out, paths=np.array(photos, dtype=str), encodings=encodings,
                         threshold=np.float64(recognition.threshold))
    print(f"encoded {encoded} of {len(photos)} photos into {out}")
    return EXIT_OK if encoded else EXIT_FAILURE


def verify_command(recognition: RecognitionSettings, photo1: str, photo2: str) -> int:
    """``verify``: the distance between two photos' faces, and the verdict at the threshold."""
    for path in (photo1, photo2):
        if not os.path.isfile(path):
            print(f"error: no such photo: {path}", file=sys.stderr)
            return EXIT_USAGE
    encoder = load_models_or_say_why(recognition)
    if encoder is None:
        return EXIT_FAILURE
    results = [encoder.encode_photo(path) for path in (photo1, photo2)]
    for result in results:
        if result.encoding is None:
            print(f"error: {result.path}: {result.note}", file=sys.stderr)
            return EXIT_USAGE
        if result.note:
            print(f"{result.path}: {result.note}", file=sys.stderr)
    from greeter.match import face_distance
    distance = float(face_distance(results[0].encoding[None], results[1].encoding)[0])
    threshold = recognition.threshold
    verdict = "same person" if distance <= threshold else "different people"
    print(f"distance {distance:.3f}: {verdict} (threshold {threshold:g})")
    return EXIT_OK
