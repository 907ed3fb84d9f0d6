"""What the greeter uses of the CPU watching a live 30 fps camera, thread by thread.

    .venv/bin/python bench/live.py [--scenes empty,one,busy] [--sizes 1920x1080,1280x720]
                                   [--seconds S] [--face-recognition] [facenet options]

A camera is stood in for by an MJPEG stream on 127.0.0.1 that sends the
frames of a scene at 30 fps, scaled to each size, from a process of its own
(JPEG-encoded up front: the camera's work is not this machine's). Scenes,
all real footage:

- ``empty``: an empty hall: the first frame of intel-iot-devkit/sample-videos
  ``one-by-one-person-detection.mp4`` (a real room, nobody in it; --hall),
  sent as a camera would: new sensor noise in every frame (4 grey levels),
  light drifting 10% up and down over 10 s, an auto-exposure step of 10%;
- ``one``: one person at a podium (../shared/videos/podium/obama.mp4);
- ``busy``: a busy entrance: four real hallway clips of ../shared/videos
  side by side (2 x 2), eight people walking up, turning and talking.

The real program (`facenet.py --source URL --headless --no-speech`, extra
options passed on) watches it for S seconds after a warm-up, and this script
reads, from /proc, the CPU-seconds it used per second, in all and per
thread, and how many frames it processed. A camera delivers what it
delivers: a greeter that keeps up processes 30 frames a second. With
``--face-recognition`` the face_recognition library's standard loop (HOG
face_locations and face_encodings on each newest frame) watches instead.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIDEOS = os.path.join(REPO, "..", "shared", "videos")
DEFAULT_HALL = os.path.join(REPO, "..", "data", "one-by-one-person-detection.mp4")
BUSY_CLIPS = [os.path.join(VIDEOS, "hallway", name) for name in (
    "face-demographics-walking-and-pause.gif", "head-pose-face-detection-female-and-male.gif",
    "face-demographics-walking.gif", "head-pose-face-detection-male.gif")]
FPS = 30.0
# The empty hall's camera: sensor noise (grey levels), light drifting up and
# down by LIGHT_DRIFT over LIGHT_PERIOD frames, an auto-exposure step.
NOISE = 4.0
LIGHT_DRIFT = 0.1
LIGHT_PERIOD = 300
EXPOSURE_STEP = 0.1


def video_frames(path: str) -> list[np.ndarray]:
    capture = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    return frames


def camera_jpegs(still: np.ndarray, count: int, seed: int = 0) -> list[bytes]:
    """``still`` as a 30 fps camera sends it ``count`` times over (JPEG, quality
    85): new sensor noise in every frame, light drifting over LIGHT_PERIOD
    frames, an auto-exposure step of EXPOSURE_STEP halfway."""
    rng = np.random.default_rng(seed)
    jpegs = []
    for index in range(count):
        gain = (1 + LIGHT_DRIFT * np.sin(2 * np.pi * index / LIGHT_PERIOD)
                + (EXPOSURE_STEP if index > count // 2 else 0))
        noisy = still.astype(np.float32) * gain + rng.normal(0, NOISE, still.shape)
        jpegs.append(cv2.imencode(".jpg", np.clip(noisy, 0, 255).astype(np.uint8),
                                  [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    return jpegs


def scene_jpegs(scene: str, size: tuple[int, int], hall: str) -> list[bytes]:
    """The frames of ``scene`` at ``size``, JPEG-encoded, to be sent in a loop."""
    def fit(frame: np.ndarray, to: tuple[int, int]) -> np.ndarray:
        return cv2.resize(frame, to, interpolation=cv2.INTER_AREA
                          if frame.shape[1] > to[0] else cv2.INTER_LINEAR)

    if scene == "empty":
        return camera_jpegs(fit(video_frames(hall)[0], size), LIGHT_PERIOD)
    if scene == "one":
        frames = [fit(frame, size) for frame in video_frames(os.path.join(VIDEOS, "podium", "obama.mp4"))]
    else:  # busy: the four clips side by side, each looping on its own
        clips = [video_frames(path) for path in BUSY_CLIPS]
        half = (size[0] // 2, size[1] // 2)
        frames = []
        for index in range(max(len(clip) for clip in clips)):
            tiles = [fit(clip[index % len(clip)], half) for clip in clips]
            frames.append(np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])]))
    return [cv2.imencode(".jpg", frame)[1].tobytes() for frame in frames]


def serve(jpegs: list[bytes], port_pipe) -> None:
    """Serve ``jpegs`` in a loop as an MJPEG stream that keeps to FPS whatever the
    client does, as a camera does."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


