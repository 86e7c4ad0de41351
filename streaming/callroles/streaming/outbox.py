"""The webhook outbox in Redis: results waiting to be pushed, retries, dead letters.

A worker only writes here (:meth:`Outbox.enqueue`, one Redis round trip after Kafka acknowledged
the result), so a slow or broken webhook receiver never touches consumption; ``callroles serve``
drains it (``webhook.py``). Each delivery is a hash (body, call, tries, last failure) and an
entry in a sorted set scored by when it is due. Taking due deliveries moves their score ahead
by a claim horizon, atomically (a script), so several ``serve`` processes share the work, and a
delivery whose deliverer died becomes due again once the horizon passes: at least once. After
the last try it moves to the dead set, kept (with the ledger's TTL) and listed until requeued.
Key names come from the ledger (:class:`callroles.streaming.ledger.WebhookKeys`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from callroles.schemas import utc_now

from .ledger import Ledger

# KEYS: the due set. ARGV: now (ms), claim horizon (ms), how many. Takes due deliveries by
# moving them past the horizon; returns their ids.
_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), id)
end
return ids
"""


@dataclass(frozen=True)
class Delivery:
    """One result to push: its id (the receiver's idempotency key), body and tries so far."""

    id: str
    call_id: str
    model_version: str
    body: str
    tries: int


def _ms(now: float | None = None) -> int:
    return int((time.time() if now is None else now) * 1000)


class Outbox:
    """The queue of webhook deliveries (``redis.asyncio.Redis``, decoded), via the ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.redis = ledger.redis
        self.keys = ledger.webhook_keys
        self.dead_ttl_s = ledger.ttl_s
        self._claim = self.redis.register_script(_CLAIM)

    async def enqueue(self, call_id: str, model_version: str, body: str) -> str:
        """Queue ``body`` (a result event as published) for delivery now; returns its id."""
        delivery_id = uuid.uuid4().hex
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(
            self.keys.delivery(delivery_id),
            mapping={
                "call_id": call_id,
                "model_version": model_version,
                "body": body,
                "tries": 0,
                "enqueued_at": utc_now(),
            },
        )
        pipe.zadd(self.keys.due, {delivery_id: _ms()})
        await pipe.execute()
        return delivery_id

    async def claim(self, limit: int, horizon_s: float) -> list[Delivery]:
        """Up to ``limit`` due deliveries, each out of the others' reach for ``horizon_s``."""
        ids = await self._claim(
            keys=[self.keys.due], args=[_ms(), int(horizon_s * 1000), max(1, limit)]
        )
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for delivery_id in ids:
            pipe.hgetall(self.keys.delivery(delivery_id))
        found = []
        for delivery_id, fields in zip(ids, await pipe.execute(), strict=True):
            if not fields:  # its hash is gone (removed by hand): nothing to deliver
                await self.redis.zrem(self.keys.due, delivery_id)
                continue
            found.append(
                Delivery(
                    delivery_id,
                    fields.get("call_id", ""),
                    fields.get("model_version", ""),
                    fields.get("body", ""),
                    int(fields.get("tries", 0)),
                )
            )
        return found

    async def delivered(self, delivery: Delivery) -> None:
        """The receiver accepted it: forget it."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(self.keys.due, delivery.id)
        pipe.delete(self.keys.delivery(delivery.id))
        await pipe.execute()

    async def retry(self, delivery: Delivery, error: str, delay_s: float) -> None:
        """A try failed: count it and make the delivery due again after ``delay_s``."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(
            self.keys.delivery(delivery.id),
            mapping={"tries": delivery.tries + 1, "last_error": error},
        )
        pipe.zadd(self.keys.due, {delivery.id: _ms(time.time() + delay_s)})
        await pipe.execute()

    async def give_up(self, delivery: Delivery, error: str) -> None:
        """The last try failed: move the delivery to the dead letters (kept for the TTL)."""
        key = self.keys.delivery(delivery.id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(
            key, mapping={"tries": delivery.tries + 1, "last_error": error, "dead_at": utc_now()}
        )
        pipe.expire(key, self.dead_ttl_s)
        pipe.zrem(self.keys.due, delivery.id)
        pipe.zadd(self.keys.dead, {delivery.id: _ms()})
        await pipe.execute()

    async def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """The dead letters, newest first: id, call, model version, tries, last failure, times
        (not the body). Entries whose hash expired are dropped from the set on the way."""
        ids = await self.redis.zrevrange(self.keys.dead, 0, max(1, limit) - 1)
        pipe = self.redis.pipeline(transaction=False)
        for delivery_id in ids:
            pipe.hmget(
                self.keys.delivery(delivery_id),
                "call_id", "model_version", "tries", "last_error", "enqueued_at", "dead_at",
            )  # fmt: skip
        out = []
        for delivery_id, values in zip(ids, await pipe.execute(), strict=True):
            call_id, version, tries, error, enqueued, dead = values
            if call_id is None:
                await self.redis.zrem(self.keys.dead, delivery_id)
                continue
            out.append(
                {
                    "id": delivery_id,
                    "call_id": call_id,
                    "model_version": version,
                    "tries": int(tries or 0),
                    "last_error": error,
                    "enqueued_at": enqueued,
                    "dead_at": dead,
                }
            )
        return out

    async def requeue(self, delivery_id: str) -> bool:
        """A dead letter goes back in the queue, due now, with its tries reset; False when
        there is no such dead letter."""
        key = self.keys.delivery(delivery_id)
        dead = await self.redis.zscore(self.keys.dead, delivery_id)
        if dead is None or not await self.redis.exists(key):
            return False
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(self.keys.dead, delivery_id)
        pipe.hset(key, mapping={"tries": 0})
        pipe.hdel(key, "dead_at")
        pipe.persist(key)
        pipe.zadd(self.keys.due, {delivery_id: _ms()})
        await pipe.execute()
        return True

    async def sizes(self) -> tuple[int, int]:
        """(deliveries waiting or in flight, dead letters)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcard(self.keys.due)
        pipe.zcard(self.keys.dead)
        due, dead = await pipe.execute()
        return int(due), int(dead)
