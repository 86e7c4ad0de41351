"""The Redis ledger of calls: who works on a call, how often it was tried, whether it has a result.

Kafka delivers at least once, so the same call-finished event can reach two workers (a
rebalance, a replay after a crash, a client that re-sends). The ledger makes processing
idempotent per call and model version:

- a **lease** (SET NX with a TTL, renewed while working): one worker works on a call at a time,
  and a dead worker's call is picked up again once its lease expires;
- an **attempt** counter, carried in error events;
- a **claim** (SET NX): exactly one worker publishes the result of a call and model version;
  it is given back if publishing fails, and becomes ``sent`` once Kafka acknowledged the result,
  which is then kept (the call's speaker probabilities and roles, as published) with the
  SHA-256 of its recording until the TTL, so a re-submitted call id gets the same answer again
  and a different recording under the same id is told apart.

The latest outcome of a call, whatever the model version, is kept for ``GET /calls/{id}``: a
pointer to the result last published (or replayed), or the error event last published, and a
mark that ``serve`` accepted the call. Results to push to a webhook wait in an outbox
(``outbox.py``) whose keys, named here, share the hash tag ``{webhook}``.

Every key of a call shares one hash tag (``{call_id}``), so the ledger works on Redis Cluster.
This module is the only place that knows the key layout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from callroles.schemas import utc_now

# KEYS: lease key. ARGV: owner token, ttl. Renews the lease only if this owner holds it.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return 0
"""

# KEYS: lease key. ARGV: owner token, ttl. Takes a free lease, or re-takes our own (a restarted
# worker with the same id resumes its call at once instead of waiting for the TTL).
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[2])) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Stored:
    """What the ledger keeps of a published result."""

    result: dict[str, Any]
    recording_sha256: str
    source: str  # topic:partition:offset of the event it answered; "" when not from Kafka
    event: dict[str, Any] | None = None  # the call-finished event it answered


@dataclass(frozen=True)
class Keys:
    """Redis key names of one call (and model version, for what depends on the model)."""

    prefix: str
    call_id: str
    model_version: str = "-"

    def _call(self, what: str) -> str:
        return f"{self.prefix}{{{self.call_id}}}:{what}"

    @property
    def lease(self) -> str:
        return self._call("lease")

    @property
    def attempts(self) -> str:
        return self._call("attempts")

    @property
    def done(self) -> str:
        """``claimed:<owner>`` while one worker publishes, then ``sent``."""
        return self._call(f"{self.model_version}:done")

    @property
    def result(self) -> str:
        """The published result event (JSON), kept with ``done``."""
        return self._call(f"{self.model_version}:result")

    @property
    def recording(self) -> str:
        """SHA-256 of the recording the published result was computed from."""
        return self._call(f"{self.model_version}:recording")

    @property
    def source(self) -> str:
        """Where the event that produced the result sat (``topic:partition:offset``)."""
        return self._call(f"{self.model_version}:source")

    @property
    def event(self) -> str:
        """The call-finished event the published result answered (JSON)."""
        return self._call(f"{self.model_version}:event")

    @property
    def revision(self) -> str:
        """Set once a revision of the call was asked for (a learnt print decides it again)."""
        return self._call(f"{self.model_version}:revision")

    @property
    def latest(self) -> str:
        """The call's latest outcome, any model version: ``result:<version>`` or ``error``."""
        return self._call("latest")

    @property
    def error(self) -> str:
        """The call's last published error event (JSON)."""
        return self._call("error")

    @property
    def submitted(self) -> str:
        """When ``serve`` accepted the call (POST /calls), before any worker saw it."""
        return self._call("submitted")


@dataclass(frozen=True)
class WebhookKeys:
    """The webhook outbox (one hash tag, so its scripts run on Redis Cluster too)."""

    prefix: str

    @property
    def due(self) -> str:
        """Sorted set: delivery id -> when it is due (epoch ms)."""
        return f"{self.prefix}{{webhook}}:due"

    @property
    def dead(self) -> str:
        """Sorted set: delivery id -> when it was given up (epoch ms)."""
        return f"{self.prefix}{{webhook}}:dead"

    def delivery(self, delivery_id: str) -> str:
        """Hash: the body, its call, tries so far, the last failure."""
        return f"{self.prefix}{{webhook}}:d:{delivery_id}"


@dataclass(frozen=True)
class Lookup:
    """What ``GET /calls/{id}`` answers from: the call's state and its latest outcome."""

    state: Literal["result", "error", "processing", "pending", "unknown"]
    event: dict[str, Any] | None = None  # the result or the error event
    attempts: int = 0


