"""The call processor in-process, against the real Redis and the shipped models (no Kafka).

What streaming adds to ``run_call`` is tested here directly: one result per call and model
version, a typed error event for a bad recording, in-process retries, and giving the claim back
when publishing fails, so that a redelivered event can still publish its result.
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from callroles import schemas
from callroles.base.redis import redis_client
from callroles.call.pipeline import Models, load_models
from callroles.lab.settings import StackSettings
from callroles.streaming.clients import key_prefix
from callroles.streaming.ledger import Ledger
from callroles.streaming.process import CallProcessor
from tests.support.sink import Sink

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def models() -> Models:
    return load_models(StackSettings())


def _settings(stack: StackSettings) -> StackSettings:
    return stack.model_copy(
        update={
            "topic_prefix": f"proc{uuid.uuid4().hex[:8]}.",
            "call_retries": 1,
            "call_retry_backoff_s": 0.05,
            "lease_ttl_s": 5,
        }
    )


async def _run(
    settings: StackSettings,
    models: Models,
    sink: Sink,
    events: list[Any],
    sources: list[str | None] | None = None,
) -> tuple[list[str], Ledger]:
    redis = redis_client(settings, asyncio=True)
    ledger = Ledger(redis, prefix=key_prefix(settings), ttl_s=600)
    if sink.ledger is None:
        sink.ledger = ledger
    with ThreadPoolExecutor(1) as pool:
        processor = CallProcessor(
            settings, models=models, ledger=ledger, executor=pool, sink=sink, worker="w-test"
        )
        where = sources or [None] * len(events)
        outcomes = [await processor.handle(e, w) for e, w in zip(events, where, strict=True)]
    return outcomes, ledger


def _event(call_id: str, path: Path) -> dict[str, Any]:
    return {"schema_version": 1, "call_id": call_id, "recording_uri": str(path)}


def test_a_resubmitted_call_gets_its_stored_result_again_marked_replay(
    stack: StackSettings, models: Models, small_corpus: Path
) -> None:
    settings = _settings(stack)
    audio = next((small_corpus / "audio").glob("call00001.*"))
    sink = Sink()

    async def scenario() -> tuple[list[str], Any, str | None]:
        outcomes, ledger = await _run(
            settings, models, sink, [_event("c1", audio), _event("c1", audio)]
        )
        stored = await ledger.stored("c1", models.model_version)
        done = await ledger.redis.get(ledger.keys("c1", models.model_version).done)
        await ledger.redis.aclose()
        return outcomes, stored, done

    outcomes, stored, done = asyncio.run(scenario())
    assert outcomes == ["done", "replay"]
    assert len(sink.results) == 2 and not sink.errors
    result, replay = sink.results
    assert result["call_id"] == "c1" and result["worker"] == "w-test"
    assert "replay" not in result
    assert {s["role"] for s in result["speakers"]} == {"agent", "customer"}
    assert "fetch" in result["latency_s"] and "frontend" in result["latency_s"]
    assert done == "sent" and stored is not None and stored.result == result
    assert len(stored.recording_sha256) == 64  # the recording's SHA-256 is kept with the result
    # the same content, marked as a replay (and still a valid call_result.v1)
    schemas.validate("call_result", replay)
    assert replay["replay"] is True and "replayed_at" in replay
    same = {k: v for k, v in replay.items() if k not in ("replay", "replayed_at")}
    assert same == result


def test_a_different_recording_under_a_used_call_id_is_a_conflict_unless_reprocess(
    stack: StackSettings, models: Models, small_corpus: Path
) -> None:
    settings = _settings(stack)
    first = next((small_corpus / "audio").glob("call00004.*"))
    other = next((small_corpus / "audio").glob("call00002.*"))
    sink = Sink()
    again = {**_event("c4", other), "reprocess": True}
    events = [_event("c4", first), _event("c4", other), again]

    async def scenario() -> tuple[list[str], Any]:
        outcomes, ledger = await _run(settings, models, sink, events)
        stored = await ledger.stored("c4", models.model_version)
        await ledger.redis.aclose()
        return outcomes, stored

    outcomes, stored = asyncio.run(scenario())
    assert outcomes == ["done", "error", "done"]
    (conflict,) = sink.errors
    assert conflict["code"] == "call_id_conflict" and conflict["stage"] == "ingest"
    assert conflict["retryable"] is False
    first_result, second_result = sink.results
    assert "replay" not in second_result
    assert first_result["duration_s"] != second_result["duration_s"]  # another recording
    assert stored is not None and stored.result == second_result  # reprocess replaced it


def test_a_bad_recording_is_one_typed_error_and_not_retried(
    stack: StackSettings, models: Models, tmp_path: Path
) -> None:
    settings = _settings(stack)
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not a recording\n" * 50)
    sink = Sink()

    async def scenario() -> tuple[list[str], str | None]:
        outcomes, ledger = await _run(
            settings, models, sink, [_event("bad", not_audio), {"call_id": 3}]
        )
        attempts = await ledger.redis.get(ledger.keys("bad").attempts)
        await ledger.redis.aclose()
        return outcomes, attempts

    outcomes, attempts = asyncio.run(scenario())
    assert outcomes == ["error", "error"]
    assert not sink.results
    decode, schema = sink.errors
    assert decode["call_id"] == "bad" and decode["stage"] == "decode"
    assert decode["code"] == "audio_undecodable" and decode["retryable"] is False
    assert attempts == "1"  # a problem with the call itself is final: no second try
    assert schema["stage"] == "ingest" and schema["code"] == "schema_invalid"


def test_a_failed_send_gives_the_claim_back_and_the_retry_publishes(
    stack: StackSettings, models: Models, small_corpus: Path
) -> None:
    settings = _settings(stack)
    audio = next((small_corpus / "audio").glob("call00002.*"))
    sink = Sink(fail_results=1)

    async def scenario() -> tuple[list[str], str | None, str | None]:
        outcomes, ledger = await _run(settings, models, sink, [_event("c2", audio)])
        done = await ledger.redis.get(ledger.keys("c2", models.model_version).done)
        attempts = await ledger.redis.get(ledger.keys("c2").attempts)
        await ledger.redis.aclose()
        return outcomes, done, attempts

    outcomes, done, attempts = asyncio.run(scenario())
    assert outcomes == ["done"]
    assert len(sink.results) == 1 and not sink.errors
    # each try claimed afresh: the failed one had given its claim back
    assert sink.done_at_send == ["claimed:w-test", "claimed:w-test"]
    assert attempts == "2" and done == "sent"


def test_sends_failing_past_the_retries_leave_the_call_unclaimed(
    stack: StackSettings, models: Models, small_corpus: Path
) -> None:
    settings = _settings(stack)
    audio = next((small_corpus / "audio").glob("call00003.*"))
    sink = Sink(fail_results=5)

    async def scenario() -> tuple[list[str], int]:
        outcomes, ledger = await _run(settings, models, sink, [_event("c3", audio)])
        done = await ledger.redis.exists(ledger.keys("c3", models.model_version).done)
        await ledger.redis.aclose()
        return outcomes, int(done)

    outcomes, done = asyncio.run(scenario())
    assert outcomes == ["error"] and not sink.results
    (error,) = sink.errors
    assert error["stage"] == "result" and error["code"] == "internal"
    assert error["retryable"] is True and error["attempt"] == 2
    assert done == 0  # a redelivered event may still publish the result


def test_kafka_redelivering_the_answered_message_is_a_silent_duplicate(
    stack: StackSettings, models: Models, small_corpus: Path
) -> None:
    """A crash between publishing and committing makes Kafka deliver the same message again:
    that is no re-submission, so nothing is published; the same call in a new message is."""
    settings = _settings(stack)
    audio = next((small_corpus / "audio").glob("call00005.*"))
    sink = Sink()
    events = [_event("c5", audio)] * 3
    sources = ["calls:0:7", "calls:0:7", "calls:1:42"]

    async def scenario() -> list[str]:
        outcomes, ledger = await _run(settings, models, sink, events, sources)
        await ledger.redis.aclose()
        return outcomes

    assert asyncio.run(scenario()) == ["done", "duplicate", "replay"]
    assert [bool(r.get("replay")) for r in sink.results] == [False, True]


def test_a_claim_left_by_a_dead_publisher_is_waited_out_not_skipped(
    stack: StackSettings, models: Models, small_corpus: Path
) -> None:
    """A worker killed between claiming a result and publishing it leaves a claim that expires;
    the call must then be processed, not dropped as a duplicate (its offset would be committed
    and the call lost)."""
    settings = _settings(stack)
    audio = next((small_corpus / "audio").glob("call00002.*"))
    sink = Sink()

    async def scenario() -> list[str]:
        redis = redis_client(settings, asyncio=True)
        ledger = Ledger(redis, prefix=key_prefix(settings), ttl_s=600)
        await redis.set(ledger.keys("c6", models.model_version).done, "claimed:dead", ex=3)
        await redis.aclose()
        outcomes, ledger = await _run(settings, models, sink, [_event("c6", audio)])
        await ledger.redis.aclose()
        return outcomes

    assert asyncio.run(scenario()) == ["done"]
    assert len(sink.results) == 1 and "replay" not in sink.results[0]
