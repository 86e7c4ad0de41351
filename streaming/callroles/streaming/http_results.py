"""Results without Kafka: ``GET /calls/{call_id}`` from the Redis ledger, and the webhook's
dead letters.

``GET /calls/{call_id}`` answers the call's latest outcome, whatever the model version:

- 200 and the ``call_result.v1`` event as published (header ``X-Callroles-Event:
  call_result``), or 200 and the last ``call_error.v1`` event (``X-Callroles-Event:
  call_error``): a failed call is an answer, not an HTTP failure;
- 202 and ``{"call_id", "status", "attempts"}`` while the call is known but not finished:
  ``processing`` while a worker holds its lease, else ``pending`` (accepted by ``POST /calls``,
  or between tries); ``Retry-After`` says when to ask again;
- 404 for a call id nothing knows (never submitted, or its record expired: ``redis_ttl_s``);
- 400 for an id the call-finished schema does not allow; 503 when Redis does not answer.
"""

from __future__ import annotations

import logging

from aiohttp import web

from callroles.schemas import is_call_id

from .http_common import Handler, ServeState, problem

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5


def _unavailable(what: str, exc: Exception) -> web.Response:
    log.warning("%s: Redis unavailable (%s)", what, type(exc).__name__)
    return problem(503, "redis_unavailable", "the ledger does not answer; retry")


def get_call_handler(state: ServeState) -> Handler:
    """The handler of ``GET /calls/{call_id}`` (see the module docstring)."""

    async def get_call(request: web.Request) -> web.Response:
        call_id = request.match_info["call_id"]
        if not is_call_id(call_id):
            return problem(400, "invalid_call_id", "not a call id the call-finished schema allows")
        assert state.ledger is not None, "serve opens the ledger at start"
        try:
            found = await state.ledger.lookup(call_id)
        except Exception as exc:
            return _unavailable(f"GET /calls/{call_id}", exc)
        if found.state in ("result", "error"):
            kind = "call_result" if found.state == "result" else "call_error"
            return web.json_response(found.event, headers={"X-Callroles-Event": kind})
        if found.state == "unknown":
            ttl = state.settings.redis_ttl_s
            return problem(
                404, "not_found", f"no call {call_id} (or its record, kept {ttl} s, expired)"
            )
        return web.json_response(
            {"call_id": call_id, "status": found.state, "attempts": found.attempts},
            status=202,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    return get_call


def dead_letter_handlers(state: ServeState) -> tuple[Handler, Handler]:
    """``GET /webhook/dead-letters`` (newest first, ``?limit=``, 100 by default) and
    ``POST /webhook/dead-letters/{id}/requeue`` (due again now, tries reset)."""

    async def listing(request: web.Request) -> web.Response:
        assert state.outbox is not None, "serve opens the outbox at start"
        try:
            limit = min(1000, max(1, int(request.query.get("limit", "100"))))
        except ValueError:
            return problem(400, "invalid_limit", "limit must be a whole number")
        try:
            letters = await state.outbox.dead_letters(limit)
            _due, dead = await state.outbox.sizes()
        except Exception as exc:
            return _unavailable("GET /webhook/dead-letters", exc)
        return web.json_response({"count": dead, "dead_letters": letters})

    async def requeue(request: web.Request) -> web.Response:
        assert state.outbox is not None, "serve opens the outbox at start"
        delivery_id = request.match_info["delivery_id"]
        try:
            done = await state.outbox.requeue(delivery_id)
        except Exception as exc:
            return _unavailable("requeue", exc)
        if not done:
            return problem(404, "not_found", f"no dead letter {delivery_id}")
        log.info("webhook: dead letter %s requeued", delivery_id)
        return web.json_response({"requeued": delivery_id})

    return listing, requeue
