"""Publish call-finished events: for local files (``callroles submit``), the watcher and HTTP.

Events are keyed by call_id, so all events of a call land on one partition and one worker.
A sidecar ``<recording>.json`` (or ``<stem>.json``) next to a recording adds its fields
(agent_id, agent_gender, layout, language, tenant, metadata, call_id...) to the event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from callroles.base.errors import InputError, StackError
from callroles.schemas import topic_name, validate
from callroles.streaming.settings import StreamingSettings

from .clients import producer_kwargs
from .ingest import make_event

EVENT_FIELDS = (
    "call_id",
    "agent_id",
    "agent_gender",
    "layout",
    "language",
    "tenant",
    "metadata",
    "started_at",
    "ended_at",
)


def sidecar_of(path: Path) -> Path | None:
    """The metadata file of a recording, if there is one."""
    for candidate in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if candidate != path and candidate.is_file():
            return candidate
    return None


def read_sidecar(path: Path) -> dict[str, Any]:
    """Event fields from a sidecar; unknown keys go into ``metadata``."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"sidecar {path} is not readable JSON: {exc}", code="sidecar") from exc
    if not isinstance(data, dict):
        raise InputError(f"sidecar {path} must hold a JSON object", code="sidecar")
    fields = {k: data[k] for k in EVENT_FIELDS if k in data}
    extra = {k: v for k, v in data.items() if k not in EVENT_FIELDS and k != "schema_version"}
    if extra:
        fields["metadata"] = {**extra, **dict(fields.get("metadata") or {})}
    return fields


def event_for_file(path: Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A validated call-finished event for a local recording (absolute path as the URI)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such recording: {path}", code="recording_missing")
    fields: dict[str, Any] = {}
    sidecar = sidecar_of(path)
    if sidecar is not None:
        fields.update(read_sidecar(sidecar))
    fields.update({k: v for k, v in (overrides or {}).items() if v is not None})
    call_id = fields.pop("call_id", None)
    return make_event(str(path.resolve()), call_id=call_id, extra=fields)


async def publish(settings: StreamingSettings, events: Iterable[Mapping[str, Any]]) -> list[Any]:
    """Send validated events to the call-finished topic; returns Kafka's record metadata."""
    checked = [validate("call_finished", dict(e)) for e in events]
    producer = AIOKafkaProducer(**producer_kwargs(settings))
    try:
        await producer.start()
    except Exception as exc:
        await producer.stop()
        raise StackError(f"cannot reach Kafka at {settings.bootstrap_servers}: {exc}") from exc
    try:
        topic = topic_name("call_finished", settings.topic_prefix)
        futures = [
            await producer.send(topic, key=e["call_id"].encode(), value=json.dumps(e).encode())
            for e in checked
        ]
        return [await f for f in futures]
    finally:
        await producer.stop()


async def publish_raw(
    settings: StreamingSettings, payloads: Iterable[tuple[bytes | None, bytes]]
) -> None:
    """Send raw bytes (for tests and replays of invalid input): the worker must cope."""
    producer = AIOKafkaProducer(**producer_kwargs(settings))
    await producer.start()
    try:
        topic = topic_name("call_finished", settings.topic_prefix)
        for key, value in payloads:
            await producer.send_and_wait(topic, key=key, value=value)
    finally:
        await producer.stop()
