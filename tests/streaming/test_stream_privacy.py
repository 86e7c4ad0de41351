"""Privacy by default: a result copies no phone number from its call-finished event.

``callroles watch --pattern asterisk`` puts the caller's number in ``metadata.caller`` and the
file name carries it too. Here a recording named as Asterisk names it goes through the real
watcher and the real call processor (real Redis and models; no Kafka), and the published and
stored results hold no trace of the number, unless a setting lets a key through, and then only
as the redactor's hash. The same through Kafka and a worker process: test_stream_results_e2e.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from callroles.base.redis import redis_client
from callroles.call.pipeline import Models, load_models
from callroles.lab.settings import StackSettings
from callroles.streaming.clients import key_prefix
from callroles.streaming.ledger import Ledger
from callroles.streaming.privacy import for_error, for_result, scrub
from callroles.streaming.process import CallProcessor
from callroles.streaming.settings import StreamingSettings
from callroles.streaming.watch import ASTERISK_PATTERN, FolderWatcher
from tests.support.calls import make_calls
from tests.support.sink import Sink

NUMBER = "905321234567"
STEM = f"in-A017-+{NUMBER}-20261123-091402-1700000042.7"


def test_only_allowed_metadata_passes_and_digit_runs_are_hashed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = {
        "call_id": "1700000042.7",
        "recording_uri": f"/var/spool/asterisk/monitor/{STEM}.gsm",
        "agent_id": "A017",
        "metadata": {"caller": f"+{NUMBER}", "queue": "billing", "ids": [int(NUMBER), 12, True]},
    }
    default = for_result(event, StreamingSettings())
    assert default["metadata"] == {}
    assert NUMBER not in default["recording_uri"] and "#" in default["recording_uri"]
    assert default["recording_uri"].endswith(".gsm") and default["agent_id"] == "A017"
    assert event["metadata"]["caller"] == f"+{NUMBER}"  # the event itself is left alone

    monkeypatch.setenv("CALLROLES_RESULT_METADATA", '["caller", "ids", "queue"]')
    monkeypatch.setenv("CALLROLES_RESULT_RECORDING_URI", "none")
    allowed = for_result(event, StreamingSettings())
    assert allowed["recording_uri"] is None
    assert allowed["metadata"]["queue"] == "billing"
    assert re.fullmatch(r"#[a-p]{8}", allowed["metadata"]["caller"])
    assert allowed["metadata"]["ids"][1:] == [12, True]
    assert NUMBER not in json.dumps(allowed)
    full = for_result(event, StreamingSettings(result_recording_uri="full"))
    assert full["recording_uri"] == event["recording_uri"]
    assert scrub({"a": [f"tel {NUMBER}", 123456.5]}) != {"a": [f"tel {NUMBER}", 123456.5]}


@pytest.fixture(scope="module")
def models() -> Models:
    return load_models(StackSettings())


@pytest.fixture(scope="module")
def asterisk_event(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The event ``callroles watch --pattern asterisk`` makes for a recording Asterisk named."""
    scratch = tmp_path_factory.mktemp("asterisk")
    (made,) = make_calls(scratch / "src", 1, "p")
    spool = scratch / "monitor"
    spool.mkdir()
    made.rename(spool / f"{STEM}.gsm")
    got: list[dict[str, Any]] = []
    watcher = FolderWatcher(spool, got.append, pattern=re.compile(ASTERISK_PATTERN))
    assert watcher.scan() == []  # first sight: the PBX may still be writing
    (event,) = watcher.scan()
    assert event["metadata"]["caller"] == f"+{NUMBER}" and NUMBER in event["recording_uri"]
    assert event["call_id"] == "1700000042.7" and event["agent_id"] == "A017"
    return event


async def _process(settings: StackSettings, models: Models, event: dict[str, Any]) -> Any:
    sink = Sink()
    redis = redis_client(settings, asyncio=True)
    ledger = Ledger(redis, prefix=key_prefix(settings), ttl_s=600)
    with ThreadPoolExecutor(1) as pool:
        processor = CallProcessor(
            settings, models=models, ledger=ledger, executor=pool, sink=sink, worker="w-priv"
        )
        outcome = await processor.handle(dict(event))
    stored = await ledger.stored(event["call_id"], models.model_version)
    lookup = await ledger.lookup(event["call_id"])
    await redis.aclose()
    return outcome, sink, stored, lookup


@pytest.mark.services
@pytest.mark.parametrize("allow", [(), ("caller", "direction")])
def test_an_asterisk_call_through_the_processor_publishes_no_number(
    stack: StackSettings, models: Models, asterisk_event: dict[str, Any], allow: tuple[str, ...]
) -> None:
    settings = stack.model_copy(
        update={"topic_prefix": f"priv{uuid.uuid4().hex[:8]}.", "result_metadata": allow}
    )
    outcome, sink, stored, _ = asyncio.run(_process(settings, models, asterisk_event))
    assert outcome == "done" and not sink.errors
    (result,) = sink.results
    assert stored is not None and stored.result == result
    assert NUMBER not in json.dumps(result)
    assert result["call_id"] == "1700000042.7" and result["agent_id"] == "A017"
    assert result["recording_uri"].endswith(".gsm") and "A017" in result["recording_uri"]
    if allow:
        assert set(result["metadata"]) == {"caller", "direction"}
        assert result["metadata"]["direction"] == "in"
        assert re.fullmatch(r"\+?#[a-p]{8}", result["metadata"]["caller"])
    else:
        assert result["metadata"] == {}


@pytest.mark.services
def test_a_failed_call_keeps_its_number_on_kafka_only(
    stack: StackSettings, models: Models, asterisk_event: dict[str, Any]
) -> None:
    """The error event on Kafka carries the whole input (to replay it); the copy served by
    GET /calls/{id} holds no trace of the number."""
    settings = stack.model_copy(update={"topic_prefix": f"priv{uuid.uuid4().hex[:8]}."})
    gone = {**asterisk_event, "call_id": f"gone-{uuid.uuid4().hex[:8]}"}
    gone["recording_uri"] = gone["recording_uri"].replace(".gsm", "-deleted.gsm")
    outcome, sink, _, lookup = asyncio.run(_process(settings, models, gone))
    assert outcome == "error" and not sink.results
    (published,) = sink.errors
    assert published["code"] == "recording_missing"
    assert NUMBER in json.dumps(published["input"])
    assert lookup.state == "error" and lookup.event is not None
    assert lookup.event["code"] == "recording_missing"
    assert NUMBER not in json.dumps(lookup.event)
    assert for_error({"message": f"no {NUMBER}.gsm", "input": "x"}, settings)["message"] != (
        f"no {NUMBER}.gsm"
    )
