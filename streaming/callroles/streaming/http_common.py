"""What the handlers of ``callroles serve`` share: the running services and the problem shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from callroles.streaming.settings import StreamingSettings

from .ledger import Ledger
from .outbox import Outbox

#: what aiohttp calls for a route
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class ServeState:
    """Made when ``serve`` starts, closed when it stops: Kafka's producer, the Redis ledger
    and the webhook outbox (Redis is optional to POST: a call is published without it)."""

    settings: StreamingSettings
    producer: Any = None
    ledger: Ledger | None = None
    outbox: Outbox | None = None


def problem(status: int, code: str, message: str) -> web.Response:
    """An error answer: ``{"error": code, "message": ...}``."""
    return web.json_response({"error": code, "message": message}, status=status)
