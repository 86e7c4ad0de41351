"""Evidence of who recurs is kept bounded, for a while, and removed with the agent's print."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from callroles.agents.store import EVIDENCE_CALLS, FileStore, RedisStore, VoiceprintStore
from callroles.agents.voiceprints import Voiceprint
from callroles.base.redis import redis_client
from callroles.lab.settings import StackSettings


def _item(call_id: str, days_ago: float = 0.0) -> dict:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    voice = {"speaker": "S1", "vector": [0.1] * 256, "speech_s": 10.0}
    return {"call_id": call_id, "at": at.isoformat(), "model": "m", "voices": [voice]}


def _check(store: VoiceprintStore) -> None:
    assert store.evidence("A1") == []
    store.add_evidence("A1", "", _item("old", days_ago=40))  # older than the TTL: not kept
    for i in range(EVIDENCE_CALLS + 5):
        items = store.add_evidence("A1", "", _item(f"c{i}"))
    assert [e["call_id"] for e in items] == [f"c{i}" for i in range(5, EVIDENCE_CALLS + 5)]
    store.add_evidence("A1", "", _item("c6"))  # a call seen again: its evidence once
    assert [e["call_id"] for e in store.evidence("A1")].count("c6") == 1
    assert store.evidence("A1", "other-tenant") == []
    store.put(Voiceprint("A1", [0.0] * 256))
    assert store.forget("A1") and store.get("A1") is None
    assert store.evidence("A1") == []  # forget removes the evidence too


def test_file_store_keeps_evidence_bounded_and_forgets_it(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "voiceprints.json", evidence_ttl_days=30)
    _check(store)
    assert (tmp_path / "voiceprints.evidence.json").stat().st_mode & 0o077 == 0  # owner only


@pytest.mark.services
def test_redis_store_keeps_evidence_bounded_and_forgets_it(stack: StackSettings) -> None:
    store = RedisStore(redis_client(stack), f"test:{uuid.uuid4().hex}:voiceprints", 30)
    _check(store)
    store.add_evidence("A2", "", _item("x"))
    ttl = store.redis.ttl(store._evidence_key("A2", ""))
    assert 29 * 86_400 < ttl <= 30 * 86_400  # the whole list expires after the TTL
