"""``python facenet.py service install|status|uninstall``: the greeter started at boot.

Linux: a systemd user unit (``~/.config/systemd/user/facenet.service``);
macOS: a launchd agent (``~/Library/LaunchAgents/org.facenet.greeter.plist``).
Either runs ``python facenet.py --wait-for-source OPTIONS`` from the folder
``install`` was run in, with the Python that ran it, and starts it again when
it fails. ``--wait-for-source``: at boot the camera or the stream may come up
after the greeter. A file of that name that facenet did not write is never
replaced or removed. Windows has no such command: README shows the Task
Scheduler line to use instead.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys

from greeter.report import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from greeter.paths import PROJECT_DIR

UNIT_NAME = "facenet.service"
AGENT_LABEL = "org.facenet.greeter"
# The first line of what we write: a file without it is the user's own.
MARK = "# Written by `python facenet.py service install`; `service uninstall` removes it."


def greeter_command(options: list[str]) -> list[str]:
    """The command line the service runs: this Python, facenet.py, the options."""
    return [sys.executable, os.path.join(PROJECT_DIR, "facenet.py"), "--wait-for-source",
            *options]


def systemd_quote(word: str) -> str:
    """``word`` as one argument of a systemd ExecStart= line."""
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return '"' + escaped.replace("$", "$$") + '"'


def systemd_unit(command: list[str], folder: str) -> str:
    """The text of the user unit that runs ``command`` in ``folder``."""
    return f"""{MARK}
[Unit]
Description=facenet door greeter
Wants=network-online.target
After=network-online.target sound.target

[Service]
Type=simple
WorkingDirectory={folder}
ExecStart={" ".join(systemd_quote(word) for word in command)}
Environment=PYTHONUNBUFFERED=1
Restart=on-failure
RestartSec=5

[Install]
WantedBy=default.target
"""


def launchd_agent(command: list[str], folder: str) -> bytes:
    """The launchd agent's plist that runs ``command`` in ``folder``."""
    log = os.path.expanduser("~/Library/Logs/facenet.log")
    agent = {"Label": AGENT_LABEL, "ProgramArguments": command, "WorkingDirectory": folder,
             "RunAtLoad": True, "KeepAlive": {"SuccessfulExit": False},
             "StandardOutPath": log, "StandardErrorPath": log}
    # plist XML has no comments inside the dictionary: the mark goes before it.
    text = plistlib.dumps(agent).decode()
    return text.replace("<plist", f"<!-- {MARK} -->\n<plist", 1).encode()


def service_file() -> str:
    """Where this system's service definition goes."""
    if sys.platform == "darwin":
        return os.path.expanduser(f"~/Library/LaunchAgents/{AGENT_LABEL}.plist")
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return os.path.join(config, "systemd", "user", UNIT_NAME)


def _ours(path: str) -> bool:
    with open(path, "rb") as file:
        return MARK.encode() in file.read(4096)


def _manager(*words: str) -> subprocess.CompletedProcess | None:
    """Run systemctl --user (or launchctl) with ``words``; None where there is none."""
    program = "launchctl" if sys.platform == "darwin" else "systemctl"
    if shutil.which(program) is None:
        return None
    command = [program, *words] if program == "launchctl" else [program, "--user", *words]
    return subprocess.run(command, capture_output=True, text=True)


def _failed(result: subprocess.CompletedProcess | None) -> str:
    """Why the service manager could not be used, or "" when it was."""
    if result is None:
        return "no service manager (systemctl / launchctl) on this system"
    if result.returncode == 0:
        return ""
    text = (result.stderr or result.stdout).strip()
    return text.splitlines()[-1] if text else f"exit status {result.returncode}"


def install(options: list[str]) -> int:
    """Write the service that runs the greeter with ``options`` and start it; exit status."""
    path = service_file()
    if os.path.exists(path) and not _ours(path):
        print(f"error: {path} exists and was not written by facenet; it is left as it is. "
              "Rename it, or start the greeter from it yourself", file=sys.stderr)
        return EXIT_FAILURE
    command, folder = greeter_command(options), os.getcwd()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = launchd_agent(command, folder) if sys.platform == "darwin" else \
        systemd_unit(command, folder).encode()
    with open(path, "wb") as file:
        file.write(data)
    print(f"wrote {path}: runs {' '.join(command)} in {folder}")
    if sys.platform == "darwin":
        _manager("unload", path)
        problem = _failed(_manager("load", "-w", path))
        start = f"launchctl load -w {path}"
    else:
        problem = _failed(_manager("daemon-reload")) or \
            _failed(_manager("enable", "--now", UNIT_NAME))
        start = f"systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}"
    if problem:
        print(f"it could not be started now ({problem}); once you are logged in to a desktop "
              f"or a session with a user service manager, run: {start}")
        return EXIT_FAILURE
    print("started; it starts again at each login and when it fails"
          + ("" if sys.platform == "darwin" else
             f". To start it at boot without anyone logging in: sudo loginctl enable-linger "
             f"{os.environ.get('USER', '$USER')}. Its output: journalctl --user -u {UNIT_NAME}"))
    return EXIT_OK


def status() -> int:
    """Print whether the service is installed and what the service manager says of it."""
    path = service_file()
    if not os.path.exists(path):
        print(f"not installed ({path} does not exist): python facenet.py service install")
        return EXIT_FAILURE
    print(f"installed: {path}" + ("" if _ours(path) else " (not written by facenet)"))
    words = ("list", AGENT_LABEL) if sys.platform == "darwin" else \
        ("status", "--no-pager", UNIT_NAME)
    result = _manager(*words)
    if result is None or (not result.stdout and result.returncode != 0):
        print(f"its state is unknown: {_failed(result)}")
        return EXIT_FAILURE
    print(result.stdout.rstrip())
    return EXIT_OK


def uninstall() -> int:
    """Stop the service and remove its file (only one facenet wrote); exit status."""
    path = service_file()
    if not os.path.exists(path):
        print(f"not installed: {path} does not exist")
        return EXIT_OK
    if not _ours(path):
        print(f"error: {path} was not written by facenet; it is left as it is",
              file=sys.stderr)
        return EXIT_FAILURE
    if sys.platform == "darwin":
        _manager("unload", "-w", path)
    else:
        _manager("disable", "--now", UNIT_NAME)
    os.remove(path)
    if sys.platform != "darwin":
        _manager("daemon-reload")
    print(f"stopped and removed {path}")
    return EXIT_OK


def service_command(action: str, greeter_argv: list[str]) -> int:
    """``service ACTION``: install (running the greeter with the options
    ``greeter_argv``), status or uninstall the greeter as a service."""
    if sys.platform == "win32":
        print("error: on Windows, start the greeter at logon with the Task Scheduler; "
              "README's 'Starting at boot' gives the schtasks line", file=sys.stderr)
        return EXIT_USAGE
    if action == "install":
        return install(greeter_argv)
    return status() if action == "status" else uninstall()
