"""What browsers watching the web page's /live.mjpg cost the greeter.

    .venv/bin/python bench/web_load.py [--seconds S] [--rounds N] [--clients K]

A 720p camera is stood in for as in bench/live.py: an MJPEG stream on
127.0.0.1 at 30 fps, from a process of its own, of a real recording (one
person at a podium, ../shared/videos/podium/obama.mp4). The real program
(`facenet.py --source URL --headless --no-speech --web 127.0.0.1:PORT`)
watches it; after a warm-up, windows of S seconds alternate between no
browser on the page and K clients (default 3) each reading /live.mjpg as a
browser does, from this process (not the greeter's). For each window the
frames the greeter processed per second (from /api/status) and the CPU-s
per s it used (from /proc) are printed, then the means of each kind and
their difference. Target: fps within 5%, CPU up by at most 0.15 CPU-s/s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(REPO, "tests"))
from live import DEFAULT_HALL, scene_jpegs, serve, thread_cpu  # noqa: E402
from streams import free_port  # noqa: E402


def frames_processed(url: str) -> int:
    with urllib.request.urlopen(url + "/api/status", timeout=30) as answer:
        return json.load(answer)["frames"]


class Watchers:
    """``count`` clients reading /live.mjpg in threads until stopped; counts the bytes."""

    def __init__(self, url: str, count: int) -> None:
        self.stop = threading.Event()
        self.received = 0
        self._threads = [threading.Thread(target=self._read, args=(url,), daemon=True)
                         for _ in range(count)]
        for thread in self._threads:
            thread.start()

    def _read(self, url: str) -> None:
        with urllib.request.urlopen(url + "/live.mjpg", timeout=30) as stream:
            while not self.stop.is_set():
                chunk = stream.read(65536)
                if not chunk:
                    return
                self.received += len(chunk)

    def close(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(10)


def window(pid: int, url: str, seconds: float) -> tuple[float, float]:
    """(fps processed, CPU-s per s) of the greeter over the next ``seconds``."""
    cpu, frames, started = sum(thread_cpu(pid).values()), frames_processed(url), time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    return ((frames_processed(url) - frames) / elapsed,
            (sum(thread_cpu(pid).values()) - cpu) / elapsed)


def start(camera: str, port: int, folder: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1", XDG_CACHE_HOME=folder,
               FACENET_VISITORS_DIR=os.path.join(folder, "visitors"),
               FACENET_DATA_DIR=os.path.join(folder, "data"))
    env.pop("DISPLAY", None)
    images = os.path.join(folder, "images")
    os.makedirs(images, exist_ok=True)
    return subprocess.Popen([sys.executable, os.path.join(REPO, "facenet.py"), "--source", camera,
                             "--headless", "--no-speech", "--images", images,
                             "--web", f"127.0.0.1:{port}"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def measure(args: argparse.Namespace, program: subprocess.Popen, url: str) -> None:
    results: dict[str, list[tuple[float, float]]] = {"none": [], "watched": []}
    for round_number in range(args.rounds):
        for kind in ("none", "watched"):
            watchers = Watchers(url, args.clients) if kind == "watched" else None
            try:
                fps, cpu = window(program.pid, url, args.seconds)
            finally:
                received = watchers.received if watchers else 0
                if watchers:
                    watchers.close()
            results[kind].append((fps, cpu))
            who = f"{args.clients} clients on /live.mjpg" if watchers else "no browser"
            extra = f", {received / 2**20 / args.seconds:.1f} MB/s sent" if watchers else ""
            print(f"round {round_number + 1}, {who}: {fps:.1f} fps processed, "
                  f"{cpu:.2f} CPU-s per s{extra}", flush=True)
    mean = {kind: tuple(sum(values) / len(values) for values in zip(*rows))
            for kind, rows in results.items()}
    (fps_0, cpu_0), (fps_1, cpu_1) = mean["none"], mean["watched"]
    print(f"mean: no browser {fps_0:.1f} fps, {cpu_0:.2f} CPU-s/s; {args.clients} clients "
          f"{fps_1:.1f} fps, {cpu_1:.2f} CPU-s/s; fps {100 * (fps_1 - fps_0) / fps_0:+.1f}% "
          f"(target within 5%), CPU {cpu_1 - cpu_0:+.2f} CPU-s/s (target at most +0.15)",
          flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=10.0)
    args = parser.parse_args()
    parent, child = multiprocessing.Pipe()
    camera = multiprocessing.Process(
        target=serve, args=(scene_jpegs("one", (1280, 720), DEFAULT_HALL), child), daemon=True)
    camera.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        program = start(parent.recv(), port, folder)
        try:
            for line in program.stdout:
                if "first frame processed" in line or "frames in" in line:
                    break
            time.sleep(args.warmup)
            measure(args, program, url)
        finally:
            program.send_signal(signal.SIGTERM)
            print(program.communicate(timeout=60)[0].strip().splitlines()[-2], flush=True)
            camera.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
