"""Results without Kafka: ``GET /calls/{id}`` of ``callroles serve`` against the real Redis ledger.

The ledger is filled the way a worker fills it: by the call processor itself (real models, a
real recording, a missing one for the error) and, for states a worker holds only for a moment
(its lease, a try in between), by the ledger's own calls. The app is the real aiohttp app on a
test server, with the real Kafka behind ``POST /calls``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callroles import schemas
from callroles.base.redis import redis_client
from callroles.call.pipeline import Models, load_models
from callroles.lab.settings import StackSettings
from callroles.streaming.clients import key_prefix
from callroles.streaming.http import build_http_app
from callroles.streaming.ledger import Ledger
from callroles.streaming.outbox import Outbox
from callroles.streaming.privacy import for_error
from callroles.streaming.process import CallProcessor
from tests.support.calls import make_calls
from tests.support.ports import free_port
from tests.support.sink import Sink

pytestmark = pytest.mark.services

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def models() -> Models:
    return load_models(StackSettings())


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    (path,) = make_calls(tmp_path_factory.mktemp("calls"), 1, "get")
    return path


@pytest.fixture
def settings(stack: StackSettings) -> Iterator[StackSettings]:
    yield stack.model_copy(update={"topic_prefix": f"get{uuid.uuid4().hex[:8]}."})


async def _client(settings: StackSettings) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(build_http_app(settings, token=TOKEN)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def _ledger(settings: StackSettings) -> Ledger:
    return Ledger(redis_client(settings, asyncio=True), prefix=key_prefix(settings), ttl_s=600)


def test_get_answers_a_result_an_error_and_pending_from_what_the_worker_stored(
    settings: StackSettings, models: Models, recording: Path
) -> None:
    """The processor stores and queues; GET reads it back, whatever the model version."""
    sink = Sink()
    event = {"schema_version": 1, "call_id": "g-1", "recording_uri": str(recording)}
    missing = {**event, "call_id": "g-2", "recording_uri": str(recording) + ".gone"}

    async def scenario() -> dict[str, Any]:
        ledger = _ledger(settings)
        outbox = Outbox(ledger)
        seen: dict[str, Any] = {}
        with ThreadPoolExecutor(1) as pool:
            processor = CallProcessor(
                settings, models=models, ledger=ledger, executor=pool, sink=sink,
                worker="w-get", outbox=outbox,
            )  # fmt: skip
            seen["outcomes"] = [
                await processor.handle(dict(e)) for e in (event, missing, dict(event))
            ]
        seen["queued"] = [json.loads(d.body) for d in await outbox.claim(10, 60)]
        async for client in _client(settings):
            for call_id in ("g-1", "g-2"):
                resp = await client.get(f"/calls/{call_id}", headers=AUTH)
                seen[call_id] = (
                    resp.status,
                    resp.headers.get("X-Callroles-Event"),
                    await resp.json(),
                )
        await ledger.redis.aclose()
        return seen

    seen = asyncio.run(scenario())
    assert seen["outcomes"] == ["done", "error", "replay"]
    result, replay = sink.results
    assert seen["g-1"] == (200, "call_result", result)  # the stored result, not the replay mark
    schemas.validate("call_result", seen["g-1"][2])
    status, kind, error = seen["g-2"]
    assert (status, kind) == (200, "call_error")
    assert error == for_error(sink.errors[0], settings)  # without the caller's number
    assert error["code"] == "recording_missing" and schemas.is_valid("call_error", error)
    assert seen["queued"] == [result, replay]  # both published results wait for the webhook


def test_get_follows_the_calls_latest_outcome(settings: StackSettings) -> None:
    result = schemas.example("call_result", "full")
    error = schemas.example("call_error")
    cid = result["call_id"]
    error["call_id"] = cid

    ttls: list[int] = []

    async def scenario() -> list[tuple[int, Any]]:
        ledger = _ledger(settings)
        answers = []
        async for client in _client(settings):

            async def ask(client: TestClient = client) -> None:
                resp = await client.get(f"/calls/{cid}", headers=AUTH)
                answers.append((resp.status, await resp.json()))

            await ask()  # unknown
            await ledger.attempt(cid)
            await ask()  # a worker tried it: pending
            assert await ledger.acquire_lease(cid, "w-9", 30)
            await ask()  # a worker holds it: processing
            await ledger.mark_sent(cid, "v1", result, "sha")
            await ask()  # still processing while the lease is held
            await ledger.release_lease(cid, "w-9")
            await ask()  # the result
            await ledger.record_error(cid, error)
            await ask()  # a later error (another recording under this id) is the latest
            keys = ledger.keys(cid)
            ttls.extend([await ledger.redis.ttl(keys.error), await ledger.redis.ttl(keys.latest)])
            await ledger.replayed(cid, "v1")
            await ask()  # the result published again
            await ledger.mark_sent(cid, "v2", {**result, "worker": "w-v2"}, "sha")
            await ask()  # a new model version's result
            await ledger.forget(cid, "v2")
            await ask()  # reprocessing: known, no result
        await ledger.redis.aclose()
        return answers

    answers = asyncio.run(scenario())
    assert len(ttls) == 2 and all(500 < t <= 600 for t in ttls)  # the ledger's TTL, as results
    statuses = [s for s, _ in answers]
    assert statuses == [404, 202, 202, 202, 200, 200, 200, 200, 202]
    assert answers[0][1]["error"] == "not_found"
    assert answers[1][1] == {"call_id": cid, "status": "pending", "attempts": 1}
    assert answers[2][1]["status"] == answers[3][1]["status"] == "processing"
    assert answers[4][1] == result and answers[5][1] == error and answers[6][1] == result
    assert answers[7][1]["worker"] == "w-v2"
    assert answers[8][1]["status"] == "pending"


def test_post_makes_a_call_pending_and_bad_ids_and_tokens_are_refused(
    settings: StackSettings,
) -> None:
    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async for client in _client(settings):
            body = {"call_id": "p-1", "recording_uri": "/calls/p-1.gsm"}
            resp = await client.post("/calls", json=body, headers=AUTH)
            seen["post"] = resp.status
            resp = await client.get("/calls/p-1", headers=AUTH)
            seen["pending"] = (resp.status, resp.headers.get("Retry-After"), await resp.json())
            for bad in ("has%20space", "-dash", "x" * 129, "a%7Bb%7D", "a/b", "%00"):
                resp = await client.get(f"/calls/{bad}", headers=AUTH)
                seen[f"bad {bad}"] = (resp.status, (await resp.json())["error"])
            for name, headers in {
                "none": {},
                "wrong": {"Authorization": "Bearer nope"},
                "another scheme": {"Authorization": f"Basic {TOKEN}x"},
            }.items():
                resp = await client.get("/calls/p-1", headers=headers)
                seen[f"token {name}"] = resp.status
                resp = await client.get("/webhook/dead-letters", headers=headers)
                seen[f"dead token {name}"] = resp.status
            seen["health"] = (await client.get("/healthz")).status
            metrics = await client.get("/metrics")
            seen["metrics"] = (metrics.status, await metrics.text())
        return seen

    seen = asyncio.run(scenario())
    assert seen["post"] == 202
    assert seen["pending"] == (202, "5", {"call_id": "p-1", "status": "pending", "attempts": 0})
    bad = {k: v for k, v in seen.items() if k.startswith("bad ")}
    assert set(bad.values()) == {(400, "invalid_call_id")}, bad
    tokens = {k: v for k, v in seen.items() if "token" in k}
    assert set(tokens.values()) == {401}, tokens
    assert seen["health"] == 200 and seen["metrics"][0] == 200
    assert "callroles_webhook_deliveries_total" in seen["metrics"][1]


def test_dead_letters_are_listed_and_requeued_over_http(settings: StackSettings) -> None:
    result = schemas.example("call_result")

    async def scenario() -> list[Any]:
        ledger = _ledger(settings)
        outbox = Outbox(ledger)
        await outbox.enqueue(result["call_id"], "v1", json.dumps(result))
        (delivery,) = await outbox.claim(1, 60)
        await outbox.give_up(delivery, "[webhook_failed] http_5xx: the receiver answered 500")
        seen: list[Any] = []
        async for client in _client(settings):
            resp = await client.get("/webhook/dead-letters?limit=5", headers=AUTH)
            seen.append((resp.status, await resp.json()))
            path = f"/webhook/dead-letters/{delivery.id}/requeue"
            seen.append((await client.post(path, headers=AUTH)).status)
            seen.append((await client.post(path, headers=AUTH)).status)
            resp = await client.get("/webhook/dead-letters", headers=AUTH)
            seen.append((resp.status, await resp.json()))
        seen.append(await outbox.sizes())
        await ledger.redis.aclose()
        return seen

    listed, requeued, again, after, sizes = asyncio.run(scenario())
    assert listed[0] == 200 and listed[1]["count"] == 1
    (letter,) = listed[1]["dead_letters"]
    assert letter["call_id"] == result["call_id"] and letter["tries"] == 1
    assert letter["last_error"].endswith("answered 500") and "body" not in letter
    assert (requeued, again) == (200, 404)
    assert after == (200, {"count": 0, "dead_letters": []}) and sizes == (1, 0)


def test_without_redis_get_says_so_and_post_still_publishes(settings: StackSettings) -> None:
    gone = settings.model_copy(update={"redis_port": free_port()})  # nothing listens there

    async def scenario() -> tuple[int, int, str]:
        async for client in _client(gone):
            post = await client.post(
                "/calls", json={"call_id": "r-1", "recording_uri": "/c/r-1.gsm"}, headers=AUTH
            )
            get = await client.get("/calls/r-1", headers=AUTH)
            return post.status, get.status, (await get.json())["error"]
        raise AssertionError("no client")

    assert asyncio.run(scenario()) == (202, 503, "redis_unavailable")
