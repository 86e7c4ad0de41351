"""Results pushed to a webhook: signed, retried with exponential backoff, at least once.

``callroles serve`` runs one :class:`Deliverer` when ``webhook_url`` is set. It drains the Redis
outbox the workers fill (``outbox.py``), in its own process: a receiver that refuses, hangs or
answers 500 costs a worker nothing (no socket, timer or memory on the loop that heart-beats
Kafka), the secret lives only where it is used, and delivery, which waits on the network, scales
apart from calls, which wait on the CPU (several ``serve`` processes share one outbox).

Each try is ``POST webhook_url`` with the result event as published (JSON) and three headers:

- ``X-Callroles-Delivery``: the delivery's id, the same on every try (deduplicate on it, or on
  ``call_id`` and ``model.version``: delivery is at least once);
- ``X-Callroles-Timestamp``: Unix seconds when this try was signed;
- ``X-Callroles-Signature``: ``v1=`` and the hex HMAC-SHA256, keyed by ``webhook_secret``, of
  ``<timestamp>.<body>``. A receiver recomputes it over the raw body and refuses a timestamp more
  than five minutes away from its clock, so a captured request cannot be replayed later
  (:func:`verify` does both).

A 2xx answer delivers; anything else (another status, a timeout, a refused connection) is a
failed try, logged and counted, and the delivery is due again after ``webhook_backoff_s``
doubled per failed try (capped, with jitter). After ``webhook_tries`` failed tries it becomes a
dead letter: a log line, ``callroles_webhook_deliveries_total{outcome="dead_lettered"}``, and an
entry ``GET /webhook/dead-letters`` lists and ``POST /webhook/dead-letters/{id}/requeue`` sends
again. Secrets and bodies are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
from urllib.parse import urlsplit

import aiohttp

from callroles.base.errors import CallrolesError, ConfigError
from callroles.streaming.settings import StreamingSettings

from . import metrics
from .outbox import Delivery, Outbox

log = logging.getLogger(__name__)

DELIVERY_HEADER = "X-Callroles-Delivery"
TIMESTAMP_HEADER = "X-Callroles-Timestamp"
SIGNATURE_HEADER = "X-Callroles-Signature"
TOLERANCE_S = 300  # how far a receiver lets a signed timestamp be from its clock


class WebhookError(CallrolesError):
    """One failed try of a webhook delivery; ``reason`` is the metric's label."""

    code = "webhook_failed"
    stage = "result"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    tolerance_s: float = TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """What a receiver checks: the signature over the raw body, and a fresh timestamp."""
    try:
        when = int(timestamp or "")
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - when) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, when, body), signature or "")


def check_settings(settings: StreamingSettings) -> str:
    """The webhook's secret; a ConfigError for a URL that is not http(s) or has no secret."""
    url = settings.webhook_url or ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("CALLROLES_WEBHOOK_URL must be an http:// or https:// URL")
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if not secret:
        raise ConfigError("CALLROLES_WEBHOOK_URL needs CALLROLES_WEBHOOK_SECRET (the HMAC key)")
    if settings.webhook_tries < 1:
        raise ConfigError("CALLROLES_WEBHOOK_TRIES must be at least 1")
    return secret


class Deliverer:
    """Drains the outbox to ``webhook_url`` (see the module docstring) until cancelled."""

    def __init__(self, settings: StreamingSettings, outbox: Outbox) -> None:
        self.settings = settings
        self.secret = check_settings(settings)
        self.url = str(settings.webhook_url)
        self.outbox = outbox
        # a claimed delivery is out of other deliverers' reach for this long: past one try
        self.horizon_s = settings.webhook_timeout_s + 30.0
        self._session: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        """Deliver what is due, forever; a Redis outage is waited out, never fatal."""
        timeout = aiohttp.ClientTimeout(total=self.settings.webhook_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            self._session = session
            while True:
                try:
                    handled = await self.drain_once()
                except Exception as exc:  # Redis lost: the deliveries wait in it
                    log.warning("webhook: outbox pass failed (%s: %s)", type(exc).__name__, exc)
                    handled = 0
                    await asyncio.sleep(max(1.0, self.settings.webhook_poll_s))
                if not handled:
                    await asyncio.sleep(self.settings.webhook_poll_s)

    async def drain_once(self) -> int:
        """One pass: try every due delivery (up to ``webhook_concurrency`` at once)."""
        batch = await self.outbox.claim(self.settings.webhook_concurrency, self.horizon_s)
        if batch:
            await asyncio.gather(*(self._deliver(d) for d in batch))
        due, dead = await self.outbox.sizes()
        metrics.WEBHOOK_OUTBOX.labels("queued").set(due)
        metrics.WEBHOOK_OUTBOX.labels("dead").set(dead)
        return len(batch)

    async def _deliver(self, delivery: Delivery) -> None:
        tries = delivery.tries + 1
        try:
            await self._post(delivery)
        except WebhookError as exc:
            await self._failed(delivery, exc, tries)
            return
        await self.outbox.delivered(delivery)
        metrics.WEBHOOK_DELIVERIES.labels("delivered").inc()
        log.info("webhook: call %s delivered (%s, try %d)", delivery.call_id, delivery.id, tries)

    async def _failed(self, delivery: Delivery, exc: WebhookError, tries: int) -> None:
        metrics.WEBHOOK_FAILURES.labels(exc.reason).inc()
        error = f"[{exc.code}] {exc}"
        limit = self.settings.webhook_tries
        if tries >= limit:
            await self.outbox.give_up(delivery, error)
            metrics.WEBHOOK_DELIVERIES.labels("dead_lettered").inc()
            log.error(
                "webhook: call %s dead-lettered after %d tries (%s): %s",
                delivery.call_id, tries, delivery.id, error,
            )  # fmt: skip
            return
        base = self.settings.webhook_backoff_s * 2 ** (tries - 1)
        delay = min(self.settings.webhook_backoff_cap_s, base) * random.uniform(0.5, 1.0)
        await self.outbox.retry(delivery, error, delay)
        metrics.WEBHOOK_DELIVERIES.labels("retried").inc()
        log.warning(
            "webhook: call %s not delivered, try %d of %d (%s): %s; next in %.1f s",
            delivery.call_id, tries, limit, delivery.id, error, delay,
        )  # fmt: skip

    async def _post(self, delivery: Delivery) -> None:
        assert self._session is not None, "run() opens the session"
        body = delivery.body.encode()
        now = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "callroles-webhook/1",
            DELIVERY_HEADER: delivery.id,
            TIMESTAMP_HEADER: str(now),
            SIGNATURE_HEADER: sign(self.secret, now, body),
        }
        try:
            async with self._session.post(
                self.url, data=body, headers=headers, allow_redirects=False
            ) as resp:
                status = resp.status
                with contextlib.suppress(Exception):
                    await resp.content.read(4096)  # let the connection be reused
        except TimeoutError as exc:
            limit = self.settings.webhook_timeout_s
            raise WebhookError("timeout", f"no answer within {limit} s") from exc
        except aiohttp.ClientError as exc:
            raise WebhookError("connection", type(exc).__name__) from exc
        if not 200 <= status < 300:
            raise WebhookError(f"http_{status // 100}xx", f"the receiver answered {status}")
