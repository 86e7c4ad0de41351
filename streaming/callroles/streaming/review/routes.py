"""The review page's routes on ``callroles serve`` (all under ``/review``; every request is
logged with its answer):

- ``GET /review``: calls to review (filters and cursor in the query);
- ``GET /review/calls/{id}``: one call; ``.../audio`` its recording; ``.../state`` its latest
  revision as JSON (the page polls it after a correction);
- ``POST /review/calls/{id}/correction``: ``{"agent_speaker": "S1", "revision": N}`` or
  ``{"undo": true, "revision": N}``; 409 ``revision_conflict`` when the call's latest result is
  no longer revision N (someone or something changed it since the page was made);
- ``GET``/``POST /review/login``, ``POST /review/logout`` (:mod:`.auth`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from callroles.schemas import is_call_id

from ..http_common import Handler, ServeState, problem
from ..http_corrections import publish_correction
from . import auth
from .audio import AudioError, playable, recording_path
from .call_page import call_page
from .listing import Filters, page_of
from .pages import layout, list_page, login_page

log = logging.getLogger(__name__)

HTML = "text/html"


def logged() -> Any:
    """Middleware: every review request and its answer in the log (ids only, never a body)."""

    @web.middleware
    async def log_it(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/review"):
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            log.info("review: %s %s -> %d", request.method, request.path_qs, exc.status)
            raise
        log.info("review: %s %s -> %d", request.method, request.path_qs, response.status)
        return response

    return log_it


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type=HTML)


def _message(title: str, text: str, status: int) -> web.Response:
    body = f"<p><a href='/review'>&larr; calls</a></p><h1>{title}</h1><p id='problem'>{text}</p>"
    return _html(layout(title, body), status)


def add_review_routes(app: web.Application, state: ServeState, token: str | None) -> None:
    """Mount the review page on ``serve``'s app (the auth middleware lets it use cookies)."""

    def ledger() -> Any:
        assert state.ledger is not None, "serve opens the ledger at start"
        return state.ledger

    async def listing(request: web.Request) -> web.Response:
        try:
            filters = Filters.parse(request.query)
        except ValueError as exc:
            page = await page_of(ledger(), Filters())
            return _html(list_page(page, Filters(), state.settings, f"bad filter: {exc}"), 400)
        return _html(list_page(await page_of(ledger(), filters), filters, state.settings))

    async def login_form(request: web.Request) -> web.Response:
        return _html(login_page(next_url=request.query.get("next", "/review")))

    async def login(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        given, next_url = str(form.get("token", "")), str(form.get("next", "/review"))
        if not next_url.startswith("/review"):
            next_url = "/review"  # never redirect elsewhere
        if token is not None and not auth.hmac.compare_digest(given.encode(), token.encode()):
            log.warning("review: login refused (wrong token)")
            return _html(login_page("wrong token", next_url), 401)
        response = web.HTTPSeeOther(next_url)
        if token is not None:
            auth.log_in(response, token, secure=request.secure)
        log.info("review: logged in")
        raise response

    async def logout(_request: web.Request) -> web.StreamResponse:
        response = web.HTTPSeeOther("/review/login")
        response.del_cookie(auth.COOKIE, path="/review")
        raise response

    async def found(call_id: str) -> Any:
        if not is_call_id(call_id):
            raise web.HTTPBadRequest(text="not a call id", content_type="text/plain")
        return await ledger().lookup(call_id)

    async def one_call(request: web.Request) -> web.Response:
        call_id = request.match_info["call_id"]
        if not is_call_id(call_id):
            return _message("Not a call id", "That is not a call id.", 400)
        got = await found(call_id)
        if got.state == "unknown":
            ttl = state.settings.redis_ttl_s
            return _message(
                "Unknown call", f"No call with this id (or kept {ttl} s, expired).", 404
            )
        if got.state != "result":
            what = "failed: " + str(got.event.get("code")) if got.state == "error" else got.state
            return _message("No result", f"This call has no result ({what}).", 404)
        result = got.event
        try:
            uri = await _recording_uri(call_id, result)
            recording_path(uri, state.settings)
            audio_problem = None
        except AudioError as exc:
            audio_problem = str(exc)
        revisions = await ledger().revisions(call_id)
        return _html(call_page(result, revisions, audio_problem, state.settings))

    async def _recording_uri(call_id: str, result: dict[str, Any]) -> str | None:
        stored = await ledger().stored(call_id, str(result["model"]["version"]))
        event = stored.event if stored is not None else None
        return None if event is None else event.get("recording_uri")

    async def audio(request: web.Request) -> web.StreamResponse:
        call_id = request.match_info["call_id"]
        got = await found(call_id)
        if got.state != "result":
            return problem(404, "not_found", f"no result for call {call_id}")
        try:
            path = recording_path(await _recording_uri(call_id, got.event), state.settings)
            return web.FileResponse(await playable(path))
        except AudioError as exc:
            return problem(exc.status, "recording_unavailable", str(exc))

    async def call_state(request: web.Request) -> web.Response:
        got = await found(request.match_info["call_id"])
        if got.state != "result":
            return problem(404, "not_found", f"the call is {got.state}")
        r = got.event
        return web.json_response({"revision": int(r.get("revision") or 0),
                                  "agent_speaker": r.get("agent_speaker"),
                                  "enrolment": r.get("enrolment")})  # fmt: skip

    async def correct(request: web.Request) -> web.Response:
        call_id = request.match_info["call_id"]
        try:
            body = json.loads(await request.read() or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return problem(400, "not_json", "body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("revision"), int):
            return problem(400, "invalid_input", 'body: {"agent_speaker": "S1", "revision": N}')
        undo = body.get("undo") is True
        speaker = body.get("agent_speaker")
        if not undo and not isinstance(speaker, str):
            return problem(400, "invalid_input", "agent_speaker (a speaker id) or undo")
        got = await found(call_id)
        if got.state != "result":
            return problem(404, "correction_unknown_call", f"the call is {got.state}")
        now = int(got.event.get("revision") or 0)
        if now != body["revision"]:
            log.info("review: correction of %s refused: revision %s, latest %s",
                     call_id, body["revision"], now)  # fmt: skip
            return problem(409, "revision_conflict",
                           f"the result changed since this page was made (it was revision "
                           f"{body['revision']}, it is revision {now} now): reload and look "
                           "again")  # fmt: skip
        return await publish_correction(state, call_id, speaker, undo=undo, by="review-page")

    app.router.add_get("/review", listing)
    app.router.add_get("/review/login", login_form)
    app.router.add_post("/review/login", login)
    app.router.add_post("/review/logout", logout)
    app.router.add_get("/review/calls/{call_id}/audio", audio)
    app.router.add_get("/review/calls/{call_id}/state", call_state)
    app.router.add_post("/review/calls/{call_id}/correction", correct)
    app.router.add_get("/review/calls/{call_id}", one_call)
