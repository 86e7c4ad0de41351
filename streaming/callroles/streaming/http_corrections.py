"""``POST /calls/{call_id}/correction``: a person says which speaker is the agent.

Body ``{"agent_speaker": "S1", "by": "qa-ayse"}``, or ``{"undo": true}`` to withdraw the call's
correction. 202 and the event sent back to the workers (:mod:`callroles.streaming.corrections`):
the corrected result follows on the result topic, ``GET /calls/{id}`` and the webhook, with
the next ``revision``. 404 ``correction_unknown_call`` (no published result), 422
``correction_unknown_speaker``, 409 ``correction_none`` (nothing to undo), 400 for a body that is
not one of those, 503 when Redis or Kafka does not answer.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from callroles.base.errors import CallrolesError
from callroles.schemas import is_call_id, topic_name

from .corrections import correction_event
from .http_common import Handler, ServeState, problem

log = logging.getLogger(__name__)

USAGE = 'body: {"agent_speaker": "S1", "by": "..."} or {"undo": true}'

STATUS = {"correction_unknown_call": 404, "correction_unknown_speaker": 422,
          "correction_none": 409}  # fmt: skip


def correction_handler(state: ServeState) -> Handler:
    """The handler of ``POST /calls/{call_id}/correction`` (see the module docstring)."""
    topic = topic_name("call_finished", state.settings.topic_prefix)

    async def correct(request: web.Request) -> web.Response:
        call_id = request.match_info["call_id"]
        if not is_call_id(call_id):
            return problem(400, "invalid_call_id", "not a call id the call-finished schema allows")
        try:
            body = json.loads(await request.read() or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return problem(400, "not_json", f"body is not JSON: {exc}")
        undo = isinstance(body, dict) and body.get("undo") is True
        speaker = body.get("agent_speaker") if isinstance(body, dict) else None
        by = body.get("by") if isinstance(body, dict) else None
        if (not undo and not isinstance(speaker, str)) or not isinstance(by, str | None):
            return problem(400, "invalid_input", USAGE)
        assert state.ledger is not None, "serve opens the ledger at start"
        try:
            event = await correction_event(state.ledger, call_id, speaker, undo=undo, by=by)
        except CallrolesError as exc:
            return problem(STATUS.get(exc.code, 400), exc.code, str(exc))
        except Exception as exc:
            log.warning("correction of %s: Redis unavailable (%s)", call_id, type(exc).__name__)
            return problem(503, "redis_unavailable", "the ledger does not answer; retry")
        try:
            await state.producer.send_and_wait(
                topic, key=call_id.encode(), value=json.dumps(event).encode()
            )
        except Exception as exc:
            log.warning("correction of %s not published: %s", call_id, exc)
            return problem(503, "kafka_unavailable", "could not publish the correction; retry")
        log.info("call %s: correction %s", call_id, "withdrawn" if undo else f"agent {speaker}")
        return web.json_response({"call_id": call_id, "event": event}, status=202)

    return correct
