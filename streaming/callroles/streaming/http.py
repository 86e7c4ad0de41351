"""``callroles serve``: HTTP for PBXs and clients that do not speak Kafka.

Routes (the handlers live one concern per module):

- ``POST /calls``: submit a call-finished event (``http_ingest.py``);
- ``GET /calls/{call_id}``: its result, its error, or that it is still pending, from the Redis
  ledger (``http_results.py``);
- ``POST /calls/{call_id}/correction``: which speaker is the agent, or undo it
  (``http_corrections.py``);
- ``GET /webhook/dead-letters``, ``POST /webhook/dead-letters/{id}/requeue``: webhook
  deliveries that gave up (``http_results.py``);
- ``GET /healthz``, ``GET /metrics`` (Prometheus), without a token.

One bearer token (``CALLROLES_HTTP_TOKEN``), when set, guards every route but the last two. When
``CALLROLES_WEBHOOK_URL`` is set, ``serve`` also delivers queued results to it (``webhook.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiokafka import AIOKafkaProducer

from callroles.base.errors import StackError
from callroles.base.redis import redis_client
from callroles.streaming.settings import StreamingSettings

from . import metrics
from .clients import key_prefix, producer_kwargs
from .http_common import Handler, ServeState, problem
from .http_corrections import correction_handler
from .http_ingest import post_call_handler
from .http_results import dead_letter_handlers, get_call_handler
from .ledger import Ledger
from .outbox import Outbox
from .webhook import Deliverer, check_settings

log = logging.getLogger(__name__)

OPEN_PATHS = ("/healthz", "/metrics")


def _auth(token: str | None) -> Any:
    """The bearer-token check, as a middleware (compared in constant time; never logged)."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token is not None and request.path not in OPEN_PATHS:
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), token.encode()):
                return problem(401, "unauthorized", "missing or wrong bearer token")
        return await handler(request)

    return check


def build_http_app(settings: StreamingSettings, token: str | None = None) -> web.Application:
    """The aiohttp application; Kafka's producer, the Redis client and the webhook deliverer
    live as long as the app. A webhook URL without its secret is refused here (ConfigError)."""
    if settings.webhook_url:
        check_settings(settings)
    state = ServeState(settings)

    async def kafka(_app: web.Application) -> AsyncIterator[None]:
        producer = AIOKafkaProducer(**producer_kwargs(settings))
        try:
            await producer.start()
        except Exception as exc:
            await producer.stop()
            raise StackError(f"cannot reach Kafka at {settings.bootstrap_servers}: {exc}") from exc
        state.producer = producer
        yield
        await producer.stop()

    async def ledger(_app: web.Application) -> AsyncIterator[None]:
        redis = redis_client(settings, asyncio=True)  # connects on first use: POST needs none
        state.ledger = Ledger(redis, prefix=key_prefix(settings), ttl_s=settings.redis_ttl_s)
        state.outbox = Outbox(state.ledger)
        yield
        await redis.aclose()

    async def deliverer(_app: web.Application) -> AsyncIterator[None]:
        assert state.outbox is not None
        where = urlsplit(str(settings.webhook_url))  # host only: a URL may carry a token
        log.info("webhook: delivering results to %s://%s", where.scheme, where.hostname)
        task = asyncio.get_running_loop().create_task(Deliverer(settings, state.outbox).run())
        yield
        task.cancel()  # a try cut short here is due again after its claim horizon
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def metrics_page(_request: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), content_type="text/plain")

    listing, requeue = dead_letter_handlers(state)
    app = web.Application(client_max_size=settings.http_max_body_bytes, middlewares=[_auth(token)])
    app.cleanup_ctx.extend([kafka, ledger] + ([deliverer] if settings.webhook_url else []))
    app.router.add_post("/calls", post_call_handler(state))
    app.router.add_post("/calls/{call_id}/correction", correction_handler(state))
    app.router.add_get("/calls/{call_id:.+}", get_call_handler(state))
    app.router.add_get("/webhook/dead-letters", listing)
    app.router.add_post("/webhook/dead-letters/{delivery_id}/requeue", requeue)
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics_page)
    return app


def serve(settings: StreamingSettings, host: str | None = None, port: int | None = None) -> None:
    """Run ``serve`` until interrupted."""
    token = settings.http_token.get_secret_value() if settings.http_token else None
    web.run_app(
        build_http_app(settings, token),
        host=host or settings.http_host,
        port=port or settings.http_port,
        print=lambda msg: log.info("%s", msg),
    )
