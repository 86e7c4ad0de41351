"""Corrections through a worker: ``callroles agents correct`` (the real CLI, a subprocess) and
``POST /calls/{id}/correction`` on ``serve``, a real Kafka, Redis and worker, a real call.

Call01 (Callytics, agent CSR01, who has no print) is first decided by the model. A QA person
names the agent's speaker: the call comes back as revision 1, decided by the correction, and the
correction enrols CSR01's print. Undone over HTTP: revision 2 is the model's again and the print
it made is gone. Bad corrections get their typed answer and change nothing; nothing is lost or
duplicated (one event per call id and revision).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callroles.agents.store import RedisStore
from callroles.base.redis import redis_client
from callroles.lab.settings import StackSettings
from callroles.streaming.http import build_http_app
from callroles.streaming.topics import create_topics
from tests.agents.test_recurrence_real import CALLYTICS, _agent_speaker
from tests.agents.test_recurrence_real import pytestmark as needs_real_calls
from tests.support import calls
from tests.support.workers import Workers, stack_env

pytestmark = [pytest.mark.services, pytest.mark.slow, needs_real_calls]
CALL = CALLYTICS / "Call01.wav"


def _until(settings: StackSettings, call_id: str, revision: int) -> list[dict[str, Any]]:
    """Every event of ``call_id`` once one with ``revision`` arrived (0: the first result)."""
    for _ in range(20):
        got = calls.gather(settings, {call_id}, timeout_s=60, linger_s=3)
        if any(e.get("revision", 0) == revision for _, e in got):
            return [e for _, e in got]
    raise AssertionError(f"no revision {revision} of {call_id}: {got}")


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callroles", "agents", "correct", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


async def _post(settings: StackSettings, call_id: str, body: dict[str, Any]) -> tuple[int, Any]:
    client = TestClient(TestServer(build_http_app(settings)))
    await client.start_server()
    try:
        resp = await client.post(f"/calls/{call_id}/correction", json=body)
        return resp.status, await resp.json()
    finally:
        await client.close()


def test_a_correction_is_published_as_a_revision_teaches_the_print_and_is_undone(
    stack: StackSettings, tmp_path: Path
) -> None:
    settings = stack.model_copy(update={"topic_prefix": f"fix{uuid.uuid4().hex[:8]}."})
    asyncio.run(create_topics(settings))
    url = settings.redis_dsn
    store = RedisStore(
        redis_client(settings, url=url), f"callroles:{settings.topic_prefix}voiceprints"
    )
    call_id = f"call01-{uuid.uuid4().hex[:6]}"
    env = stack_env(
        settings, CALLROLES_VOICEPRINT_STORE=url, CALLROLES_ALLOWED_ROOTS=f'["{CALLYTICS}"]'
    )
    with Workers(settings, env, tmp_path, count=1) as group:
        group.start(0)
        group.wait_ready([0])
        calls.submit(settings, [(call_id, calls.event(call_id, CALL, agent_id="CSR01"))])
        (first,) = _until(settings, call_id, 0)
        assert {s["role_source"] for s in first["speakers"]} == {"model"}
        agent = _agent_speaker(first, CALL.with_suffix(".rttm"))

        done = _cli(env, call_id, "--agent-speaker", agent, "--by", "qa-test")
        assert done.returncode == 0, done.stderr
        corrected = next(e for e in _until(settings, call_id, 1) if e.get("revision") == 1)
        made = store.get("CSR01")

        status, answer = asyncio.run(_post(settings, call_id, {"undo": True}))
        assert status == 202, answer
        got = _until(settings, call_id, 2)
        undone = next(e for e in got if e.get("revision") == 2)
        after_undo = store.get("CSR01")

        bad = {
            "unknown call": asyncio.run(_post(settings, "no-such-call", {"agent_speaker": "S0"})),
            "unknown speaker": asyncio.run(_post(settings, call_id, {"agent_speaker": "S9"})),
            "nothing to undo": asyncio.run(_post(settings, call_id, {"undo": True})),
            "no body": asyncio.run(_post(settings, call_id, {})),
        }
        unknown = _cli(env, "no-such-call", "--agent-speaker", "S0")
        quiet = calls.gather(settings, {call_id}, timeout_s=10, linger_s=10)
    store.forget("CSR01")

    assert corrected["agent_speaker"] == agent
    assert {s["role_source"] for s in corrected["speakers"]} == {"correction"}
    assert corrected["enrolment"]["action"] == "enrolled"
    assert corrected["enrolment"]["reason"] == "correction"
    assert made is not None and made.learnt_from == "correction"

    assert {s["role_source"] for s in undone["speakers"]} == {"model"}
    assert undone["enrolment"]["action"] == "withdrawn"
    assert after_undo is None  # the print was the correction's alone

    assert bad["unknown call"][0] == 404
    assert bad["unknown call"][1]["error"] == "correction_unknown_call"
    assert bad["unknown speaker"][0] == 422
    assert bad["nothing to undo"][0] == 409  # the kept event carries no withdrawn correction
    assert bad["no body"][0] == 400
    assert unknown.returncode == 1 and "[correction_unknown_call]" in unknown.stderr

    revisions = [e.get("revision", 0) for _, e in quiet]
    assert sorted(revisions) == [0, 1, 2]  # nothing lost, nothing duplicated, no more
    assert [k for k, _ in quiet] == ["call_result"] * 3
