"""The review page's answers to bad input, on the real ``serve`` app (real Redis ledger, real
Kafka behind the correction), without a browser: wrong and expired logins, an unknown call id,
a recording that is gone, a correction made on an older revision, a script in a metadata field,
a phone number in metadata, and the list's filters and paging."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callroles.base.redis import redis_client
from callroles.lab.settings import StackSettings
from callroles.streaming.clients import key_prefix
from callroles.streaming.http import build_http_app
from callroles.streaming.ledger import Ledger
from callroles.streaming.review.auth import COOKIE, session_value
from callroles.streaming.topics import create_topics

pytestmark = pytest.mark.services

TOKEN = "review-token-1"
SCRIPT = "<script>window.pwned=1</script>"
PHONE = "905321234567"


def _result(call_id: str, seconds_ago: int, **extra: Any) -> dict[str, Any]:
    r = json.loads(
        resources.files("callroles.schemas")
        .joinpath("examples/call_result.full.v1.json")
        .read_text()
    )
    at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    r.update({"call_id": call_id, "produced_at": at.isoformat().replace("+00:00", "Z"), **extra})
    return r


async def _with_app(
    settings: StackSettings, tmp: Path, check: Callable[[TestClient, Ledger], Awaitable[None]]
) -> None:
    ledger = Ledger(redis_client(settings, asyncio=True), prefix=key_prefix(settings), ttl_s=600)
    app = build_http_app(settings, token=TOKEN)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await check(client, ledger)
    finally:
        await client.close()
        await ledger.redis.aclose()


def test_bad_input_is_answered_and_escaped(
    stack: StackSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="callroles.streaming.review")
    recording = tmp_path / "calls" / "here.wav"
    recording.parent.mkdir()
    header = (
        "52494646240000005741564566 6d74201000000001000100401f0000803e0000020010006461746100000000"
    )
    recording.write_bytes(bytes.fromhex(header.replace(" ", "")))  # an empty PCM WAV
    settings = stack.model_copy(update={
        "topic_prefix": f"rvh{uuid.uuid4().hex[:8]}.",
        "allowed_roots": (str(recording.parent),),
    })  # fmt: skip
    asyncio.run(create_topics(settings))
    seen: dict[str, Any] = {}

    async def check(client: TestClient, ledger: Ledger) -> None:
        here = _result("rv-here", 2, metadata={"note": SCRIPT, "caller": PHONE})
        gone = _result("rv-gone", 1, flags=["roles_uncertain"])
        for r, path in ((here, recording), (gone, tmp_path / "calls" / "gone.gsm")):
            event = {"schema_version": 1, "call_id": r["call_id"], "recording_uri": str(path)}
            await ledger.mark_sent(r["call_id"], r["model"]["version"], r, "0" * 64, "", event)
        for n in range(60):  # older calls: a second page
            old = _result(f"rv-old-{n:02d}", 100 + n)
            await ledger.mark_sent(old["call_id"], old["model"]["version"], old, "0" * 64)

        seen["no login"] = (await client.get("/review", allow_redirects=False)).status
        seen["wrong bearer"] = (
            await client.get(
                "/review", headers={"Authorization": "Bearer nope"}, allow_redirects=False
            )
        ).status
        seen["wrong token form"] = (
            await client.post("/review/login", data={"token": "nope"}, allow_redirects=False)
        ).status
        expired = session_value(TOKEN, int(time.time()) - 10)
        seen["expired cookie"] = (
            await client.get("/review", cookies={COOKIE: expired}, allow_redirects=False)
        ).status
        other = session_value("another-token", int(time.time()) + 100)
        seen["cookie of another token"] = (
            await client.get("/review", cookies={COOKIE: other}, allow_redirects=False)
        ).status
        login = await client.post("/review/login", data={"token": TOKEN}, allow_redirects=False)
        seen["login"] = (login.status, login.headers.get("Location"),
                         "HttpOnly" in login.headers.get("Set-Cookie", ""))  # fmt: skip
        first = await (await client.get("/review")).text()  # the cookie jar has the session
        seen["first page"] = first
        assert "id='older'" in first, first[-3000:]
        older = first.split("id='older' href='")[1].split("'")[0].replace("&amp;", "&")
        seen["second page"] = await (await client.get(older)).text()
        seen["flagged"] = await (await client.get("/review?flag=roles_uncertain")).text()
        seen["bad filter"] = (await client.get("/review?below=abc")).status
        page = await client.get("/review/calls/rv-here")
        seen["call page"] = (page.status, await page.text())
        seen["unknown call"] = (await client.get("/review/calls/no-such-call")).status
        gone_page = await client.get("/review/calls/rv-gone")
        seen["gone page"] = await gone_page.text()
        seen["gone audio"] = (await client.get("/review/calls/rv-gone/audio")).status
        audio = await client.get("/review/calls/rv-here/audio", headers={"Range": "bytes=0-3"})
        seen["audio range"] = (audio.status, await audio.read())
        stale = await client.post("/review/calls/rv-here/correction",
                                  json={"agent_speaker": "S1", "revision": 3})  # fmt: skip
        seen["stale"] = (stale.status, await stale.json())
        fresh = await client.post("/review/calls/rv-here/correction",
                                  json={"agent_speaker": "S1", "revision": 0})  # fmt: skip
        seen["fresh"] = (fresh.status, await fresh.json())
        unknown = await client.post("/review/calls/no-such-call/correction",
                                    json={"agent_speaker": "S1", "revision": 0})  # fmt: skip
        seen["unknown correction"] = unknown.status

    asyncio.run(_with_app(settings, tmp_path, check))

    assert seen["no login"] == 303 and seen["wrong bearer"] == 303
    assert seen["wrong token form"] == 401
    assert seen["expired cookie"] == 303 and seen["cookie of another token"] == 303
    assert seen["login"] == (303, "/review", True)
    rows = [r.split("'")[0] for r in seen["first page"].split("data-call-id='")[1:]]
    assert rows[:2] == ["rv-gone", "rv-here"] and len(rows) == 50  # newest first
    second = [r.split("'")[0] for r in seen["second page"].split("data-call-id='")[1:]]
    assert len(second) == 12 and not set(second) & set(rows)
    flagged = [r.split("'")[0] for r in seen["flagged"].split("data-call-id='")[1:]]
    assert flagged == ["rv-gone"]
    assert seen["bad filter"] == 400
    status, text = seen["call page"]
    assert status == 200
    assert SCRIPT not in text and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in text
    assert PHONE not in text  # hashed like the logs
    assert "model_disagrees_with_voiceprint</b>: the agent&#x27;s voiceprint names" in text
    assert seen["unknown call"] == 404
    assert "the recording is gone" in seen["gone page"]
    assert seen["gone audio"] == 410
    assert seen["audio range"] == (206, b"RIFF")
    assert seen["stale"][0] == 409 and seen["stale"][1]["error"] == "revision_conflict"
    assert seen["fresh"][0] == 202
    assert seen["fresh"][1]["event"]["correction"]["agent_speaker"] == "S1"
    assert seen["unknown correction"] == 404
    logged = caplog.text
    for line in (
        "review: GET /review/calls/rv-here -> 200",
        "review: GET /review -> 303",
        "review: POST /review/calls/rv-here/correction -> 409",
        "login refused",
    ):
        assert line in logged  # every page action is logged
