"""The app that --web serves, in process, for tests: Starlette's client speaks HTTP to it."""

from __future__ import annotations


def make_client(library, encoder, tmp_path, password: str | None = None,
                host: str = "127.0.0.1", book=None, live=None):
    """A test client of the app --web serves, on ``library``; ``book``: the visitors list
    (default: an empty one in ``tmp_path``), ``live``: the LiveView (default: a new one)."""
    from starlette.testclient import TestClient

    from greeter.visits import VisitorBook
    from greeter.web.history import History
    from greeter.web.live import LiveView
    from greeter.web.security import Guard, is_loopback
    from greeter.web.server import Running, WebApp
    from greeter.web.store import People, Visitors
    live = live or LiveView()
    running = Running(live, History(str(tmp_path / "history"), 7.0), People(library, live),
                      Visitors(book or VisitorBook(str(tmp_path / "visitors")), live,
                               library.images_dir, in_loop=False),
                      encoder, "test", None, {}, None)
    app = WebApp(running, Guard(password, is_loopback(host))).app
    return TestClient(app, base_url=f"http://{host}:8080", follow_redirects=False)
