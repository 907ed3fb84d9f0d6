"""Soak test: run the real greeter for a long time and check that it neither leaks nor stalls.

    python tools/soak.py                 # one hour
    python tools/soak.py --minutes 1     # a quick look (CI runs this)
    python tools/soak.py --faults --minutes 30   # with the house failing around it

The program runs on a looping video of a known person at the door
(``--loop``, built from ../shared/faces unless --video and --images are
given), with a short --cooldown so that greetings keep coming, and --log.
Every --interval seconds the tool samples the process's resident memory
(RSS), its thread count and the greetings in the log, and prints a table.
After a warm-up (TensorFlow's pools, the first traces) it checks:

- memory: RSS grows by less than --max-growth-mb (50 MB) after the warm-up;
- threads: the thread count stays the same after the warm-up;
- greetings: one every --cooldown seconds of the video's own time, never
  sooner, and at a steady pace in wall-clock time to the end.

Finally it stops the program with Ctrl+C (SIGINT), which must end it
cleanly within 2 s. Exit status 0 when every check passes, 1 otherwise.

With ``--faults`` the video is served instead as a 30 fps MJPEG camera on
127.0.0.1, and the greeter sends every greeting to a real Mosquitto broker
and a local web server, with ``--cooldown 0`` so that every processed frame
with the person in view is a greeting (their times show any pause of the
frame loop). Meanwhile the camera drops for 10 s every 5 minutes, the broker
is restarted every 7 minutes, and the web server answers 503 for 20 s every
6 minutes. Checked besides memory and threads: every greeting in the log
reached the broker and the web server, once each, and no pause between
processed frames lasted over 1 s outside the camera's outages. The broker and
web server are the test suite's own (tests/brokers.py, tests/streams.py).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import math
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
FACES = REPO.parent / "shared" / "faces"
VIDEO_FPS = 10.0
STOP_LIMIT_S = 2.0
# --faults: (every, for how long) in seconds, and the camera's frame rate.
STREAM_DROP = (300.0, 10.0)
BROKER_RESTART = (420.0, 2.0)
WEBHOOK_503 = (360.0, 20.0)
CAMERA_FPS = 30.0
LONGEST_PAUSE_S = 1.0


@dataclass
class Sample:
    elapsed: float  # seconds since the program was started
    rss_mb: float
    threads: int
    greetings: int
    # --faults: the camera was off, or back less than a reconnect ago (its reading
    # threads come and go with it)
    camera_off: bool = False


def build_door(faces: Path, folder: Path) -> tuple[Path, Path, str]:
    """images/ with one person, and a 12 s video of them at the door: (video, images, name)."""
    images = folder / "images"
    images.mkdir()
    shutil.copy(faces / "people/obama/obama_1.jpg", images / "barack.jpg")
    video = folder / "door.avi"
    photo = cv2.imread(str(faces / "people/obama/obama_4.jpg"))
    width, height = 640, 360
    wall = np.random.default_rng(0).integers(90, 140, (height, width, 3), dtype=np.uint8)
    scale = min((height - 20) / photo.shape[0], (width - 20) / photo.shape[1])
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    top, left = (height - photo.shape[0]) // 2, (width - photo.shape[1]) // 2
    scene = wall.copy()
    scene[top:top + photo.shape[0], left:left + photo.shape[1]] = photo
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), VIDEO_FPS,
                             (width, height))
    if not writer.isOpened():
        raise SystemExit(f"cannot write {video}")
    for step in range(int(12 * VIDEO_FPS)):  # he stays: greetings come at the cooldown
        shift = np.float32([[1, 0, step % 5 - 2], [0, 1, step % 3 - 1]])
        writer.write(cv2.warpAffine(scene, shift, (width, height),
                                    borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    return video, images, "Barack"


class HouseWithFaults:
    """The camera, broker and web server of ``--faults``, failing on their schedules.

    ``tick()`` switches each fault on and off by the seconds since ``start()``;
    ``camera_down`` lists the wall-clock (time.time()) spans the camera was off.
    """

    def __init__(self, video: Path, folder: Path) -> None:
        sys.path.insert(0, str(REPO / "tests"))
        from brokers import Mosquitto, Subscriber, WebhookServer
        from streams import MjpegServer, free_port
        self._make_stream = lambda port: MjpegServer(port, self._frame, 1 / CAMERA_FPS)
        capture = cv2.VideoCapture(str(video))
        self.frames = []
        while (frame := capture.read()[1]) is not None:
            self.frames.append(frame)
        capture.release()
        self.stream = self._make_stream(free_port())
        self.broker = Mosquitto(folder / "broker")
        self.subscriber = Subscriber(self.broker.port, ("facenet/greeting",))
        self._busy_until = 0.0
        self.webhook = WebhookServer(answer=lambda body: 503 if time.time() < self._busy_until
                                     else 204)
        self.camera_down: list[list[float]] = []
        self._started: float | None = None
        self._done: dict[str, int] = {}  # fault -> how many times it has begun

    def options(self) -> list[str]:
        return ["--source", self.stream.url, "--mqtt", self.broker.url,
                "--webhook", self.webhook.url, "--cooldown", "0", "--no-visitors"]

    def _frame(self, count: int) -> np.ndarray:
        return self.frames[count % len(self.frames)]

    def start(self) -> None:
        self._started = time.monotonic()

    def _due(self, name: str, schedule: tuple[float, float], elapsed: float) -> bool:
        """Whether fault ``name`` begins now (once each period, after the first one)."""
        every, _ = schedule
        count = int(elapsed // every)
        if count > self._done.get(name, 0):
            self._done[name] = count
            return True
        return False

    def tick(self) -> None:
        if self._started is None:
            return
        elapsed = time.monotonic() - self._started
        if self.stream is not None and self._due("camera", STREAM_DROP, elapsed):
            self._port = self.stream.port
            self.stream.stop()
            self.stream = None
            self.camera_down.append([time.time(), math.inf])
            self._camera_back = time.monotonic() + STREAM_DROP[1]
            print(f"soak: {elapsed:.0f} s: the camera is off for {STREAM_DROP[1]:g} s", flush=True)
        if self.stream is None and time.monotonic() >= self._camera_back:
            self.stream = self._make_stream(self._port)
            self.camera_down[-1][1] = time.time()
        if self._due("broker", BROKER_RESTART, elapsed):
            print(f"soak: {elapsed:.0f} s: the broker restarts", flush=True)
            self.broker.stop()
            time.sleep(BROKER_RESTART[1])
            self.broker.start()
        if self._due("webhook", WEBHOOK_503, elapsed):
            print(f"soak: {elapsed:.0f} s: the web server answers 503 for {WEBHOOK_503[1]:g} s",
                  flush=True)
            self._busy_until = time.time() + WEBHOOK_503[1]

    def settle(self) -> None:
        """End every fault now: the camera on, the web server answering."""
        self._started = None
        self._busy_until = 0.0
        if self.stream is None:
            self.stream = self._make_stream(self._port)
            self.camera_down[-1][1] = time.time()

    def camera_off(self) -> bool:
        """Whether the camera is off now, or came back less than 20 s ago."""
        return bool(self.camera_down) and time.time() - self.camera_down[-1][1] < 20

    def received(self) -> dict[str, set[tuple[str, int]]]:
        """(time, frame) of each greeting that reached the broker and the web server."""
        return {"MQTT broker": {(g["time"], g["frame"])
                                for g in self.subscriber.events("facenet/greeting")},
                "web server": {(body["time"], body["frame"])
                               for body, _ in list(self.webhook.received)
                               if body["type"] == "greeting"}}  # not arrived/left

    def close(self) -> None:
        self.subscriber.close()
        self.webhook.close()
        self.broker.stop()
        if self.stream is not None:
            self.stream.stop()


def check_faults(house: HouseWithFaults, rows: list[dict[str, str]]) -> list[tuple[str, bool, str]]:
    """Every greeting reached every sink once; the frame loop never paused over
    LONGEST_PAUSE_S but while the camera was off (and reconnecting)."""
    made = {(row["time"], int(row["frame"])) for row in rows}
    results = []
    for sink, got in house.received().items():
        missing, extra = len(made - got), len(got - made)
        results.append((f"greetings received by the {sink}", not missing and not extra,
                        f"{len(got)} of {len(made)} made ({missing} missing, {extra} not made)"))
    times = sorted(datetime.fromisoformat(row["time"]).timestamp() for row in rows)
    pauses = [(after - before, before - times[0]) for before, after in zip(times, times[1:])
              if not any(start <= after and before <= end for start, end in house.camera_down)]
    longest, when = max(pauses, default=(0.0, 0.0))
    over = sum(pause > LONGEST_PAUSE_S for pause, _ in pauses)
    results.append(("no pause between processed frames", longest <= LONGEST_PAUSE_S,
                    f"longest {longest:.2f} s, {when:.0f} s after the first greeting; {over} "
                    f"over {LONGEST_PAUSE_S:g} s; outside {len(house.camera_down)} camera "
                    "outages"))
    return results


def read_greetings(log: Path) -> list[dict[str, str]]:
    """The rows of the greetings log so far (a row being written is left for later)."""
    if not log.exists():
        return []
    with log.open(encoding="utf-8", newline="") as file:
        text = file.read()
    if not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
    return list(csv.DictReader(text.splitlines()))


def drain(stream, lines: list[str], keep: int = 400) -> None:
    """Read ``stream`` to its end, keeping its last ``keep`` lines (the pipe must not fill)."""
    for line in stream:
        lines.append(line.rstrip("\n"))
        del lines[:-keep]


def soak(args: argparse.Namespace) -> int:
    duration = args.minutes * 60
    interval = args.interval or min(30.0, max(2.0, duration / 20))
    warmup = args.warmup if args.warmup is not None else min(300.0, max(10.0, duration / 4))
    with tempfile.TemporaryDirectory(prefix="facenet-soak-") as temporary:
        folder = Path(temporary)
        if args.video and args.images:
            video, images, person = Path(args.video), Path(args.images), None
        else:
            if not args.faces.is_dir():
                raise SystemExit(f"no face photos at {args.faces}; give --faces, or "
                                 "--video and --images")
            video, images, person = build_door(args.faces, folder)
        capture = cv2.VideoCapture(str(video))
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        capture.release()
        log = folder / "greetings.csv"
        # Its own data folder: no visitor, outbox or lock of the soak in the user's own.
        env = dict(os.environ, XDG_CACHE_HOME=str(folder / "cache"), PYTHONUNBUFFERED="1",
                   FACENET_DATA_DIR=str(folder / "data"))
        env.pop("FACENET_VISITORS_DIR", None)
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        house = HouseWithFaults(video, folder) if args.faults else None
        where = house.options() if house else ["--source", str(video), "--loop", "--cooldown",
                                               str(args.cooldown)]
        # -X faulthandler: a program that does not stop is made to print where each
        # thread is (SIGABRT) before it is killed.
        command = [sys.executable, "-X", "faulthandler", str(REPO / "facenet.py"), *where,
                   "--images", str(images),
                   "--headless", "--log", str(log)] + ([] if args.speech else ["--no-speech"])
        print(f"soak: {' '.join(command)}", flush=True)
        print(f"soak: {args.minutes:g} min after the first greeting, a sample every "
              f"{interval:g} s, warm-up {warmup:g} s", flush=True)
        # Ctrl+C as at a terminal, even when this tool runs in the background (where the
        # shell starts it, and so the program, with SIGINT ignored).
        restore_ctrl_c = None if sys.platform == "win32" else \
            (lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                   errors="replace", preexec_fn=restore_ctrl_c)
        out: list[str] = []
        err: list[str] = []
        readers = [threading.Thread(target=drain, args=(process.stdout, out), daemon=True),
                   threading.Thread(target=drain, args=(process.stderr, err), daemon=True)]
        for reader in readers:
            reader.start()
        watched = psutil.Process(process.pid)
        launched = time.monotonic()
        samples: list[Sample] = []
        ready = None  # when the first greeting came
        stopped_in = None
        try:
            while True:
                pause_until = time.monotonic() + (0.25 if ready is None else interval)
                while time.monotonic() < pause_until:
                    if house:
                        house.tick()
                    time.sleep(0.1)
                if process.poll() is not None:
                    break
                now = time.monotonic()
                count = len(read_greetings(log))
                if ready is None:
                    if count == 0:
                        if now - launched > 300:
                            print("soak: no greeting within 5 minutes of the start", flush=True)
                            break
                        continue
                    ready = now
                    if house:
                        house.start()
                    print(f"soak: first greeting {ready - launched:.1f} s after the start\n",
                          flush=True)
                    print(f"{'time':>8} {'RSS MB':>8} {'threads':>8} {'greetings':>10} "
                          f"{'new':>5}", flush=True)
                try:
                    sample = Sample(now - launched, watched.memory_info().rss / 2**20,
                                    watched.num_threads(), count,
                                    house is not None and house.camera_off())
                except psutil.Error:
                    break
                new = count - (samples[-1].greetings if samples else 0)
                samples.append(sample)
                mark = "  (warm-up)" if now - ready < warmup else \
                    "  (camera off or reconnecting)" if sample.camera_off else ""
                print(f"{sample.elapsed:8.0f} {sample.rss_mb:8.1f} {sample.threads:8d} "
                      f"{sample.greetings:10d} {new:5d}{mark}", flush=True)
                if now - ready >= duration:
                    break
        except KeyboardInterrupt:
            print("soak: interrupted; checking what was sampled", flush=True)
        finally:
            if house and process.poll() is None:
                house.settle()
                # What waited through the last fault goes out (the longest pause is 30 s).
                time.sleep(40)
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                signalled = time.monotonic()
                try:
                    process.wait(30)
                    stopped_in = time.monotonic() - signalled
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGABRT)
                    try:
                        process.wait(10)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
            for reader in readers:
                reader.join(5)
        rows = read_greetings(log)
        summary = next((line for line in out if line.startswith("processed ")), None)
        results = check(samples, rows, ready, launched, warmup, fps, args, person,
                        process.returncode, stopped_in, summary)
        if house:
            time.sleep(5)  # the broker hands over what it still holds for the subscriber
            results += check_faults(house, rows)
            house.close()
            summary = "\n".join(line for line in out if line.startswith(("processed ", "events:")))
    print()
    if summary:
        print(f"soak: the program said: {summary}")
    failed = [name for name, ok, _ in results if not ok]
    for name, ok, detail in results:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    if failed:
        print("\nthe program's last messages:\n" + "\n".join(err[-20:]))
        if stopped_in is None and err:
            dump = next((i for i, line in enumerate(err) if "Fatal Python error" in line), None)
            if dump is not None:
                print("\nwhere it was when it did not stop:\n" + "\n".join(err[dump:]))
    print(f"\nsoak: {'FAILED' if failed else 'passed'}", flush=True)
    return 1 if failed else 0


def check(samples: list[Sample], rows: list[dict[str, str]], ready: float | None,
          launched: float, warmup: float, fps: float, args: argparse.Namespace,
          person: str | None, returncode: int | None, stopped_in: float | None,
          summary: str | None) -> list[tuple[str, bool, str]]:
    """(check, passed, what was seen) for each of the soak's checks."""
    if ready is None or len(samples) < 2:
        return [("the program ran and greeted", False,
                 f"exit status {returncode}, {len(samples)} samples")]
    settled = [s for s in samples if s.elapsed >= ready - launched + warmup]
    results = []
    if len(settled) < 2:
        return [("enough samples after the warm-up", False,
                 f"{len(settled)}; run longer or lower --warmup")]
    growth = max(s.rss_mb for s in settled) - settled[0].rss_mb
    results.append(("memory", growth < args.max_growth_mb,
                    f"RSS {settled[0].rss_mb:.0f} MB after the warm-up, at most "
                    f"{growth:+.1f} MB later (limit {args.max_growth_mb:g} MB)"))
    threads = sorted({s.threads for s in settled if not s.camera_off})
    results.append(("threads", len(threads) == 1,
                    f"{threads[0]} after the warm-up" if len(threads) == 1
                    else f"varied after the warm-up: {threads}" if threads
                    else "no sample after the warm-up with the camera on"))

    # Greetings, in the video's own time: every cooldown, never sooner.
    names = {row["name"] for row in rows}
    if person is not None:
        results.append(("who was greeted", names == {person}, f"{sorted(names)}"))
    # (With --faults every frame is a greeting and the frames are the camera's.)
    video_times = np.array([] if args.faults else [int(row["frame"]) / fps for row in rows])
    gaps = np.diff(video_times)
    one_frame = 1 / fps
    if len(gaps):
        too_soon = int((gaps < args.cooldown - one_frame / 2).sum())
        results.append(("greetings never sooner than the cooldown", too_soon == 0,
                        f"{too_soon} of {len(gaps)} gaps shorter than {args.cooldown:g} s "
                        f"of video"))
        median = float(np.median(gaps))
        results.append(("greetings at the cooldown", median <= args.cooldown + 3 * one_frame,
                        f"median gap {median:.2f} s of video (cooldown {args.cooldown:g} s), "
                        f"longest {gaps.max():.2f} s"))
    # ...and in wall-clock time: steady to the end.
    counts = [s.greetings for s in settled]
    spans = np.diff([s.elapsed for s in settled])
    rates = np.diff(counts) / spans
    overall = (counts[-1] - counts[0]) / (settled[-1].elapsed - settled[0].elapsed)
    thirds = np.array_split(rates, 3) if len(rates) >= 3 else [rates]
    third_rates = [float(part.mean()) for part in thirds if len(part)]
    steady = overall > 0 and min(third_rates) >= 0.5 * overall
    results.append(("greetings keep coming", steady,
                    f"{overall * 60:.1f} a minute after the warm-up; by thirds of the run "
                    + ", ".join(f"{rate * 60:.1f}" for rate in third_rates)))
    results.append(("Ctrl+C stops it cleanly", returncode == 0 and stopped_in is not None
                    and stopped_in < STOP_LIMIT_S and summary is not None,
                    f"exit status {returncode}"
                    + (f", {stopped_in:.2f} s after SIGINT" if stopped_in is not None else "")))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0,
                        help="how long to run after the first greeting (default: %(default)g)")
    parser.add_argument("--cooldown", type=float, default=5.0, metavar="S",
                        help="the program's --cooldown, in seconds of video (default: %(default)g)")
    parser.add_argument("--interval", type=float, default=None, metavar="S",
                        help="seconds between samples (default: a twentieth of the run, "
                             "2 to 30 s)")
    parser.add_argument("--warmup", type=float, default=None, metavar="S",
                        help="seconds after the first greeting not checked (default: a "
                             "quarter of the run, 10 to 300 s)")
    parser.add_argument("--max-growth-mb", type=float, default=50.0, metavar="MB",
                        help="allowed RSS growth after the warm-up (default: %(default)g)")
    parser.add_argument("--faces", type=Path, default=FACES,
                        help="the shared face photos (default: %(default)s)")
    parser.add_argument("--video", help="a video of your own (with --images)")
    parser.add_argument("--images", help="the images/ folder for --video")
    parser.add_argument("--speech", action="store_true", help="run with speech on")
    parser.add_argument("--faults", action="store_true",
                        help="serve the video as a camera and send events to a broker and a "
                             "web server, all failing now and then (see above)")
    args = parser.parse_args(argv)
    if bool(args.video) != bool(args.images):
        parser.error("--video and --images go together")
    if args.minutes <= 0 or args.cooldown <= 0:
        parser.error("--minutes and --cooldown must be positive")
    return soak(args)


if __name__ == "__main__":
    sys.exit(main())
