"""Read result and error events as they arrive (``callroles tail``), or collect them in tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer

from callroles.base.errors import StackError
from callroles.schemas import topic_name
from callroles.streaming.settings import StreamingSettings

from .clients import kafka_kwargs

log = logging.getLogger(__name__)


async def events(
    settings: StreamingSettings,
    kinds: Sequence[str] = ("call_result", "call_error"),
    *,
    from_beginning: bool = False,
    idle_timeout_s: float | None = None,
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(kind, event) pairs from the result and error topics; stops after ``idle_timeout_s``."""
    topics = {topic_name(k, settings.topic_prefix): k for k in kinds}
    consumer = AIOKafkaConsumer(
        *topics,
        **kafka_kwargs(settings),
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    try:
        await consumer.start()
    except Exception as exc:
        await consumer.stop()
        raise StackError(f"cannot reach Kafka at {settings.bootstrap_servers}: {exc}") from exc
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                if idle_timeout_s is not None:
                    idle_timeout_s -= 1.0
                    if idle_timeout_s <= 0:
                        return
                continue
            for tp, messages in batch.items():
                for msg in messages:
                    try:
                        value = json.loads(msg.value)
                    except (TypeError, ValueError):
                        log.warning("skipping a non-JSON message on %s", tp.topic)
                        continue
                    yield topics[tp.topic], value
    finally:
        await consumer.stop()


async def collect(
    settings: StreamingSettings, expected: int, timeout_s: float, *, from_beginning: bool = True
) -> list[tuple[str, dict[str, Any]]]:
    """Up to ``expected`` events, or what arrived within ``timeout_s``."""
    got: list[tuple[str, dict[str, Any]]] = []

    async def run() -> None:
        async for item in events(settings, from_beginning=from_beginning):
            got.append(item)
            if len(got) >= expected:
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run(), timeout_s)
    return got


HEADER = (
    f"{'call_id':24} {'agent':>8} {'customer':>8} {'ratio':>6} {'strategy':9} "
    f"{'agent spk':10} {'conf':>5} {'latency':>8}"
)


def format_row(kind: str, event: dict[str, Any]) -> str:
    """One table line per event."""
    if kind == "call_error":
        return (
            f"{str(event.get('call_id')):24} ERROR {event['stage']}/{event['code']}: "
            f"{event['message'][:80]}"
        )
    call = event["call"]
    ratio = call["talk_to_listen_ratio"]
    agent = next((s for s in event["speakers"] if s["speaker"] == event["agent_speaker"]), None)
    return (
        f"{event['call_id'][:24]:24} {call['agent_talk_time_s']:8.1f} "
        f"{call['customer_talk_time_s']:8.1f} {'-' if ratio is None else f'{ratio:.2f}':>6} "
        f"{event['separation_strategy']:9} {str(event['agent_speaker'])[:10]:10} "
        f"{(agent['confidence'] if agent else 0.0):5.2f} "
        f"{event['latency_s'].get('total', 0.0):7.1f}s"
    )


async def tail(
    settings: StreamingSettings,
    out: TextIO,
    *,
    as_json: bool = False,
    from_beginning: bool = False,
    errors: bool = True,
) -> None:
    """Print events until interrupted."""
    kinds = ("call_result", "call_error") if errors else ("call_result",)
    if not as_json:
        print(HEADER, file=out, flush=True)
    async for kind, event in events(settings, kinds, from_beginning=from_beginning):
        if as_json:
            print(json.dumps({"kind": kind, **event}), file=out, flush=True)
        else:
            print(format_row(kind, event), file=out, flush=True)
