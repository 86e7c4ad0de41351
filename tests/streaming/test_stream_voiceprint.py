"""A worker finds an enrolled agent's voice: the real Callytics calls through Kafka and Redis.

The agent CSR01 is enrolled into the Redis voiceprint store the worker is configured with
(``CALLROLES_VOICEPRINT_STORE``); each call-finished event names ``agent_id: CSR01``. The
result must give the agent role to the speaker the human annotation calls the agent, decided by
the voiceprint.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from callroles.agents.store import RedisStore
from callroles.base.redis import redis_client
from callroles.call.pipeline import load_models
from callroles.lab.settings import StackSettings
from callroles.streaming.topics import create_topics
from tests.support import calls
from tests.support.workers import Workers, stack_env
from tests.test_voiceprints import CALLYTICS, _agent_in_reference, _enrol, needs_callytics

pytestmark = [pytest.mark.services, pytest.mark.slow, needs_callytics]


def test_a_worker_decides_roles_by_the_enrolled_voice(stack: StackSettings, tmp_path: Path) -> None:
    settings = stack.model_copy(update={"topic_prefix": f"vp{uuid.uuid4().hex[:8]}."})
    asyncio.run(create_topics(settings))
    url = settings.redis_dsn
    store = RedisStore(
        redis_client(settings, url=url), key=f"callroles:{settings.topic_prefix}voiceprints"
    )
    store.put(_enrol(load_models(StackSettings()), [CALLYTICS / "CSR01.wav"]))
    env = stack_env(
        settings,
        CALLROLES_VOICEPRINT_STORE=url,
        CALLROLES_ALLOWED_ROOTS=f'["{CALLYTICS}"]',
    )
    ids = {"Call01": f"c01-{uuid.uuid4().hex[:6]}", "Call02": f"c02-{uuid.uuid4().hex[:6]}"}
    with Workers(settings, env, tmp_path, count=1) as group:
        group.start(0)
        group.wait_ready([0])
        calls.submit(
            settings,
            [(cid, calls.event(cid, CALLYTICS / f"{c}.wav", agent_id="CSR01"))
             for c, cid in ids.items()],
        )  # fmt: skip
        got = calls.gather(settings, set(ids.values()), timeout_s=300, linger_s=3)
    store.forget("CSR01")
    by_id = {e["call_id"]: e for k, e in got if k == "call_result"}
    assert set(by_id) == set(ids.values()), got
    for call, cid in ids.items():
        result = by_id[cid]
        speakers = result["speakers"]
        assert {s["role_source"] for s in speakers} == {"voiceprint"}, speakers
        truth = {
            s["speaker"]: _agent_in_reference(CALLYTICS / f"{call}.rttm", s["segments"])
            for s in speakers
        }
        assert result["agent_speaker"] == max(truth, key=lambda k: truth[k]), (call, speakers)
