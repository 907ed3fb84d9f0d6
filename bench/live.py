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
import itertools
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time

import cv2

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_VIDEO = os.path.join(REPO, "..", "shared", "videos", "podium", "obama.mp4")
FPS = 30.0


def serve(video: str, size: tuple[int, int], port_pipe) -> None:
    """Serve ``video``'s frames, resized to ``size`` and looped, as an MJPEG stream
    that keeps to FPS whatever the client does, as a camera does."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    capture = cv2.VideoCapture(video)
    jpegs = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        # Encoded once, up front: the camera's own work is not this machine's.
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        jpegs.append(cv2.imencode(".jpg", frame)[1].tobytes())

    class Camera(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            started = time.monotonic()
            for count in itertools.count():
                time.sleep(max(0.0, started + count / FPS - time.monotonic()))
                jpeg = jpegs[count % len(jpegs)]
                try:
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                     b"Content-Length: %d\r\n\r\n%s\r\n" % (len(jpeg), jpeg))
                except OSError:  # the client went away
                    return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Camera)
    server.daemon_threads = True
    port_pipe.send(f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg")
    server.serve_forever()


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU-seconds (user + system) of each thread of ``pid``: "main" for the frame
    loop, "python N" for Python's other threads (the capture thread among them),
    TensorFlow's by their names."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as file:
                stat = file.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        name = "main" if int(tid) == pid else f"{name} {tid}" if name == "python" else name
        fields = stat[stat.rindex(")") + 2:].split()
        seconds[name] = seconds.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
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
    summary = re.search(r"processed (\d+) frames in ([\d.]+) s .*, (\d+) dropped", output)
    if summary:
        processed, seconds, dropped = (int(summary.group(1)), float(summary.group(2)),
                                       int(summary.group(3)))
        delivered = f"{processed / seconds:.1f} of {(processed + dropped) / seconds:.1f} fps processed"
    else:
        delivered = "no summary"
    print(f"{size[0]}x{size[1]}: {total:.2f} CPU-s per s over {elapsed:.0f} s; "
          f"{delivered} over the whole run; threads: "
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
