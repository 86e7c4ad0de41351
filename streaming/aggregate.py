"""Speaker probabilities (the paper's Eq. 4 and 5) and their idempotent sums in Redis.

Kafka delivers at least once, so a window may be scored twice after a crash or a rebalance.
The Redis side therefore counts each window once, whatever the replays: a Lua script adds a
window's class probabilities only if its marker (speaker and window index) is new, atomically.
A completion check then lets exactly one worker claim the result of a call and model version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# KEYS: sums hash, seen set. ARGV: ttl, n_classes, then per window: marker, speaker, p_1..p_n.
# Adds a window only if its marker is new; returns the number of windows counted so far.
_ADD_WINDOWS = """
local ttl = tonumber(ARGV[1])
local k = tonumber(ARGV[2])
local i = 3
while i <= #ARGV do
  local marker = ARGV[i]
  local speaker = ARGV[i + 1]
  if redis.call('SADD', KEYS[2], marker) == 1 then
    for c = 1, k do
      redis.call('HINCRBYFLOAT', KEYS[1], speaker .. '|' .. (c - 1), ARGV[i + 1 + c])
    end
    redis.call('HINCRBY', KEYS[1], speaker .. '|n', 1)
  end
  i = i + 2 + k
end
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return redis.call('SCARD', KEYS[2])
"""

# KEYS: plan hash, seen set, done key. ARGV: owner token, claim ttl.
# Claims the result when every planned window was counted and nobody claimed it before.
_CLAIM = """
local expected = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do expected = expected + tonumber(v) end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SCARD', KEYS[2]) < expected then return 0 end
if redis.call('SET', KEYS[3], 'claimed:' .. ARGV[1], 'NX', 'EX', tonumber(ARGV[2])) then
  return 1
end
return 2
"""

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


def speaker_probabilities(
    window_probs: np.ndarray | Sequence[Sequence[float]],
) -> tuple[np.ndarray, int]:
    """Eq. 4: the mean class probability over a speaker's windows; Eq. 5: its argmax index.

    ``window_probs`` is (N, n_classes). Raises ValueError for no windows, since a speaker
    with no window has no defined probability (callers mark it ``unknown`` instead).
    """
    probs = np.asarray(window_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise ValueError(f"expected (N>=1, n_classes>=2) window probabilities, got {probs.shape}")
    mean = probs.mean(axis=0)
    return mean, int(np.argmax(mean))


def means_from_sums(sums: Mapping[str, str | float], n_classes: int) -> dict[str, np.ndarray]:
    """Eq. 4 from the Redis sums (``speaker|c`` and ``speaker|n`` fields)."""
    speakers = {field.rsplit("|", 1)[0] for field in sums}
    out: dict[str, np.ndarray] = {}
    for speaker in sorted(speakers):
        n = float(sums.get(f"{speaker}|n", 0) or 0)
        if n <= 0:
            continue
        out[speaker] = np.array(
            [float(sums.get(f"{speaker}|{c}", 0.0)) / n for c in range(n_classes)]
        )
    return out


@dataclass(frozen=True)
class Keys:
    """Redis key names of one call and model version (all share a hash tag for Redis Cluster)."""

    prefix: str
    call_id: str
    model_version: str

    def _k(self, what: str) -> str:
        return f"{self.prefix}{{{self.call_id}}}:{self.model_version}:{what}"

    @property
    def sums(self) -> str:
        return self._k("sums")

    @property
    def seen(self) -> str:
        return self._k("seen")

    @property
    def plan(self) -> str:
        return self._k("plan")

    @property
    def done(self) -> str:
        return self._k("done")

    @property
    def lease(self) -> str:
        return f"{self.prefix}{{{self.call_id}}}:lease"


class Aggregator:
    """Per call and speaker sums of class probabilities in Redis, idempotent under replay.

    ``redis`` is a ``redis.asyncio.Redis`` client (decode_responses=True).
    """

    def __init__(self, redis: Any, *, prefix: str = "callroles:", ttl_s: int = 86_400) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._add = redis.register_script(_ADD_WINDOWS)
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)

    def keys(self, call_id: str, model_version: str) -> Keys:
        return Keys(self.prefix, call_id, model_version)

    async def already_done(self, call_id: str, model_version: str) -> bool:
        """True once a result for this call and model version was emitted (or is being)."""
        return bool(await self.redis.exists(self.keys(call_id, model_version).done))

    async def acquire_lease(self, call_id: str, owner: str, ttl_s: int) -> bool:
        """SET NX lease: one worker works on a call at a time; a dead worker's lease expires.

        The owner may re-take its own lease (same worker id after a restart).
        """
        key = self.keys(call_id, "-").lease
        return bool(await self._acquire(keys=[key], args=[owner, ttl_s]))

    async def renew_lease(self, call_id: str, owner: str, ttl_s: int) -> bool:
        return bool(await self._renew(keys=[self.keys(call_id, "-").lease], args=[owner, ttl_s]))

    async def release_lease(self, call_id: str, owner: str) -> None:
        await self._release(keys=[self.keys(call_id, "-").lease], args=[owner])

    async def plan(self, call_id: str, model_version: str, windows: Mapping[str, int]) -> None:
        """Record how many windows each speaker has (idempotent: same values on replay)."""
        k = self.keys(call_id, model_version)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(k.plan, mapping={s: int(n) for s, n in windows.items()} or {"_": 0})
        pipe.expire(k.plan, self.ttl_s)
        await pipe.execute()

    async def add_windows(
        self, call_id: str, model_version: str, speaker: str, start: int, probs: np.ndarray
    ) -> int:
        """Add windows ``start..start+len(probs)-1`` of a speaker; replays are counted once."""
        if len(probs) == 0:
            return int(await self.redis.scard(self.keys(call_id, model_version).seen))
        k = self.keys(call_id, model_version)
        probs = np.asarray(probs, dtype=np.float64)
        args: list[Any] = [self.ttl_s, probs.shape[1]]
        for j, row in enumerate(probs):
            args += [f"{speaker}#{start + j}", speaker, *(repr(float(p)) for p in row)]
        return int(await self._add(keys=[k.sums, k.seen], args=args))

    async def claim(self, call_id: str, model_version: str, owner: str, claim_ttl_s: int) -> int:
        """1: this owner claimed the result; 0: windows missing; 2: claimed before; -1: no plan."""
        k = self.keys(call_id, model_version)
        return int(await self._claim(keys=[k.plan, k.seen, k.done], args=[owner, claim_ttl_s]))

    async def mark_sent(self, call_id: str, model_version: str) -> None:
        """After the result event was acknowledged by Kafka: never emit it again (until TTL)."""
        await self.redis.set(self.keys(call_id, model_version).done, "sent", ex=self.ttl_s)

    async def unclaim(self, call_id: str, model_version: str) -> None:
        """Give the claim back when sending the result failed, so a retry can emit it."""
        await self.redis.delete(self.keys(call_id, model_version).done)

    async def means(
        self, call_id: str, model_version: str, n_classes: int
    ) -> dict[str, np.ndarray]:
        """Eq. 4 per speaker, from the sums in Redis."""
        sums = await self.redis.hgetall(self.keys(call_id, model_version).sums)
        return means_from_sums(sums, n_classes)
