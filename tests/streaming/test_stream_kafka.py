"""Publishing and reading events on the real broker: topics, submit, HTTP ingest, tail."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callroles import schemas
from callroles.lab.settings import StackSettings
from callroles.streaming.http import build_http_app
from callroles.streaming.submit import event_for_file, publish
from callroles.streaming.tail import events, format_row
from callroles.streaming.topics import create_topics

pytestmark = pytest.mark.services


def _isolated(stack: StackSettings) -> StackSettings:
    return stack.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:8]}.", "partitions": 3})


async def _read(settings: StackSettings, n: int) -> list[dict]:
    got: list[dict] = []
    async for _kind, event in events(
        settings, ("call_finished",), from_beginning=True, idle_timeout_s=10
    ):
        got.append(event)
        if len(got) == n:
            break
    return got


def test_topics_submit_and_http(stack: StackSettings, tmp_path: Path) -> None:

    settings = _isolated(stack)
    rec = tmp_path / "c-42.wav"
    rec.write_bytes(b"RIFF")

    async def scenario() -> None:
        created = await create_topics(settings)
        assert set(created.values()) == {"created"} and len(created) == 3
        again = await create_topics(settings)
        assert set(again.values()) == {"exists"}
        metas = await publish(settings, [event_for_file(rec)])
        assert metas[0].topic == schemas.topic_name("call_finished", settings.topic_prefix)

        client = TestClient(TestServer(build_http_app(settings, token="s3cret")))
        await client.start_server()
        try:
            auth = {"Authorization": "Bearer s3cret"}
            body = {"call_id": "c-43", "recording_uri": "/calls/c-43.gsm", "agent_id": "A1"}
            resp = await client.post("/calls", json=body, headers=auth)
            assert resp.status == 202
            assert (await resp.json())["call_id"] == "c-43"
            resp = await client.post("/calls", json=body)
            assert resp.status == 401
            resp = await client.post("/calls", json={"call_id": "c 44"}, headers=auth)
            assert resp.status == 400
            problem = await resp.json()
            assert problem["error"] == "schema_invalid" and "recording_uri" in problem["message"]
            resp = await client.post("/calls", data=b"{nope", headers=auth)
            assert resp.status == 400 and (await resp.json())["error"] == "not_json"
        finally:
            await client.close()

        got = await _read(settings, 2)
        assert [e["call_id"] for e in got if e["call_id"] == "c-42"] == ["c-42"]
        assert any(e["call_id"] == "c-43" and e["agent_id"] == "A1" for e in got)
        assert len(got) == 2  # the refused posts never reached Kafka
        for e in got:
            schemas.validate("call_finished", e)

    asyncio.run(scenario())


def test_tail_rows() -> None:
    result = schemas.example("call_result")
    row = format_row("call_result", result)
    assert result["call_id"] in row and "151.4" in row and "gender" in row
    err = format_row("call_error", schemas.example("call_error"))
    assert "ERROR decode/audio_decode" in err
    json.dumps(result)


def test_cli_topics_submit_watch(stack: StackSettings, tmp_path: Path) -> None:
    """The commands as a user runs them: topics create, submit, watch --once."""

    settings = _isolated(stack)
    env = {
        **os.environ,
        "CALLROLES_KAFKA_PORT": str(settings.kafka_port),
        "CALLROLES_REDIS_PORT": str(settings.redis_port),
        "CALLROLES_TOPIC_PREFIX": settings.topic_prefix,
    }

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "callroles", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    out = cli("topics", "create", "--partitions", "2")
    assert f"{settings.topic_prefix}callroles.call-finished.v1\tcreated" in out
    rec = tmp_path / "c-7.gsm"
    rec.write_bytes(b"\xd0" * 33)
    assert cli("submit", str(rec), "--agent-id", "A9").startswith("c-7\tpartition=")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "out-A017-905551112233-20261123-091402-1700000000.42.wav").write_bytes(b"RIFF")
    out = cli("watch", str(inbox), "--pattern", "asterisk", "--interval", "0.2", "--once")
    assert json.loads(out.splitlines()[0])["submitted"] == "1700000000.42"
    got = asyncio.run(_read(settings, 2))
    assert {e["call_id"] for e in got} == {"c-7", "1700000000.42"}
    assert next(e for e in got if e["call_id"] == "c-7")["agent_id"] == "A9"
