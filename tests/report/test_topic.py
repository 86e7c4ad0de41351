"""Reading result events back from a real Kafka topic."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from callroles.base.cli import main
from callroles.lab.settings import StackSettings
from callroles.streaming.results import EventWatcher, consumer_kwargs, read_results, result_topic
from callroles.streaming.settings import streaming_settings
from callroles.streaming.topics import create_topics_sync

pytestmark = pytest.mark.services


async def _publish(settings: StackSettings, topic: str, events: list[dict]) -> None:

    producer = AIOKafkaProducer(**consumer_kwargs(settings))
    await producer.start()
    try:
        for ev in events:
            await producer.send_and_wait(topic, json.dumps(ev).encode(), key=ev["call_id"].encode())
        await producer.send_and_wait(topic, b"not json")  # skipped, never fatal
    finally:
        await producer.stop()


def test_results_from_the_topic(stack: StackSettings, batch: tuple[list[dict], Path]) -> None:

    results, _ = batch
    settings = stack.model_copy(update={"topic_prefix": f"test-report-{uuid.uuid4().hex[:8]}."})
    create_topics_sync(settings, partitions=2)
    topic = result_topic(settings)
    asyncio.run(_publish(settings, topic, results[:2]))

    got = read_results(settings, idle_s=2.0)
    assert sorted(r["call_id"] for r in got) == sorted(r["call_id"] for r in results[:2])

    async def watch() -> dict:
        watcher = EventWatcher(settings)
        await watcher.start()  # only what comes after this point
        try:
            await _publish(settings, topic, results[1:4])
            want = {r["call_id"] for r in results[:4]}  # results[0] is old: never arrives
            return await watcher.collect(want, timeout_s=8.0)
        finally:
            await watcher.stop()

    seen = asyncio.run(watch())
    assert sorted(seen) == sorted(r["call_id"] for r in results[1:4])
    assert all(kind == "call_result" for kind, _ in seen.values())


def test_report_command_reads_the_topic(
    stack: StackSettings,
    batch: tuple[list[dict], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:

    results, _ = batch
    prefix = f"test-report-cli-{uuid.uuid4().hex[:8]}."
    for name, value in {
        "CALLROLES_KAFKA_PORT": stack.kafka_port,
        "CALLROLES_REDIS_PORT": stack.redis_port,
        "CALLROLES_TOPIC_PREFIX": prefix,
    }.items():
        monkeypatch.setenv(name, str(value))
    streaming_settings.cache_clear()
    try:
        settings = StackSettings()  # from the environment just set
        create_topics_sync(settings, partitions=1)
        asyncio.run(_publish(settings, result_topic(settings), results))
        out = tmp_path / "out"
        assert main(["report", "--results", "topic", "--out", str(out), "--idle", "2"]) == 0
    finally:
        streaming_settings.cache_clear()
    assert f"reading {prefix}callroles.call-result.v1" in capsys.readouterr().out
    page = (out / "index.html").read_text()
    assert page.count('<tbody class="call"') == len(results)
