"""The review page in a real headless Chromium (DevTools protocol) against the real stack: a
real worker computes a real call (GSM, decoded by ffmpeg for the player), ``serve`` shows it;
the browser logs in, lists and filters, opens the call, plays it with the playhead moving,
swaps the roles, and sees the corrected revision and what it taught; a second tab opened on the
older revision is told of the conflict. The corrected result arrives on the result topic.

``CALLROLES_REVIEW_SCREENSHOT=docs/img/review.png`` also keeps a picture of the call's page.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from callroles.agents.store import RedisStore
from callroles.base.redis import redis_client
from callroles.lab.settings import StackSettings
from callroles.streaming.http import build_http_app
from callroles.streaming.topics import create_topics
from tests.support import calls
from tests.support.browser import CHROMIUM, Browser
from tests.support.ports import free_port
from tests.support.workers import Workers, stack_env

pytestmark = [
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
]
TOKEN = "review-browser-token"
SCRIPT = "<script>window.pwned=1</script>"
PHONE = "905321234567"


def _until(settings: StackSettings, call_id: str, revision: int) -> list[dict[str, Any]]:
    got: list[tuple[str, dict[str, Any]]] = []
    for _ in range(10):
        got = calls.gather(settings, {call_id}, timeout_s=60, linger_s=2)
        if any(e.get("revision", 0) == revision for _, e in got):
            return [e for _, e in got]
    raise AssertionError(f"no revision {revision} of {call_id}: {got}")


async def _browse(
    settings: StackSettings, call_id: str, profile: Path, shot: Path
) -> dict[str, Any]:
    port = free_port()
    runner = web.AppRunner(build_http_app(settings, token=TOKEN))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    seen: dict[str, Any] = {}
    try:
        async with Browser(profile) as browser:
            tab = await browser.tab()
            await tab.goto(f"{base}/review")
            seen["asked to log in"] = await tab.eval("location.pathname")
            await tab.eval("document.getElementById('token').value = 'wrong'")
            await tab.click("#login")
            seen["wrong token"] = await tab.until(
                "document.getElementById('login-error')?.textContent"
            )
            await tab.eval(f"document.getElementById('token').value = {json.dumps(TOKEN)}")
            await tab.click("#login")
            await tab.until("!!document.getElementById('calls')")
            seen["rows"] = await tab.eval(
                "[...document.querySelectorAll('tr.call')].map(r => r.dataset.callId)"
            )
            await tab.goto(f"{base}/review?source=voiceprint")
            seen["rows voiceprint"] = await tab.eval("document.querySelectorAll('tr.call').length")
            await tab.goto(f"{base}/review?source=model&agent=QA1")
            await tab.until("!!document.querySelector('tr.call a')")
            await tab.click("tr.call a")
            await tab.until("!!document.getElementById('timeline')")
            stale = await browser.tab()  # opened on revision 0, used after revision 1 exists
            await stale.goto(f"{base}/review/calls/{call_id}")
            seen["page"] = await tab.eval("document.documentElement.outerHTML")
            seen["pwned"] = await tab.eval("window.pwned === undefined")
            seen["lanes"] = await tab.eval(
                "[...document.querySelectorAll('#timeline .lane')].map(l => "
                "[l.dataset.speaker || l.dataset.lane, l.dataset.role || '', "
                "l.querySelectorAll('.seg').length])"
            )
            await tab.eval("document.getElementById('player').play()")
            seen["played to"] = await tab.until(
                "document.getElementById('player').currentTime > 1 && "
                "parseFloat(document.getElementById('playhead').dataset.t)",
                30,
            )
            await tab.eval("document.getElementById('player').pause()")
            seen["agent before"] = await tab.eval("document.querySelector('#swap').dataset.agent")
            await tab.click("#swap")
            seen["revision after"] = await tab.until(
                "document.getElementById('revision')?.textContent === '1' && "
                "document.getElementById('taught').textContent",
                240,
            )
            seen["roles after"] = await tab.eval(
                "Object.fromEntries([...document.querySelectorAll('#speakers tbody tr')].map(r => "
                "[r.dataset.speaker, r.querySelector('.role').textContent]))"
            )
            seen["revision rows"] = await tab.eval(
                "document.querySelectorAll('#revisions tbody tr').length"
            )
            await tab.screenshot(shot)
            await stale.click("button[data-agent]")
            seen["conflict"] = await stale.until(
                "document.getElementById('status').dataset.state === 'error' && "
                "document.getElementById('status').textContent"
            )
            await tab.goto(f"{base}/review/calls/no-such-call")
            seen["unknown"] = await tab.eval("document.getElementById('problem').textContent")
            seen["errors"] = tab.errors + stale.errors
    finally:
        await runner.cleanup()
    return seen


def test_a_qa_person_reviews_plays_and_corrects_a_call(
    stack: StackSettings, tmp_path: Path
) -> None:
    (recording,) = calls.make_calls(tmp_path / "calls", 1, "review")
    settings = stack.model_copy(update={
        "topic_prefix": f"rvb{uuid.uuid4().hex[:8]}.",
        "allowed_roots": (str(recording.parent),),
        "result_metadata": ("note", "caller"),
    })  # fmt: skip
    asyncio.run(create_topics(settings))
    url = settings.redis_dsn
    store = RedisStore(
        redis_client(settings, url=url), f"callroles:{settings.topic_prefix}voiceprints"
    )
    call_id = f"rvb-{uuid.uuid4().hex[:6]}"
    env = stack_env(
        settings,
        CALLROLES_VOICEPRINT_STORE=url,
        CALLROLES_ALLOWED_ROOTS=json.dumps([str(recording.parent)]),
        CALLROLES_RESULT_METADATA='["note", "caller"]',
    )
    shot = tmp_path / "review.png"
    with Workers(settings, env, tmp_path, count=1) as group:
        group.start(0)
        group.wait_ready([0])
        event = calls.event(
            call_id, recording, agent_id="QA1", metadata={"note": SCRIPT, "caller": PHONE}
        )
        calls.submit(settings, [(call_id, event)])
        (first,) = _until(settings, call_id, 0)
        seen = asyncio.run(_browse(settings, call_id, tmp_path / "profile", shot))
        got = _until(settings, call_id, 1)
    store.forget("QA1")
    if os.environ.get("CALLROLES_REVIEW_SCREENSHOT"):
        shutil.copy(shot, os.environ["CALLROLES_REVIEW_SCREENSHOT"])

    assert seen["asked to log in"] == "/review/login"
    assert seen["wrong token"] == "wrong token"
    assert call_id in seen["rows"]
    assert seen["rows voiceprint"] == 0
    assert (
        SCRIPT not in seen["page"] and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in seen["page"]
    )
    assert seen["pwned"] is True
    assert PHONE not in seen["page"]
    lanes = {name: (role, n) for name, role, n in seen["lanes"]}
    for s in first["speakers"]:
        assert lanes[s["speaker"]] == (s["role"], len(s["segments"]))
    assert seen["played to"] > 0.5  # the playhead follows the player
    assert seen["agent before"] == first["customer_speaker"]
    corrected = next(e for e in got if e.get("revision") == 1)
    assert corrected["agent_speaker"] == first["customer_speaker"]
    assert {s["role_source"] for s in corrected["speakers"]} == {"correction"}
    assert seen["roles after"][first["customer_speaker"]] == "agent"
    assert seen["roles after"][first["agent_speaker"]] == "customer"
    enrol = corrected.get("enrolment")
    taught = seen["revision after"]
    assert (enrol is not None and str(enrol["action"]) in taught) or "Taught nothing" in taught
    assert seen["revision rows"] == 2
    assert "conflict" in seen["conflict"] and "revision 1 now" in seen["conflict"]
    assert "No call with this id" in seen["unknown"]
    assert seen["errors"] == []
    assert shot.stat().st_size > 10_000
