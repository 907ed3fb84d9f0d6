"""``python facenet.py visitors``: the unknown visitors kept, as a list and as a page;
``--forget ID`` deletes one."""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

from greeter.report import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, warn
from greeter.files import write_atomically
from greeter.visits import VisitorBook, default_visitors_dir


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")


def visitors_command(html_path: str | None = None, forget: int | None = None) -> int:
    """``visitors``: delete visitor ``forget`` (--forget), list the visitors, and write a
    page of their crops at ``html_path`` (--html)."""
    folder = default_visitors_dir()
    book = VisitorBook(folder, on_message=warn)
    if forget is not None:
        if book.find(forget) is None:
            warn(f"error: no visitor {forget} in {folder}")
            return EXIT_USAGE
        try:
            deleted = book.forget(forget)
        except OSError as error:
            warn(f"error: cannot delete visitor {forget} in {folder} "
                  f"({error.strerror or error})")
            return EXIT_FAILURE
        print(f"deleted visitor {forget}: {deleted} visit{'s' if deleted != 1 else ''} "
              "and their photos")
    if not book.visitors:
        print(f"no visitors kept in {folder}")
    else:
        print(f"{'id':>4}  {'visits':>6}  {'first seen':16}  {'last seen':16}  best photo")
        for visitor in book.visitors:
            best = book.path(visitor.best_visits(1)[0])
            note = f"  (enrolled as {visitor.enrolled_as})" if visitor.enrolled_as else ""
            print(f"{visitor.id:>4}  {len(visitor.visits):>6}  {_when(visitor.first_seen):16}  "
                  f"{_when(visitor.last_seen):16}  {best}{note}")
    if html_path:
        try:
            page = visitors_page(book).encode()
            write_atomically(html_path, lambda file: file.write(page), suffix=".html")
        except OSError as error:
            warn(f"error: cannot write {html_path} ({error.strerror or error}); choose "
                  "another file")
            return EXIT_FAILURE
        print(f"wrote {html_path}: open it in a browser (it shows the photos in {folder})")
    return EXIT_OK


def visitors_page(book: VisitorBook) -> str:
    """A static HTML page: one row per visitor, the photo of each visit in a grid."""
    rows = []
    for visitor in book.visitors:
        cells = "".join(
            f'<figure><img src="{html.escape(Path(book.path(visit)).resolve().as_uri())}" '
            f'alt="visit of visitor {visitor.id}"><figcaption>{_when(visit.start)}'
            f"</figcaption></figure>"
            for visit in sorted(visitor.visits, key=lambda visit: visit.start))
        title = (f"Visitor {visitor.id}: {len(visitor.visits)} "
                 f"visit{'s' if len(visitor.visits) != 1 else ''}"
                 + (f", enrolled as {html.escape(visitor.enrolled_as)}"
                    if visitor.enrolled_as else "")
                 + f" &mdash; enroll with <code>python facenet.py enroll NAME "
                   f"--from-visitor {visitor.id}</code>")
        rows.append(f"<section><h2>{title}</h2><div class=grid>{cells}</div></section>")
    body = "".join(rows) or "<p>No visitors kept.</p>"
    return ("<!doctype html><html><head><meta charset=utf-8><title>facenet visitors</title>"
            "<style>body{font-family:sans-serif}.grid{display:flex;flex-wrap:wrap;gap:8px}"
            "img{width:160px;height:160px;object-fit:cover}figure{margin:0}</style>"
            f"</head><body><h1>Who came by</h1>{body}</body></html>\n")
