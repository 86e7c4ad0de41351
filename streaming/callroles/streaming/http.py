"""HTTP ingest for PBXs and webhooks: POST a call-finished event, get 202 and the call_id.

``POST /calls`` takes the event as JSON (``schema_version`` and ``submitted_at`` are filled
in when absent), validates it and publishes it keyed by call_id. Invalid events get 400 with
the reasons, so the sender can fix them; nothing invalid reaches Kafka from here.
An optional bearer token (``CALLROLES_HTTP_TOKEN``) guards the endpoint.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaProducer

from callroles.base.errors import CallrolesError, StackError
from callroles.schemas import SCHEMA_VERSION, topic_name, utc_now
from callroles.streaming.settings import StreamingSettings

from .clients import producer_kwargs
from .ingest import parse_event

log = logging.getLogger(__name__)


def build_http_app(settings: StreamingSettings, token: str | None = None) -> Any:
    """The aiohttp application; the Kafka producer lives as long as the app."""
    topic = topic_name("call_finished", settings.topic_prefix)
    producer_key = web.AppKey("producer", AIOKafkaProducer)

    async def producer_ctx(app: web.Application) -> Any:
        producer = AIOKafkaProducer(**producer_kwargs(settings))
        try:
            await producer.start()
        except Exception as exc:
            await producer.stop()
            raise StackError(f"cannot reach Kafka at {settings.bootstrap_servers}: {exc}") from exc
        app[producer_key] = producer
        yield
        await producer.stop()

    def problem(status: int, code: str, message: str) -> web.Response:
        return web.json_response({"error": code, "message": message}, status=status)

    async def post_call(request: web.Request) -> web.Response:
        if token is not None:
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), token.encode()):
                return problem(401, "unauthorized", "missing or wrong bearer token")
        if request.content_length and request.content_length > settings.http_max_body_bytes:
            return problem(413, "too_large", f"body above {settings.http_max_body_bytes} bytes")
        try:
            body = await request.read()
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return problem(400, "not_json", f"body is not JSON: {exc}")
        if isinstance(payload, dict):
            payload.setdefault("schema_version", SCHEMA_VERSION)
            payload.setdefault("submitted_at", utc_now())
        try:
            event = parse_event(payload)
        except CallrolesError as exc:
            return problem(400, exc.code, str(exc))
        try:
            meta = await request.app[producer_key].send_and_wait(
                topic, key=event["call_id"].encode(), value=json.dumps(event).encode()
            )
        except Exception as exc:
            log.warning("publishing %s failed: %s", event["call_id"], exc)
            return problem(503, "kafka_unavailable", "could not publish the event; retry")
        return web.json_response(
            {
                "call_id": event["call_id"],
                "topic": topic,
                "partition": meta.partition,
                "offset": meta.offset,
            },
            status=202,
        )

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=settings.http_max_body_bytes)
    app.cleanup_ctx.append(producer_ctx)
    app.router.add_post("/calls", post_call)
    app.router.add_get("/healthz", health)
    return app


def serve(settings: StreamingSettings, host: str | None = None, port: int | None = None) -> None:
    """Run the HTTP ingest until interrupted."""
    token = settings.http_token.get_secret_value() if settings.http_token else None
    web.run_app(
        build_http_app(settings, token),
        host=host or settings.http_host,
        port=port or settings.http_port,
        print=lambda msg: log.info("%s", msg),
    )
