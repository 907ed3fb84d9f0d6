"""The command line: ``python facenet.py [COMMAND] [OPTIONS]``.

With no command the greeter runs; ``encode`` and ``verify`` work on photos.
Every command takes the common options after its name. Exit status: 0
success, 1 a runtime failure, 2 bad arguments or unreadable input files.
"""

from __future__ import annotations

import argparse
import os
import sys

from greeter.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, load_encoder
from greeter.detect import DEFAULT_DETECTOR, DETECTORS
from greeter.paths import IMAGES_DIR, WEIGHTS_DIR


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
    # greeter.encode.NETWORKS, not imported: it would import TensorFlow before --help.
    common.add_argument("--model", choices=("dlib+sface", "dlib", "openface"),
                        default="dlib+sface",
                        help="face encoder: dlib+sface, dlib's network and SFace, both "
                             "must agree (the fused distance); dlib alone, as the "
                             "face_recognition library; openface needs OpenFace's CSV "
                             "weights in --weights (default: %(default)s)")
    common.add_argument("--weights", default=WEIGHTS_DIR, metavar="DIR",
                        help="folder of the OpenFace CSV weights for --model openface "
                             "(default: %(default)s)")
    common.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                        help="face detector: faceboxes finds small and turned faces in real "
                             "time; yunet does too at under half the cost, with photos less "
                             "well aligned (not yet the default); "
                             "haar is the classic demo's cascade, for large frontal "
                             "faces (default: %(default)s)")
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
            parser.usage = "facenet.py service {install [GREETER OPTIONS ...],status,uninstall}"
            parser.add_argument("action", choices=("install", "status", "uninstall"),
                                help="install: run the greeter at boot with the options that "
                                     "follow (as given to python facenet.py: --source, "
                                     "--webhook, ...), restarted when it fails")
            return parser
        elif command == "visitors":
            parser.add_argument("--html", metavar="FILE.html",
                                help="also write a page showing their photos in a grid")
            parser.add_argument("--forget", type=int, metavar="ID",
                                help="first delete visitor ID: every visit and photo")
    _add_common_options(parser)
    return parser


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
    if args.threshold is not None and args.threshold <= 0:
        build_parser(command).error("--threshold must be a positive distance")
    if (command in ("run", "enroll") and os.path.abspath(args.images) != IMAGES_DIR
            and not os.path.isdir(args.images)):
        # A mistyped folder would be created and the greeter would greet nobody.
        build_parser(command).error(f"--images {args.images}: no such folder; check the path, "
                                    "or create it and put one photo per person in it")
    if command == "run" and (args.visit_gap < 0 or not args.keep_visitors > 0
                             or not args.away_after > 0):
        build_parser(command).error("--visit-gap must be 0 or more minutes, --keep-visitors "
                                    "more than 0 days, --away-after more than 0 minutes")
    if command == "run" and args.web:
        from greeter.web.security import WebOptionError, check_web_options, web_password
        try:
            check_web_options(args.web, web_password(args.web_password))
        except WebOptionError as error:
            build_parser(command).error(str(error))
    if command in ("run", "doctor"):
        from greeter.events import EventsError, check_event_options
        try:
            check_event_options(args.on_greet, args.webhook, args.mqtt, args.hook_timeout)
        except EventsError as error:
            build_parser(command).error(str(error))
    return args


def _settings_file(command: str, parser: argparse.ArgumentParser,
                   argv: list[str]) -> argparse.Namespace:
    """Read the settings file (exit 2 naming the file and line of a mistake) and make its
    values ``parser``'s defaults; returns the Namespace to parse into, which holds the
    file (``settings``) and the options typed (``typed``)."""
    from greeter.settings import (SettingsError, apply_settings, find_settings_file,
                                  load_settings, option_specs)
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
    quiet_tensorflow(args.verbose)
    if args.command == "encode":
        return encode_command(args)
    if args.command == "verify":
        return verify_command(args)
    if args.command == "enroll":
        from greeter.enroll import enroll_command
        return enroll_command(args)
    if args.command == "calibrate":
        from greeter.calibrate import calibrate_command
        return calibrate_command(args)
    if args.command == "doctor":
        from greeter.doctor import doctor_command
        return doctor_command(args)
    if args.command == "visitors":
        from greeter.visitors import visitors_command
        return visitors_command(args)
    if args.command == "service":
        from greeter.service import service_command
        return service_command(args)
    if args.command == "settings":
        from greeter.settings import settings_command
        return settings_command(args, build_parser("settings"))
    if args.command == "voices":
        from greeter.settings import voices_command
        return voices_command()
    from greeter.app import run_greeter
    return run_greeter(args, launched)


def encode_command(args: argparse.Namespace) -> int:
    """``encode``: photos to an .npz of paths, encodings (NaN rows when unusable) and threshold."""
    import numpy as np

    from greeter.photos import list_photos
    missing = [path for path in args.photos if not os.path.exists(path)]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    photos = list_photos(args.photos)
    if not photos:
        print(f"error: no photos in {', '.join(args.photos)}", file=sys.stderr)
        return EXIT_USAGE
    encoder = load_encoder(args)
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
    write_npz_atomically(args.out, paths=np.array(photos, dtype=str), encodings=encodings,
                         threshold=np.float64(encoder.threshold))
    print(f"encoded {encoded} of {len(photos)} photos into {args.out}")
    return EXIT_OK if encoded else EXIT_FAILURE


def verify_command(args: argparse.Namespace) -> int:
    """``verify``: the distance between two photos' faces, and the verdict at the threshold."""
    for path in (args.photo1, args.photo2):
        if not os.path.isfile(path):
            print(f"error: no such photo: {path}", file=sys.stderr)
            return EXIT_USAGE
    encoder = load_encoder(args)
    if encoder is None:
        return EXIT_FAILURE
    results = [encoder.encode_photo(path) for path in (args.photo1, args.photo2)]
    for result in results:
        if result.encoding is None:
            print(f"error: {result.path}: {result.note}", file=sys.stderr)
            return EXIT_USAGE
        if result.note:
            print(f"{result.path}: {result.note}", file=sys.stderr)
    from greeter.match import face_distance
    distance = float(face_distance(results[0].encoding[None], results[1].encoding)[0])
    verdict = "same person" if distance <= encoder.threshold else "different people"
    print(f"distance {distance:.3f}: {verdict} (threshold {encoder.threshold:g})")
    return EXIT_OK
