"""Earlier calls set right through a worker: an agent with no print, three mono calls; the
third shows which voice recurs, its result says the print was learnt from all three, and the
first two are published again, decided by the learnt voice, with ``revision: 1``.

Real voices: the two real Callytics calls (agent CSR01 and, by all appearances, one customer in
both: alone they teach nothing) and a third call of CSR01's own sample with a LibriSpeech
reader (``callroles.lab.simulate.mixed``). Nothing is lost or duplicated: one first result per
call, one revision per early call.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from callroles.agents.store import RedisStore
from callroles.base.redis import redis_client
from callroles.lab.settings import StackSettings
from callroles.lab.simulate.mixed import mixed_call
from callroles.streaming.topics import create_topics
from tests.agents.test_recurrence_real import CALLYTICS, READER, _agent_speaker
from tests.agents.test_recurrence_real import pytestmark as needs_real_calls
from tests.support import calls
from tests.support.workers import Workers, stack_env

pytestmark = [pytest.mark.services, pytest.mark.slow, needs_real_calls]


def test_a_learnt_print_publishes_revisions_of_the_calls_that_taught_it(
    stack: StackSettings, tmp_path: Path
) -> None:
    settings = stack.model_copy(update={"topic_prefix": f"rev{uuid.uuid4().hex[:8]}."})
    asyncio.run(create_topics(settings))
    url = settings.redis_dsn
    store = RedisStore(
        redis_client(settings, url=url), f"callroles:{settings.topic_prefix}voiceprints"
    )
    third = mixed_call(
        tmp_path / "Call03.wav", CALLYTICS / "CSR01.wav", sorted(READER.glob("*.flac"))[:2],
        agent_id="CSR01", customer_id="2609", seed=3,
    )  # fmt: skip
    files = {
        "Call01": CALLYTICS / "Call01.wav",
        "Call02": CALLYTICS / "Call02.wav",
        "Call03": third,
    }
    ids = {name: f"{name.lower()}-{uuid.uuid4().hex[:6]}" for name in files}
    env = stack_env(
        settings,
        CALLROLES_VOICEPRINT_STORE=url,
        CALLROLES_ALLOWED_ROOTS=f'["{CALLYTICS}", "{tmp_path}"]',
    )
    want_revisions = {ids["Call01"], ids["Call02"]}
    with Workers(settings, env, tmp_path, count=1) as group:
        group.start(0)
        group.wait_ready([0])
        for name in files:  # one after the other, as the calls end
            event = calls.event(ids[name], files[name], agent_id="CSR01")
            calls.submit(settings, [(ids[name], event)])
            calls.gather(settings, {ids[name]}, timeout_s=300, linger_s=0)
        for _ in range(30):  # the revisions follow the third call's result
            got = calls.gather(settings, set(ids.values()), timeout_s=60, linger_s=10)
            if sum("revision" in e for _, e in got) >= len(want_revisions):
                break
    learnt = store.get("CSR01")
    store.forget("CSR01")
    results = [e for k, e in got if k == "call_result"]
    assert [e for k, e in got if k == "call_error"] == []
    firsts = {e["call_id"]: e for e in results if "revision" not in e}
    revisions = [e for e in results if "revision" in e]
    assert set(firsts) == set(ids.values())
    made = firsts[ids["Call03"]]
    assert made["enrolment"]["reason"] == "recurring"
    assert made["enrolment"]["calls"] == [ids["Call01"], ids["Call02"], ids["Call03"]]
    assert learnt is not None and learnt.learnt_from == "recurring"
    assert sorted(e["call_id"] for e in revisions) == sorted(want_revisions)  # once each
    for e in revisions:
        name = next(n for n, cid in ids.items() if cid == e["call_id"])
        assert e["revision"] == 1
        assert {s["role_source"] for s in e["speakers"]} == {"voiceprint"}
        assert e["agent_speaker"] == _agent_speaker(e, files[name].with_suffix(".rttm"))
        assert {s["role_source"] for s in firsts[e["call_id"]]["speakers"]} == {"model"}
