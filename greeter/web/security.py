"""Who may use the page: the password, sessions, CSRF tokens and slowed logins.

On a loopback address (127.0.0.1, ::1, localhost) the page may run without a
password: only this machine's users reach it. Then the Host header must name
a loopback host, so that a web site that makes its own name resolve to
127.0.0.1 (DNS rebinding) cannot read the page. Bound to any other address,
a password is required (``web-password`` in the settings file, or
$FACENET_WEB_PASSWORD).

With a password, the browser logs in with a form and gets a random session
cookie (HttpOnly, SameSite=Strict, for 12 hours); a script may instead send
``Authorization: Bearer PASSWORD``. Every write (POST) needs the CSRF token
of the session (a form field ``csrf`` or the header X-CSRF-Token), except
one authorised by the Bearer header, which no browser sends on its own.
After FREE_FAILURES wrong passwords from one address, each further try from
it must wait: 2, 4, 8... seconds, up to MAX_WAIT.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import time
from dataclasses import dataclass, field

PASSWORD_VARIABLE = "FACENET_WEB_PASSWORD"
# The page's port when --web names none: free on most machines (not 8080, 8000, 5000).
DEFAULT_PORT = 8750
COOKIE = "facenet_session"
SESSION_SECONDS = 12 * 3600
FREE_FAILURES = 3
MAX_WAIT = 300.0
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class WebOptionError(ValueError):
    """--web cannot be used as given; the message says what to do."""


@dataclass(frozen=True)
class WebSettings:
    """Where the page is served (``--web [HOST:]PORT``) and its password, checked: a
    host other than loopback needs one (WebOptionError)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not is_loopback(self.host) and not self.password:
            raise WebOptionError(
                f"--web {self.url_host}:{self.port}: the page would be open to the network "
                f"without a password; set one in ${PASSWORD_VARIABLE} or as web-password in "
                "the settings file, or serve on 127.0.0.1 only (--web PORT)")

    @property
    def url_host(self) -> str:
        """The host as written in a URL: an IPv6 address in brackets."""
        return f"[{self.host}]" if ":" in self.host else self.host

    @classmethod
    def from_option(cls, value: str, password: str | None) -> WebSettings:
        """The settings of ``--web value`` with the password configured (the
        environment's wins: :func:`web_password`)."""
        host, port = parse_address(value)
        return cls(host, port, web_password(password))


def parse_address(value: str) -> tuple[str, int]:
    """``[HOST:]PORT``, or ``HOST`` alone, as (host, port); the host defaults to
    127.0.0.1, the port to DEFAULT_PORT."""
    value = value.strip()
    if value.isdigit():
        host, port = "", value
    elif value.endswith("]") or ":" not in value:  # a host alone: "0.0.0.0", "[::]"
        host, port = value, str(DEFAULT_PORT)
    else:
        host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise WebOptionError(f"--web {value}: give [HOST:]PORT, a port from 1 to 65535 "
                             "(e.g. --web 8080, or --web 0.0.0.0:8080 for the whole network)")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def web_password(configured: str | None) -> str | None:
    """The password in force: $FACENET_WEB_PASSWORD, else the settings file's."""
    return os.environ.get(PASSWORD_VARIABLE) or configured or None


@dataclass
class Session:
    csrf: str
    expires: float


@dataclass
class _Failures:
    count: int = 0
    wait_until: float = 0.0


@dataclass
class Guard:
    """The sessions and login failures of one running page."""

    password: str | None
    loopback: bool
    sessions: dict[str, Session] = field(default_factory=dict)
    failures: dict[str, _Failures] = field(default_factory=dict)
    # Without a password there are no sessions; the page's one token stops other sites.
    open_csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def host_allowed(self, host_header: str) -> bool:
        """Whether the Host header is one this page answers to."""
        if not self.loopback or self.password:
            return True
        host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
        return host.lower() in LOOPBACK_NAMES or is_loopback(host.strip("[]"))

    def session(self, token: str | None) -> Session | None:
        session = self.sessions.get(token or "")
        if session is None or session.expires < time.time():
            self.sessions.pop(token or "", None)
            return None
        return session

    def bearer_ok(self, authorization: str | None) -> bool:
        if not self.password or not authorization or not authorization.startswith("Bearer "):
            return False
        return hmac.compare_digest(authorization[7:].encode(), self.password.encode())

    def wait_before_login(self, client: str) -> float:
        """Seconds ``client`` must still wait before trying a password again."""
        return max(0.0, self.failures.get(client, _Failures()).wait_until - time.monotonic())

    def log_in(self, client: str, password: str) -> str | None:
        """A new session token for the right password, else None (the failure counted)."""
        if self.password and hmac.compare_digest(password.encode(), self.password.encode()):
            self.failures.pop(client, None)
            token = secrets.token_urlsafe(32)
            self.sessions[token] = Session(secrets.token_urlsafe(32),
                                           time.time() + SESSION_SECONDS)
            return token
        failures = self.failures.setdefault(client, _Failures())
        failures.count += 1
        if failures.count >= FREE_FAILURES:
            failures.wait_until = time.monotonic() + min(
                MAX_WAIT, 2.0 ** (failures.count - FREE_FAILURES + 1))
        return None

    def log_out(self, token: str | None) -> None:
        self.sessions.pop(token or "", None)

    def csrf_for(self, session: Session | None) -> str:
        return session.csrf if session is not None else self.open_csrf

    def csrf_ok(self, session: Session | None, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(),
                                                   self.csrf_for(session).encode())
