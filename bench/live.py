"""What the greeter uses of the CPU watching a live 30 fps camera, thread by thread.

    .venv/bin/python bench/live.py [--video V] [--sizes 1920x1080,1280x720,640x360] [--seconds S]

A camera is stood in for by an MJPEG stream on 127.0.0.1 that sends the
frames of a real video (default: ../shared/videos/podium/obama.mp4, looped)
at 30 fps, scaled to each size, from a process of its own. The real program
(`facenet.py --source URL --headless --no-speech`) watches it for S seconds
after a warm-up, and this script reads, from /proc, the CPU-seconds it used
per second of video, in all and per thread, and how many frames it
processed. A camera delivers what it delivers: a greeter that keeps up
processes 30 frames a second.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time

import cv2

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
DEFAULT_VIDEO = os.path.join(REPO, "..", "shared", "videos", "podium", "obama.mp4")
FPS = 30.0


def serve(video: str, size: tuple[int, int], port_pipe) -> None:
    """Serve ``video``'s frames, resized to ``size`` and looped, as MJPEG at FPS."""
    from streams import MjpegServer
    capture = cv2.VideoCapture(video)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    # The frames are sent as decoded JPEG bytes would be: encode once, up front.
    jpegs = [cv2.imencode(".jpg", frame)[1] for frame in frames]
    decoded = [cv2.imdecode(jpeg, cv2.IMREAD_COLOR) for jpeg in jpegs]
    server = MjpegServer(frames=lambda count: decoded[count % len(decoded)], interval=1 / FPS)
    port_pipe.send(server.url)
    try:
        time.sleep(3600)
    finally:
        server.stop()


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU-seconds (user + system) of each thread of ``pid``, by thread name."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as file:
                stat = file.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        used = (int(fields[11]) + int(fields[12])) / ticks
        seconds[name] = seconds.get(name, 0.0) + used
    return seconds


def measure(video: str, size: tuple[int, int], seconds: float, warmup: float,
            extra: list[str]) -> None:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(video, size, child), daemon=True)
    server.start()
    url = parent.recv()
    env = dict(os.environ, PYTHONUNBUFFERED="1", XDG_CACHE_HOME=tempfile.mkdtemp())
    env.pop("DISPLAY", None)
    with tempfile.TemporaryDirectory() as images:
        program = subprocess.Popen(
            [sys.executable, os.path.join(REPO, "facenet.py"), "--source", url, "--headless",
             "--no-speech", "--images", images] + extra,
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(warmup)
        before, started = thread_cpu(program.pid), time.monotonic()
        time.sleep(seconds)
        after, elapsed = thread_cpu(program.pid), time.monotonic() - started
        program.send_signal(2)
        output = program.communicate(timeout=30)[0]
    server.terminate()
    per_thread = {name: (after[name] - before.get(name, 0.0)) / elapsed for name in after}
    total = sum(per_thread.values())
    busiest = sorted(per_thread.items(), key=lambda item: -item[1])[:5]
    summary = re.search(r"processed (\d+) frames in ([\d.]+) s", output)
    fps = int(summary.group(1)) / float(summary.group(2)) if summary else float("nan")
    print(f"{size[0]}x{size[1]}: {total:.2f} CPU-s per s over {elapsed:.0f} s; "
          f"{fps:.1f} processed fps over the whole run; threads: "
          + ", ".join(f"{name} {share:.2f}" for name, share in busiest), flush=True)
    if not summary:
        print(output[-2000:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", default=DEFAULT_VIDEO)
    parser.add_argument("--sizes", default="1920x1080,1280x720,640x360")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=12.0,
                        help="seconds for the program to start before measuring")
    args, extra = parser.parse_known_args()
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        measure(args.video, (width, height), args.seconds, args.warmup, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
