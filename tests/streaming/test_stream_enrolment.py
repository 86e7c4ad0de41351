"""A worker learns an agent's voice from a stereo call with a layout (automatic enrolment),
into the Redis store every worker shares, and says so in the result."""

from __future__ import annotations

import asyncio
import csv
import uuid
from pathlib import Path

import pytest

from callroles.agents.store import RedisStore
from callroles.base.redis import redis_client
from callroles.lab.settings import StackSettings
from callroles.streaming.topics import create_topics
from tests.support import calls
from tests.support.workers import Workers, stack_env

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_a_worker_enrols_the_agent_of_a_stereo_call(
    stack: StackSettings, small_corpus: Path, tmp_path: Path
) -> None:
    settings = stack.model_copy(update={"topic_prefix": f"ae{uuid.uuid4().hex[:8]}."})
    asyncio.run(create_topics(settings))
    store = RedisStore(redis_client(settings), key=f"callroles:{settings.topic_prefix}voiceprints")
    with (small_corpus / "calls.csv").open(newline="") as fh:
        stereo = next(r for r in csv.DictReader(fh) if r["channels"] == "2")
    env = stack_env(
        settings,
        CALLROLES_VOICEPRINT_STORE=settings.redis_dsn,
        CALLROLES_ALLOWED_ROOTS=f'["{small_corpus}"]',
    )
    cid = f"st-{uuid.uuid4().hex[:6]}"
    event = calls.event(
        cid, small_corpus / stereo["file"], agent_id=stereo["agent_id"], tenant="acme",
        layout="stereo-agent-left",
    )  # fmt: skip
    with Workers(settings, env, tmp_path, count=1) as group:
        group.start(0)
        group.wait_ready([0])
        calls.submit(settings, [(cid, event)])
        got = calls.gather(settings, {cid}, timeout_s=240, linger_s=2)
    results = [e for k, e in got if k == "call_result"]
    assert len(results) == 1, got
    result = results[0]
    assert {s["role_source"] for s in result["speakers"]} == {"channel"}
    assert result["enrolment"]["action"] == "enrolled", result["enrolment"]
    print_ = store.get(stereo["agent_id"], "acme")
    assert print_ is not None and print_.auto_samples == 1 and print_.sources == [cid]
    assert store.get(stereo["agent_id"]) is None  # per tenant
    assert (
        store.forget(stereo["agent_id"], "acme") and store.get(stereo["agent_id"], "acme") is None
    )