def face_recognition_client(url: str) -> None:
    """face_recognition's standard loop on the stream at ``url``, read as the greeter
    reads a stream (newest frame only), until SIGINT; prints the greeter's summary line."""
    import face_recognition
    # measure() stops the client with SIGTERM, as it stops the greeter: the
    # same clean end (and summary line) as Ctrl+C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.path.insert(0, REPO)
    from greeter.capture import open_source
    frames, started = 0, time.monotonic()
    source = open_source(url)
    try:
        for frame in source:
            rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
            face_recognition.face_encodings(rgb, face_recognition.face_locations(rgb))
            frames += 1
            if frames == 1:
                print("face_recognition: first frame processed", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
    elapsed = time.monotonic() - started
    print(f"processed {frames} frames in {elapsed:.1f} s ({frames / elapsed:.1f} fps), "
          f"{source.dropped} dropped", flush=True)


def measure(scene: str, size: tuple[int, int], args: argparse.Namespace,
            extra: list[str]) -> None:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(scene_jpegs(scene, size, args.hall), child),
                                     daemon=True)
    server.start()
    url = parent.recv()
    # Its own caches and visitors, not the user's.
    env = dict(os.environ, PYTHONUNBUFFERED="1", XDG_CACHE_HOME=tempfile.mkdtemp(),
               FACENET_VISITORS_DIR=tempfile.mkdtemp())
    env.pop("DISPLAY", None)
    with tempfile.TemporaryDirectory() as images:
        command = ([os.path.abspath(__file__), "--client", url] if args.face_recognition else
                   [os.path.join(args.program, "facenet.py"), "--source", url, "--headless",
                    "--no-speech", "--images", images] + extra)
        program = subprocess.Popen([sys.executable, "-X", "faulthandler"] + command, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        # Measured from a while after the first frame: start-up (seconds, on
        # a busy machine tens of them) is not watching.
        started_up = []
        for line in program.stdout:
            started_up.append(line)
            if "first frame processed" in line or "frames in" in line:
                break
        time.sleep(args.warmup)
        before, started = thread_cpu(program.pid), time.monotonic()
        time.sleep(args.seconds)
        after, elapsed = thread_cpu(program.pid), time.monotonic() - started
        # SIGTERM, as a service manager stops it: a benchmark started in the
        # background inherits an ignored SIGINT, and so would the program.
        program.send_signal(signal.SIGTERM)
        try:
            output = program.communicate(timeout=60)[0]
        except subprocess.TimeoutExpired:  # stuck: where, from faulthandler's dump
            program.send_signal(signal.SIGABRT)
            output = program.communicate()[0]
        output = "".join(started_up) + output
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
    who = ("face_recognition" if args.face_recognition
           else f"facenet {os.path.relpath(args.program)} " + " ".join(extra))
    print(f"{who.strip()}, {scene}, {size[0]}x{size[1]}: {total:.2f} CPU-s per s over "
          f"{elapsed:.0f} s; {delivered} over the whole run; threads: "
          + ", ".join(f"{name} {share:.2f}" for name, share in busiest), flush=True)
    if not summary:
        print(output[-2000:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", default="empty,one,busy")
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    parser.add_argument("--hall", default=DEFAULT_HALL,
                        help="a video whose first frame is an empty hall (default: %(default)s, "
                             "from github.com/intel-iot-devkit/sample-videos)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="seconds after the first frame before measuring")
    parser.add_argument("--program", default=REPO,
                        help="the facenet checkout to run (default: this one), e.g. an "
                             "earlier release unpacked with git archive, to compare")
    parser.add_argument("--face-recognition", action="store_true",
                        help="measure face_recognition's standard loop instead")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args, extra = parser.parse_known_args()
    if args.client:
        face_recognition_client(args.client)
        return 0
    if "empty" in args.scenes and not os.path.isfile(args.hall):
        parser.error(f"--hall {args.hall} not found: git clone "
                     "https://github.com/intel-iot-devkit/sample-videos and pass its "
                     "one-by-one-person-detection.mp4")
    for scene in args.scenes.split(","):
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            measure(scene, (width, height), args, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
