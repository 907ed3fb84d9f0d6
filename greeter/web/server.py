"""The web page's routes: Starlette on uvicorn, in a thread beside the frame loop.

Pages are Jinja2 templates with autoescape (a name is always text, never
markup); static files are the program's own (no CDN, no web font). Every
write is a POST with a CSRF token; a form of the page gets a redirect back
to its page with a note, a script gets JSON. See security.py for who may
come in, store.py for what is written and how, README for the API.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable

import jinja2

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import (FileResponse, JSONResponse, PlainTextResponse,
                                 RedirectResponse, Response, StreamingResponse)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from greeter.events import EventSender
from greeter.greetings import PersonSettings
from greeter.web.history import History
from greeter.web.live import STREAM_FPS, CpuMeter, LiveView, LoopStalled
from greeter.web.security import COOKIE, SESSION_SECONDS, Guard
from greeter.web.store import (MAX_UPLOAD_BYTES, People, Visitors, WebError, target_for,
                               thumbnail, too_large)

HERE = os.path.dirname(os.path.abspath(__file__))
PAGES = {"/": "live", "/people": "people", "/visitors": "visitors", "/history": "history"}
# Several photos at once, from a phone: this many, each up to MAX_UPLOAD_BYTES.
MAX_FILES = 10
BOUNDARY = "frame"


@dataclass
class Running:
    """What the page shows and changes, of the greeter running beside it."""

    live: LiveView
    history: History
    people: People
    visitors: Visitors
    encoder: Any
    source: str
    events: EventSender | None
    person_settings: dict[str, PersonSettings]
    settings_file: str | None


Handler = Callable[[Request, FormData], Awaitable[dict]]


class WebApp:
    """The Starlette application and the state its routes share."""

    def __init__(self, running: Running, guard: Guard) -> None:
        self.running = running
        self.guard = guard
        self.cpu = CpuMeter()
        self.notes: dict[str, tuple[str, bool]] = {}
        # Autoescape everywhere (not only for .html names): a name is text, never markup.
        self.templates = Jinja2Templates(env=jinja2.Environment(
            loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")), autoescape=True))
        self.templates.env.filters["clock"] = _clock
        self.app = Starlette(routes=self._routes())

    def _routes(self) -> list:
        get = [("/", self.page_live), ("/people", self.page_people),
               ("/visitors", self.page_visitors), ("/history", self.page_history),
               ("/live.mjpg", self.live_mjpg), ("/snapshot.jpg", self.snapshot),
               ("/photo.jpg", self.photo), ("/visitor/{id:int}/{n:int}.jpg", self.visitor_crop),
               ("/history/{id:int}.jpg", self.history_crop),
               ("/api/status", self.api_status), ("/api/people", self.api_people),
               ("/api/greetings", self.api_greetings), ("/api/history", self.api_history),
               ("/api/visitors", self.api_visitors)]
        post: list[tuple[str, Handler]] = [
            ("/api/people/photos", self.add_photos), ("/api/people/live", self.add_from_live),
            ("/api/people/remove-photo", self.remove_photo),
            ("/api/people/rename", self.rename),
            ("/api/visitors/{id:int}/name", self.name_visitor),
            ("/api/visitors/{id:int}/merge", self.merge_visitor),
            ("/api/visitors/{id:int}/forget", self.forget_visitor)]
        routes = [Route(path, self._reader(handler, path in PAGES)) for path, handler in get]
        routes += [Route(path, self._writer(handler), methods=["POST"]) for path, handler in post]
        routes += [Route("/login", self.login, methods=["GET", "POST"]),
                   Route("/logout", self._writer(self.logout), methods=["POST"]),
                   Mount("/static", StaticFiles(directory=os.path.join(HERE, "static")))]
        return routes

    # -- who may come in ----------------------------------------------------

    def _refusal(self, request: Request, page: bool) -> Response | None:
        """Why ``request`` may not be answered (a response), or None when it may."""
        if not self.guard.host_allowed(request.headers.get("host", "")):
            return PlainTextResponse("this page answers on its own address only: open "
                                     "http://127.0.0.1 with its port", 403)
        request.state.session = self.guard.session(request.cookies.get(COOKIE))
        request.state.bearer = self.guard.bearer_ok(request.headers.get("authorization"))
        if self.guard.password and request.state.session is None and not request.state.bearer:
            if page:
                return RedirectResponse("/login", 303)
            return JSONResponse({"error": "log in first: POST /login, or send "
                                          "Authorization: Bearer PASSWORD"}, 401)
        return None

    def _reader(self, handler: Callable[[Request], Awaitable[Response]], page: bool):
        async def endpoint(request: Request) -> Response:
            return self._refusal(request, page) or await handler(request)
        return endpoint

    def _writer(self, handler: Handler):
        async def endpoint(request: Request) -> Response:
            refusal = self._refusal(request, False)
            if refusal is not None:
                return refusal
            form = None
            try:
                form = await self._form(request)
                if not request.state.bearer and not self.guard.csrf_ok(
                        request.state.session,
                        request.headers.get("x-csrf-token") or _text(form, "csrf")):
                    raise WebError("refused: this write has no valid CSRF token; reload the "
                                   "page and try again (scripts: send the token of "
                                   "GET /api/status as X-CSRF-Token)", 403)
                result = await handler(request, form)
            except WebError as error:
                return self._answer(request, {"error": str(error)}, error.status, form)
            except LoopStalled as error:
                return self._answer(request, {"error": str(error)}, 503, form)
            return self._answer(request, result, 200, form)
        return endpoint

    async def _form(self, request: Request) -> FormData:
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            raise WebError("send the request with a Content-Length", 411)
        if int(length) > MAX_FILES * MAX_UPLOAD_BYTES + 2**20:
            raise WebError(f"the upload is {int(length) / 2**20:.0f} MB: at most {MAX_FILES} "
                           f"photos of up to {MAX_UPLOAD_BYTES // 2**20} MB each", 413)
        try:
            return await request.form(max_files=MAX_FILES, max_fields=50,
                                      max_part_size=64 * 1024)
        except Exception as error:  # python-multipart's own errors name the limit passed
            raise WebError(f"the form cannot be read: {error}", 400) from None

    def _answer(self, request: Request, result: dict, status: int,
                form: FormData | None = None) -> Response:
        """JSON for a script; a redirect to the page with a note for a form of the page."""
        back = _text(form, "next") if form is not None else None
        if back is None and request.headers.get("accept", "").startswith("text/html"):
            back = request.headers.get("referer", "")
            back = next((path for path in PAGES if back.endswith(path)), None)
        if back not in PAGES:
            return JSONResponse(result, status)
        key = os.urandom(8).hex()
        self.notes[key] = (result.get("error") or result.get("message", "done"),
                           "error" in result)
        while len(self.notes) > 200:
            self.notes.pop(next(iter(self.notes)))
        return RedirectResponse(f"{back}?note={key}", 303)

    async def login(self, request: Request) -> Response:
        if request.method == "GET" or not self.guard.password:
            if not self.guard.password:
                return RedirectResponse("/", 303)
            return self._render(request, "login", {})
        client = request.client.host if request.client else "?"
        wait = self.guard.wait_before_login(client)
        if wait > 0:
            return self._render(request, "login", {
                "error": f"too many wrong passwords: wait {wait:.0f} s and try again"}, 429)
        form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
        token = self.guard.log_in(client, _text(form, "password") or "")
        if token is None:
            await asyncio.sleep(0.5)  # each wrong guess costs time, before the lock too
            return self._render(request, "login", {"error": "wrong password"}, 401)
        response = RedirectResponse("/", 303)
        response.set_cookie(COOKIE, token, max_age=SESSION_SECONDS, httponly=True,
                            samesite="strict", path="/")
        return response

    async def logout(self, request: Request, form: FormData) -> dict:
        self.guard.log_out(request.cookies.get(COOKIE))
        return {"message": "logged out"}

    # -- pages --------------------------------------------------------------

    def _render(self, request: Request, page: str, context: dict,
                status: int = 200) -> Response:
        session = getattr(request.state, "session", None)
        note = self.notes.get(request.query_params.get("note", ""))
        context = {"page": page, "csrf": self.guard.csrf_for(session), "note": note,
                   "source": self.running.source, "login": bool(self.guard.password),
                   **context}
        response = self.templates.TemplateResponse(request, f"{page}.html", context,
                                                   status_code=status)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    async def page_live(self, request: Request) -> Response:
        return self._render(request, "live", {"status": self._status(request)})

    async def page_people(self, request: Request) -> Response:
        people = await run_in_threadpool(self._people)
        return self._render(request, "people", {"people": people,
                                                "settings_file": self.running.settings_file})

    async def page_visitors(self, request: Request) -> Response:
        return self._render(request, "visitors", {"visitors": self.running.visitors.listing()})

    async def page_history(self, request: Request) -> Response:
        name, day = request.query_params.get("name") or None, request.query_params.get("day")
        entries = self.running.history.select(name=name, day=day or None)
        names = sorted({e.name for e in self.running.history.entries if e.name})
        days = sorted({e.day for e in self.running.history.entries}, reverse=True)
        return self._render(request, "history", {"entries": entries, "names": names,
                                                 "days": days, "name": name, "day": day})

    # -- pictures -----------------------------------------------------------

    async def snapshot(self, request: Request) -> Response:
        shot = await run_in_threadpool(self.running.live.jpeg)
        if shot is None:
            return PlainTextResponse("no frame yet: the source is opening", 503)
        return Response(shot[1], media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    async def live_mjpg(self, request: Request) -> Response:
        return StreamingResponse(self._frames(request), headers={"Cache-Control": "no-store"},
                                 media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}")

    async def _frames(self, request: Request):
        """The newest picture each time the browser is ready for one, at most STREAM_FPS
        a second: a slow browser gets fewer pictures, never older ones."""
        live, sent, interval = self.running.live, -1, 1 / STREAM_FPS
        while not live.closed:
            started = time.monotonic()
            shot = await run_in_threadpool(live.jpeg)
            if shot is None or shot[0] == sent:
                await run_in_threadpool(live.wait_for_frame, live.frames, 1.0)
                if await request.is_disconnected():
                    return
                continue
            sent = shot[0]
            yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                   f"Content-Length: {len(shot[1])}\r\n\r\n").encode() + shot[1] + b"\r\n"
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def photo(self, request: Request) -> Response:
        try:
            path = self.running.people.photo_path(request.query_params.get("path", ""))
            data = await run_in_threadpool(thumbnail, path)
        except WebError as error:
            return PlainTextResponse(str(error), error.status)
        return Response(data, media_type="image/jpeg")

    async def visitor_crop(self, request: Request) -> Response:
        try:
            path = self.running.visitors.crop_path(request.path_params["id"],
                                                   request.path_params["n"])
        except WebError as error:
            return PlainTextResponse(str(error), error.status)
        return FileResponse(path, media_type="image/jpeg")

    async def history_crop(self, request: Request) -> Response:
        path = self.running.history.crop_path(request.path_params["id"])
        if path is None or not os.path.isfile(path):
            return PlainTextResponse("no crop kept for this entry", 404)
        return FileResponse(path, media_type="image/jpeg")

    # -- the API: reads -----------------------------------------------------

    def _status(self, request: Request) -> dict:
        live = self.running.live
        shot = live.newest()
        faces = [] if shot is None else [
            {"name": face.match.name if face.match.known else None, "track": face.track,
             "distance": _finite(face.match.distance), "box": list(map(int, face.box))}
            for face in shot.faces]
        events = self.running.events.states() if self.running.events is not None else []
        return {"source": self.running.source, "frames": live.frames,
                "frame": shot.frame.index if shot else None,
                "fps": None if live.fps() is None else round(live.fps(), 1),
                "cpu": None if self.cpu.read() is None else round(self.cpu.value, 2),
                "people": len(self.running.people.library.photo_counts), "faces": faces,
                "events": events, "csrf": self.guard.csrf_for(request.state.session)}

    async def api_status(self, request: Request) -> Response:
        return JSONResponse(self._status(request))

    def _people(self) -> list[dict]:
        images = self.running.people.images_dir
        settings = self.running.person_settings
        return [{"name": person.name,
                 "photos": [os.path.relpath(path, images) for path in person.photos],
                 "skipped": {os.path.relpath(path, images): reason
                             for path, reason in person.skipped.items()},
                 "settings": _person_settings(settings.get(person.name))}
                for person in self.running.people.listing()]

    async def api_people(self, request: Request) -> Response:
        return JSONResponse({"people": await run_in_threadpool(self._people)})

    async def api_history(self, request: Request, types: tuple[str, ...] | None = None
                          ) -> Response:
        query = request.query_params
        try:
            entries = self.running.history.select(query.get("name") or None,
                                                  query.get("day") or None,
                                                  query.get("since") or None, types)
        except ValueError:
            return JSONResponse({"error": f"since={query.get('since')!r}: give an ISO 8601 "
                                          "time, e.g. 2026-03-02T08:15:00Z"}, 400)
        return JSONResponse({"entries": [
            {**asdict(entry), "distance": _finite(entry.distance),
             "crop": f"/history/{entry.id}.jpg" if entry.crop else None}
            for entry in entries]})

    async def api_greetings(self, request: Request) -> Response:
        return await self.api_history(request, ("greeting",))

    async def api_visitors(self, request: Request) -> Response:
        rows = self.running.visitors.listing()
        return JSONResponse({"visitors": [
            {**{key: row[key] for key in ("id", "visits", "enrolled_as")},
             "first_seen": _iso(row["first_seen"]), "last_seen": _iso(row["last_seen"]),
             "crops": [f"/visitor/{row['id']}/{n}.jpg" for n in row["crops"]]}
            for row in rows]})

    # -- the API: writes ----------------------------------------------------

    async def add_photos(self, request: Request, form: FormData) -> dict:
        name = _required(form, "name")
        target_for(self.running.people.images_dir, name)  # a bad name, before any photo
        uploads = [item for item in form.getlist("photos") if isinstance(item, UploadFile)]
        uploads = [item for item in uploads if item.filename]
        if not uploads:
            raise WebError("choose at least one photo to add")
        saved, problems = [], []
        for upload in uploads:
            try:
                if (upload.size or 0) > MAX_UPLOAD_BYTES:  # not even read into memory
                    raise too_large(upload.filename, upload.size)
                data = await upload.read(MAX_UPLOAD_BYTES + 1)
                saved.append(await run_in_threadpool(
                    self.running.people.add_photo, name, upload.filename, data,
                    self.running.encoder))
            except WebError as error:
                problems.append(error)
        if not saved:
            raise WebError("; ".join(map(str, problems)),
                           413 if all(error.status == 413 for error in problems) else 422)
        return {"message": _saved_words(saved, self.running.people.images_dir,
                                        list(map(str, problems))),
                "saved": saved, "refused": list(map(str, problems))}

    async def add_from_live(self, request: Request, form: FormData) -> dict:
        track = _required(form, "track")
        if not track.isdigit():
            raise WebError(f"track={track!r}: give the number of a face in /api/status")
        path = await run_in_threadpool(self.running.people.add_from_live,
                                       _required(form, "name"), int(track))
        return {"message": _saved_words([path], self.running.people.images_dir, []),
                "saved": [path]}

    async def remove_photo(self, request: Request, form: FormData) -> dict:
        kept = await run_in_threadpool(self.running.people.remove_photo,
                                       _required(form, "photo"))
        return {"message": f"removed; the file is kept in {kept} (the greeter does not read "
                           "that folder): delete it there to be rid of it", "kept": kept}

    async def rename(self, request: Request, form: FormData) -> dict:
        old, new = _required(form, "name"), _required(form, "new_name")
        moved = await run_in_threadpool(self.running.people.rename, old, new)
        message = f"{old} is now {new}: {len(moved)} photos renamed"
        if old in self.running.person_settings:
            message += (f"; their own settings in {self.running.settings_file} are under "
                        f"[people.\"{old}\"]: rename that table to [people.\"{new}\"] too")
        return {"message": message, "moved": moved}

    async def name_visitor(self, request: Request, form: FormData) -> dict:
        person, saved, skipped = await run_in_threadpool(
            self.running.visitors.name, request.path_params["id"], _required(form, "name"),
            self.running.encoder)
        return {"message": f"visitor {request.path_params['id']} is {person}: "
                           f"{len(saved)} photos saved; {person} will be welcomed from now on",
                "person": person, "saved": saved, "skipped": skipped}

    async def merge_visitor(self, request: Request, form: FormData) -> dict:
        into = _required(form, "into")
        if not into.isdigit():
            raise WebError(f"into={into!r}: give the id of the visitor to merge with")
        visits = await run_in_threadpool(self.running.visitors.merge,
                                         request.path_params["id"], int(into))
        return {"message": f"visitor {request.path_params['id']} merged into visitor {into} "
                           f"({visits} visits)", "visits": visits}

    async def forget_visitor(self, request: Request, form: FormData) -> dict:
        deleted = await run_in_threadpool(self.running.visitors.forget,
                                          request.path_params["id"])
        return {"message": f"visitor {request.path_params['id']} forgotten: {deleted} visits "
                           "and their photos deleted", "deleted": deleted}


def _text(form: FormData | None, key: str) -> str | None:
    value = form.get(key) if form is not None else None
    return value if isinstance(value, str) else None


def _required(form: FormData, key: str) -> str:
    value = (_text(form, key) or "").strip()
    if not value:
        raise WebError(f"{key} is missing: fill it in")
    return value


def _finite(value: float | None) -> float | None:
    return None if value is None or value != value or value in (float("inf"), float("-inf")) \
        else round(float(value), 3)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def _clock(value: float | str) -> str:
    """A time for the page: the local date and time to the second."""
    moment = datetime.fromtimestamp(value) if isinstance(value, (int, float)) else \
        datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _person_settings(settings: PersonSettings | None) -> dict:
    """The person's own settings that differ from the general ones, as text."""
    if settings is None:
        return {}
    values = {key: value for key, value in asdict(settings).items()
              if value is not None and key != "sentences"}
    sentences = {key: value for key, value in asdict(settings.sentences).items() if value}
    if sentences:
        values["greetings"] = sentences
    return values


def _saved_words(saved: list[str], images_dir: str, problems: list[str]) -> str:
    names = ", ".join(os.path.relpath(path, images_dir) for path in saved)
    text = f"saved {names} in {images_dir}; the greeter knows them within seconds"
    return text + (f". Not saved: {'; '.join(problems)}" if problems else "")
