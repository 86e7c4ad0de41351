"""Read result events back from the Kafka result topic, until it goes quiet.

The report reads the topic from the beginning without a consumer group (it commits nothing and
never disturbs the workers' groups) and stops after ``idle_s`` seconds with no new message, or
when ``want`` call ids have all been seen.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Collection
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from callroles.base.errors import StackError
from callroles.report.tables import ReportInputError
from callroles.schemas import SchemaError, is_valid, topic_name, validate
from callroles.streaming.clients import kafka_kwargs
from callroles.streaming.settings import StreamingSettings

log = logging.getLogger(__name__)


def result_topic(settings: StreamingSettings) -> str:
    """The result topic's full name (with the deployment's prefix)."""
    return topic_name("call_result", settings.topic_prefix)


def consumer_kwargs(settings: StreamingSettings) -> dict[str, Any]:
    """Connection options for aiokafka: streaming's own helper, so every client agrees."""
    return kafka_kwargs(settings)


async def _read(
    settings: StreamingSettings,
    topic: str,
    idle_s: float,
    want: Collection[str] | None,
    timeout_s: float,
    on_result: Callable[[dict[str, Any]], None] | None,
) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        topic,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **consumer_kwargs(settings),
    )
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()
        raise StackError(
            f"cannot reach Kafka at {settings.bootstrap_servers} ({exc}); "
            "start it with `callroles stack start` or set CALLROLES_KAFKA_BOOTSTRAP"
        ) from exc
    results: list[dict[str, Any]] = []
    seen: set[str] = set()
    pending = set(want) if want else None
    start = last = time.monotonic()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            now = time.monotonic()
            for records in batch.values():
                for rec in records:
                    last = now
                    try:
                        payload = validate("call_result", json.loads(rec.value), strict=False)
                    except (ValueError, SchemaError) as exc:
                        log.warning("skipping a bad event at offset %s: %s", rec.offset, exc)
                        continue
                    results.append(payload)
                    seen.add(str(payload["call_id"]))
                    if on_result is not None:
                        on_result(payload)
            if pending is not None and pending <= seen:
                break
            if pending is None and now - last >= idle_s:
                break
            if now - start >= timeout_s:
                break
    finally:
        await consumer.stop()
    return results


def read_results(
    settings: StreamingSettings,
    topic: str | None = None,
    *,
    idle_s: float = 5.0,
    want: Collection[str] | None = None,
    timeout_s: float = 600.0,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Result events on the topic: all until ``idle_s`` of quiet, or until ``want`` are seen."""
    name = topic or result_topic(settings)
    if not name:
        raise ReportInputError("empty topic name")
    return asyncio.run(_read(settings, name, idle_s, want, timeout_s, on_result))


class EventWatcher:
    """Results and errors published *after* ``start()`` (the demo's own calls, not old runs)."""

    def __init__(
        self, settings: StreamingSettings, kinds: tuple[str, ...] = ("call_result", "call_error")
    ):
        self.settings = settings
        self.topics = {topic_name(k, settings.topic_prefix): k for k in kinds}
        self._consumer: Any = None

    async def start(self, timeout_s: float = 30.0) -> None:
        """Pin every partition of the topics at its current end (topics must exist)."""
        consumer = AIOKafkaConsumer(
            *self.topics,
            **consumer_kwargs(self.settings),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )
        try:
            await consumer.start()
        except Exception as exc:  # aiokafka raises many connection error types
            await consumer.stop()
            raise StackError(
                f"cannot reach Kafka at {self.settings.bootstrap_servers}: {exc}"
            ) from exc
        deadline = time.monotonic() + timeout_s
        while {tp.topic for tp in consumer.assignment()} != set(self.topics):
            if time.monotonic() > deadline:
                await consumer.stop()
                raise StackError(
                    f"topics {sorted(self.topics)} are not all there; run `callroles topics`"
                )
            await consumer.getmany(timeout_ms=200)  # anything before start() is not ours
        for tp in consumer.assignment():
            await consumer.position(tp)  # resolve "latest" now, before anything is submitted
        self._consumer = consumer

    async def collect(
        self,
        want: Collection[str],
        timeout_s: float,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """call_id -> (kind, event) for each wanted call, until all arrived or the timeout."""
        got: dict[str, tuple[str, dict[str, Any]]] = {}
        deadline = time.monotonic() + timeout_s
        while set(want) - set(got) and time.monotonic() < deadline:
            batch = await self._consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                kind = self.topics[tp.topic]
                for rec in records:
                    try:
                        event = json.loads(rec.value)
                    except (TypeError, ValueError):
                        continue
                    cid = str(event.get("call_id")) if isinstance(event, dict) else ""
                    if cid not in want or cid in got or not is_valid(kind, event, strict=False):
                        continue
                    got[cid] = (kind, event)
                    if on_event is not None:
                        on_event(kind, event)
        return got

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
