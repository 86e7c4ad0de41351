"""``POST /calls``: a call-finished event in, published keyed by call_id, 202 and the call_id.

``schema_version`` and ``submitted_at`` are filled in when absent; an invalid event gets 400 with
the reasons, so the sender can fix it; nothing invalid reaches Kafka from here. The call is then
marked as submitted in the ledger, so ``GET /calls/{id}`` answers 202 before a worker takes it
(best effort: without Redis the call is still published).
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from callroles.base.errors import CallrolesError
from callroles.schemas import SCHEMA_VERSION, topic_name, utc_now

from .http_common import Handler, ServeState, problem
from .ingest import parse_event

log = logging.getLogger(__name__)


def post_call_handler(state: ServeState) -> Handler:
    """The handler of ``POST /calls``."""
    settings = state.settings
    topic = topic_name("call_finished", settings.topic_prefix)

    async def post_call(request: web.Request) -> web.Response:
        if request.content_length and request.content_length > settings.http_max_body_bytes:
            return problem(413, "too_large", f"body above {settings.http_max_body_bytes} bytes")
        try:
            payload = json.loads(await request.read())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return problem(400, "not_json", f"body is not JSON: {exc}")
        if isinstance(payload, dict):
            payload.setdefault("schema_version", SCHEMA_VERSION)
            payload.setdefault("submitted_at", utc_now())
        try:
            event = parse_event(payload)
        except CallrolesError as exc:
            return problem(400, exc.code, str(exc))
        call_id = event["call_id"]
        try:
            meta = await state.producer.send_and_wait(
                topic, key=call_id.encode(), value=json.dumps(event).encode()
            )
        except Exception as exc:
            log.warning("publishing %s failed: %s", call_id, exc)
            return problem(503, "kafka_unavailable", "could not publish the event; retry")
        if state.ledger is not None:
            try:
                await state.ledger.record_submitted(call_id)
            except Exception as exc:  # GET answers 404 until a worker takes the call
                log.warning("call %s published, not marked submitted (Redis: %s)", call_id, exc)
        answer = {"call_id": call_id, "topic": topic, "partition": meta.partition}
        return web.json_response({**answer, "offset": meta.offset}, status=202)

    return post_call