class Ledger:
    """Leases, attempts and result claims in Redis (``redis.asyncio.Redis``, decoded)."""

    def __init__(self, redis: Any, *, prefix: str, ttl_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._renew = redis.register_script(_RENEW)
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)

    def keys(self, call_id: str, model_version: str = "-") -> Keys:
        return Keys(self.prefix, call_id, model_version)

    @property
    def webhook_keys(self) -> WebhookKeys:
        return WebhookKeys(self.prefix)

    async def attempt(self, call_id: str) -> int:
        """Count one more try of the call; returns its number (1 for the first)."""
        key = self.keys(call_id).attempts
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, self.ttl_s)
        count, _ = await pipe.execute()
        return int(count)

    async def done_state(self, call_id: str, model_version: str) -> str | None:
        """``sent`` once a result for this call and model version was published, ``claimed``
        while a worker publishes it (the claim expires if that worker dies), else None."""
        value = await self.redis.get(self.keys(call_id, model_version).done)
        if value is None:
            return None
        return "sent" if value == "sent" else "claimed"

    async def acquire_lease(self, call_id: str, owner: str, ttl_s: int) -> bool:
        """SET NX lease: one worker works on a call at a time; a dead worker's lease expires.

        The owner may re-take its own lease (same worker id after a restart).
        """
        return bool(await self._acquire(keys=[self.keys(call_id).lease], args=[owner, ttl_s]))

    async def renew_lease(self, call_id: str, owner: str, ttl_s: int) -> bool:
        return bool(await self._renew(keys=[self.keys(call_id).lease], args=[owner, ttl_s]))

    async def release_lease(self, call_id: str, owner: str) -> None:
        await self._release(keys=[self.keys(call_id).lease], args=[owner])

    async def claim(self, call_id: str, model_version: str, owner: str, claim_ttl_s: int) -> bool:
        """True when this owner may publish the result; False when someone claimed it before."""
        key = self.keys(call_id, model_version).done
        return bool(await self.redis.set(key, f"claimed:{owner}", nx=True, ex=claim_ttl_s))

    async def unclaim(self, call_id: str, model_version: str) -> None:
        """Give the claim back when sending the result failed, so a retry can emit it."""
        await self.redis.delete(self.keys(call_id, model_version).done)

    async def mark_sent(
        self,
        call_id: str,
        model_version: str,
        result: dict[str, Any],
        recording_sha256: str,
        source: str | None = None,
        event: dict[str, Any] | None = None,
    ) -> None:
        """After Kafka acknowledged the result: never compute it again (until the TTL), and
        keep what was published, which recording it came from and which event asked for it."""
        k = self.keys(call_id, model_version)
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(k.done, "sent", ex=self.ttl_s)
        pipe.set(k.result, json.dumps(result), ex=self.ttl_s)
        pipe.set(k.recording, recording_sha256, ex=self.ttl_s)
        pipe.set(k.source, source or "", ex=self.ttl_s)
        if event is not None:
            pipe.set(k.event, json.dumps(event), ex=self.ttl_s)
        pipe.set(k.latest, f"result:{model_version}", ex=self.ttl_s)
        await pipe.execute()

    async def replayed(self, call_id: str, model_version: str) -> None:
        """A stored result was published again: it is the call's latest outcome again."""
        await self.redis.set(self.keys(call_id).latest, f"result:{model_version}", ex=self.ttl_s)

    async def record_error(self, call_id: str, event: dict[str, Any]) -> None:
        """Keep the call's error event (as published) as its latest outcome, for the TTL."""
        k = self.keys(call_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(k.error, json.dumps(event), ex=self.ttl_s)
        pipe.set(k.latest, "error", ex=self.ttl_s)
        await pipe.execute()

    async def record_submitted(self, call_id: str) -> None:
        """``serve`` published the call's event: the call is known before a worker takes it."""
        await self.redis.set(self.keys(call_id).submitted, utc_now(), ex=self.ttl_s)

    async def lookup(self, call_id: str) -> Lookup:
        """The call as ``GET /calls/{id}`` tells it: processing while a worker holds its lease,
        else its latest outcome (a result or an error), else pending if anything knows the
        call, else unknown."""
        k = self.keys(call_id)
        lease, attempts, latest, error, submitted = await self.redis.mget(
            k.lease, k.attempts, k.latest, k.error, k.submitted
        )
        tries = int(attempts or 0)
        if lease:
            return Lookup("processing", attempts=tries)
        if latest == "error" and error:
            return Lookup("error", json.loads(error), tries)
        if latest and latest.startswith("result:"):
            stored = await self.stored(call_id, latest.removeprefix("result:"))
            if stored is not None:
                return Lookup("result", stored.result, tries)
        if tries or latest or submitted:
            return Lookup("pending", attempts=tries)
        return Lookup("unknown")

    async def stored(self, call_id: str, model_version: str) -> Stored | None:
        """The result published for this call and model version, or None while it is being
        published (claimed) or once it expired."""
        k = self.keys(call_id, model_version)
        raw, sha, source, event = await self.redis.mget(k.result, k.recording, k.source, k.event)
        if not raw:
            return None
        return Stored(
            json.loads(raw), str(sha or ""), str(source or ""), json.loads(event) if event else None
        )

    async def ask_revision(self, call_id: str, model_version: str) -> bool:
        """True the first time a revision of this call is asked for (once per result)."""
        key = self.keys(call_id, model_version).revision
        return bool(await self.redis.set(key, "asked", nx=True, ex=self.ttl_s))

    async def forget(self, call_id: str, model_version: str) -> None:
        """Drop a call's result for this model version (a re-submission asked to reprocess)."""
        k = self.keys(call_id, model_version)
        await self.redis.delete(k.done, k.result, k.recording, k.source, k.event, k.revision)
