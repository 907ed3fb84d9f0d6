#!/usr/bin/env bash
# Sets facenet up on this machine: the system packages it needs (Debian and
# Ubuntu: espeak-ng and aplay for speech, OpenCV's window libraries, fonts for
# every script's names; for the
# tests also Xvfb, sox, the Mosquitto MQTT broker, and chromium with its driver for
# the web page's tests), a virtual
# environment in .venv, and the Python packages. Run it again at any time.
#   ./setup.sh          what the program needs
#   ./setup.sh --dev    and what the tests and benchmarks need
set -euo pipefail
cd "$(dirname "$0")"
dev=0
[ "${1:-}" = "--dev" ] && dev=1

if command -v apt-get >/dev/null 2>&1; then
  packages="espeak-ng libespeak-ng1 espeak-ng-data alsa-utils libgl1 libglib2.0-0 fonts-dejavu-core fonts-wqy-microhei"
  [ "$dev" = 1 ] && packages="$packages xvfb xauth xdotool openbox x11-utils sox imagemagick mosquitto chromium chromium-driver"
  missing=""
  for package in $packages; do
    dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
  done
  if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" != 0 ] && sudo="sudo"
    echo "installing system packages:$missing"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt
if [ "$dev" = 1 ]; then
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  # Its declared dependency "dlib" would compile from source; dlib-bin provides it.
  .venv/bin/python -m pip install -q --no-deps face_recognition
fi
echo "facenet is set up: run .venv/bin/python facenet.py"
