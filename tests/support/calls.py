"""Short generated calls and raw Kafka traffic for the worker suites (faults, security).

``make_calls`` renders two-voice GSM calls with espeak-ng and sox; ``event`` is a raw
call-finished message; ``submit`` publishes raw messages; ``gather`` reads the result and error
events of given call ids back from the start of the topics.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from callroles.lab.settings import StackSettings
from callroles.schemas import topic_name
from callroles.streaming.clients import kafka_kwargs
from callroles.streaming.submit import publish_raw

LINES = [
    ("en+m3", "Hello, thank you for calling, this is Mark from support. How can I help?"),
    ("en+f2", "Hi Mark, my internet has been down since this morning and I need it for work."),
    ("en+m3", "I am sorry to hear that. Let me check your line, one moment please."),
    ("en+f2", "Thank you. I already restarted the modem twice and nothing changed."),
]


def make_calls(out: Path, n: int, tag: str) -> list[Path]:
    """``n`` short two-voice GSM calls (~9 s each; espeak-ng male agent, female customer).

    The lines are rotated per call so the recordings differ.
    """
    out.mkdir(parents=True, exist_ok=True)
    parts = []
    for i, (voice, text) in enumerate(LINES):
        wav = out / f"_line{i}.wav"
        if not wav.exists():
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", "165", "-w", str(wav), text],
                check=True,
                capture_output=True,
            )
        parts.append(wav)
    calls = []
    for k in range(n):
        order = parts[k % 2 :] + parts[: k % 2] if k % 3 else parts
        path = out / f"{tag}-{k:03d}.gsm"
        subprocess.run(
            ["sox", *map(str, order), "-r", "8000", "-c", "1", str(path)],
            check=True,
            capture_output=True,
        )
        calls.append(path)
    return calls


def event(call_id: str, path: Path | str, **extra: Any) -> bytes:
    """A raw call-finished message (schema version 1) for ``path``."""
    return json.dumps(
        {"schema_version": 1, "call_id": call_id, "recording_uri": str(path), **extra}
    ).encode()


def submit(settings: StackSettings, messages: Iterable[tuple[str | None, bytes]]) -> None:
    """Publish (key, raw value) messages on the call-finished topic."""

    asyncio.run(publish_raw(settings, [(k.encode() if k else None, v) for k, v in messages]))


def gather(
    settings: StackSettings,
    call_ids: set[str],
    timeout_s: float,
    *,
    linger_s: float = 8.0,
    extra: int = 0,
) -> list[tuple[str, dict[str, Any]]]:
    """Every result/error event for ``call_ids`` (plus up to ``extra`` id-less errors), read from
    the start of the topics until each id has an event or ``timeout_s`` passes; then
    ``linger_s`` more seconds, so late duplicates are counted too."""

    topics = {topic_name(k, settings.topic_prefix): k for k in ("call_result", "call_error")}
    got: list[tuple[str, dict[str, Any]]] = []

    async def run() -> None:
        consumer = AIOKafkaConsumer(
            *topics, **kafka_kwargs(settings), group_id=None,
            auto_offset_reset="earliest", enable_auto_commit=False,
        )  # fmt: skip
        await consumer.start()
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        try:
            while loop.time() < end:
                batch = await consumer.getmany(timeout_ms=1000)
                for tp, msgs in batch.items():
                    for msg in msgs:
                        try:
                            ev = json.loads(msg.value or b"")
                        except ValueError:
                            continue
                        cid = ev.get("call_id")
                        if cid in call_ids or cid is None and extra:
                            got.append((topics[tp.topic], ev))
                seen = {e.get("call_id") for _, e in got}
                nulls = sum(1 for _, e in got if e.get("call_id") is None)
                if call_ids <= seen and nulls >= extra:
                    end = min(end, loop.time() + linger_s)
        finally:
            await consumer.stop()

    asyncio.run(run())
    return got
