"""Redis sums are idempotent under replay, and exactly one worker claims a call's result."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pytest

from callroles.settings import Settings
from callroles.streaming.aggregate import Aggregator, speaker_probabilities

pytestmark = pytest.mark.services


async def _scenario(settings: Settings) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(settings.redis_dsn, decode_responses=True)
    try:
        agg = Aggregator(client, prefix=f"test:{uuid.uuid4().hex[:8]}:", ttl_s=60)
        rng = np.random.default_rng(0)
        p0 = rng.dirichlet([1, 1], size=5)
        p1 = rng.dirichlet([1, 1], size=3)
        await agg.plan("c1", "v1", {"S0": 5, "S1": 3})
        assert await agg.claim("c1", "v1", "w1", 30) == 0  # nothing counted yet
        await agg.add_windows("c1", "v1", "S0", 0, p0[:3])
        await agg.add_windows("c1", "v1", "S0", 0, p0[:3])  # replay of the same batch
        await agg.add_windows("c1", "v1", "S0", 2, p0[2:])  # overlapping batch
        assert await agg.claim("c1", "v1", "w1", 30) == 0  # S1 still missing
        counted = await agg.add_windows("c1", "v1", "S1", 0, p1)
        assert counted == 8
        assert await agg.add_windows("c1", "v1", "S1", 0, p1) == 8
        means = await agg.means("c1", "v1", 2)
        assert means["S0"] == pytest.approx(speaker_probabilities(p0)[0])
        assert means["S1"] == pytest.approx(speaker_probabilities(p1)[0])
        claims = await asyncio.gather(*(agg.claim("c1", "v1", f"w{i}", 30) for i in range(5)))
        assert sorted(claims) == [1, 2, 2, 2, 2]  # exactly one claimant
        await agg.mark_sent("c1", "v1")
        assert await agg.already_done("c1", "v1")
        assert not await agg.already_done("c1", "v2")  # another model version is separate
        assert await agg.claim("c9", "v1", "w1", 30) == -1  # never planned
        ttl = await client.ttl(agg.keys("c1", "v1").sums)
        assert 0 < ttl <= 60
        # leases: one holder at a time, only the holder renews or releases
        assert await agg.acquire_lease("c1", "w1", 30)
        assert await agg.acquire_lease("c1", "w1", 30)  # a restarted w1 resumes its own call
        assert not await agg.acquire_lease("c1", "w2", 30)
        assert not await agg.renew_lease("c1", "w2", 30)
        assert await agg.renew_lease("c1", "w1", 30)
        await agg.release_lease("c1", "w2")
        assert not await agg.acquire_lease("c1", "w2", 30)
        await agg.release_lease("c1", "w1")
        assert await agg.acquire_lease("c1", "w2", 30)
    finally:
        await client.aclose()


def test_aggregation_idempotent_in_real_redis(stack: Settings) -> None:
    asyncio.run(_scenario(stack))
