"""Where agents' voiceprints, and the evidence they are learnt from, are kept.

One place, chosen by ``CALLROLES_VOICEPRINT_STORE``: a ``redis://`` URL (workers share it; a
hash of prints and one list of evidence per agent, under the topic prefix) or a JSON file
(default ``<home>/voiceprints.json``, mode 600, with the evidence beside it in
``voiceprints.evidence.json``).

Evidence is what learning an agent's voice from recurrence needs
(:mod:`callroles.agents.recurrence`): per call of the agent, one embedding per voice heard, its
seconds of speech and the call id. It includes customers' voices, which are biometric data:
only the last ``EVIDENCE_CALLS`` calls per agent are kept, each for ``evidence_ttl_days`` at
most; it is dropped when the agent's print is learnt, and ``forget`` removes it with the print.
It never leaves the store (no event, no log line carries a vector).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from callroles.agents.voiceprints import Voiceprint
from callroles.base.redis import redis_client
from callroles.base.settings import Settings

#: calls of evidence kept per agent (the newest)
EVIDENCE_CALLS = 20
Evidence = dict[str, Any]  # {"call_id", "at", "model", "voices": [{"speaker", "vector", ...}]}
Evidences = list[Evidence]  # (a name: the stores' own method `list` shadows the builtin)


class VoiceprintStore(Protocol):
    """Where voiceprints and their evidence are kept (per tenant and agent id)."""

    def get(self, agent_id: str, tenant: str = "") -> Voiceprint | None: ...

    def put(self, print_: Voiceprint) -> None: ...

    def forget(self, agent_id: str, tenant: str = "") -> bool: ...

    def list(self, tenant: str | None = None) -> list[Voiceprint]: ...

    def add_evidence(self, agent_id: str, tenant: str, item: Evidence) -> Evidences: ...

    def evidence(self, agent_id: str, tenant: str = "") -> Evidences: ...

    def drop_evidence(self, agent_id: str, tenant: str = "") -> None: ...


def _key(agent_id: str, tenant: str) -> str:
    return f"{tenant}/{agent_id}"


def _fresh(items: Evidences, ttl_days: float) -> Evidences:
    """The newest ``EVIDENCE_CALLS`` items younger than ``ttl_days``, one per call id."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=ttl_days)
    kept: dict[str, Evidence] = {}
    for item in items:
        when = dt.datetime.fromisoformat(str(item.get("at", "1970-01-01T00:00:00+00:00")))
        if when >= cutoff:
            kept[str(item["call_id"])] = item  # a call seen again replaces its evidence
    return list(kept.values())[-EVIDENCE_CALLS:]


def _write_private(path: Path, data: Any) -> None:
    """Atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), "utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


class FileStore:
    """Voiceprints in one JSON file, their evidence in another beside it."""

    def __init__(self, path: Path, evidence_ttl_days: float = 30.0) -> None:
        self.path = Path(path)
        self.evidence_path = self.path.with_name(f"{self.path.stem}.evidence.json")
        self.ttl_days = evidence_ttl_days

    @staticmethod
    def _read_json(path: Path) -> dict[str, Any]:
        if not path.is_file():
            return {}
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
        return data

    def get(self, agent_id: str, tenant: str = "") -> Voiceprint | None:
        found = self._read_json(self.path).get(_key(agent_id, tenant))
        return Voiceprint(**found) if found else None

    def put(self, print_: Voiceprint) -> None:
        data = self._read_json(self.path)
        data[_key(print_.agent_id, print_.tenant)] = asdict(print_)
        _write_private(self.path, data)

    def forget(self, agent_id: str, tenant: str = "") -> bool:
        data = self._read_json(self.path)
        gone = data.pop(_key(agent_id, tenant), None) is not None
        _write_private(self.path, data)
        self.drop_evidence(agent_id, tenant)
        return gone

    def list(self, tenant: str | None = None) -> list[Voiceprint]:
        prints = [Voiceprint(**v) for v in self._read_json(self.path).values()]
        return [p for p in prints if tenant is None or p.tenant == tenant]

    def add_evidence(self, agent_id: str, tenant: str, item: Evidence) -> Evidences:
        data = self._read_json(self.evidence_path)
        items = _fresh([*data.get(_key(agent_id, tenant), []), item], self.ttl_days)
        data[_key(agent_id, tenant)] = items
        _write_private(self.evidence_path, data)
        return items

    def evidence(self, agent_id: str, tenant: str = "") -> Evidences:
        items = self._read_json(self.evidence_path).get(_key(agent_id, tenant), [])
        return _fresh(items, self.ttl_days)

    def drop_evidence(self, agent_id: str, tenant: str = "") -> None:
        data = self._read_json(self.evidence_path)
        if data.pop(_key(agent_id, tenant), None) is not None:
            _write_private(self.evidence_path, data)


class RedisStore:
    """Voiceprints in a Redis hash (one field per tenant/agent), shared by every worker; each
    agent's evidence in a list that expires ``evidence_ttl_days`` after its last call."""

    def __init__(
        self, client: Any, key: str = "callroles:voiceprints", evidence_ttl_days: float = 30.0
    ) -> None:
        self.redis = client  # a sync client: a store is used from the call's thread, off the loop
        self.key = key
        self.ttl_days = evidence_ttl_days

    def _evidence_key(self, agent_id: str, tenant: str) -> str:
        return f"{self.key}:evidence:{_key(agent_id, tenant)}"

    def get(self, agent_id: str, tenant: str = "") -> Voiceprint | None:
        raw = self.redis.hget(self.key, _key(agent_id, tenant))
        return Voiceprint(**json.loads(raw)) if raw else None

    def put(self, print_: Voiceprint) -> None:
        self.redis.hset(self.key, _key(print_.agent_id, print_.tenant), json.dumps(asdict(print_)))

    def forget(self, agent_id: str, tenant: str = "") -> bool:
        self.drop_evidence(agent_id, tenant)
        return bool(self.redis.hdel(self.key, _key(agent_id, tenant)))

    def list(self, tenant: str | None = None) -> list[Voiceprint]:
        prints = [Voiceprint(**json.loads(v)) for v in self.redis.hvals(self.key)]
        return [p for p in prints if tenant is None or p.tenant == tenant]

    def add_evidence(self, agent_id: str, tenant: str, item: Evidence) -> Evidences:
        key = self._evidence_key(agent_id, tenant)
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(key, json.dumps(item))
        pipe.ltrim(key, -2 * EVIDENCE_CALLS, -1)  # room for retried calls, trimmed below
        pipe.expire(key, int(self.ttl_days * 86_400))
        pipe.execute()
        return self.evidence(agent_id, tenant)

    def evidence(self, agent_id: str, tenant: str = "") -> Evidences:
        raw = self.redis.lrange(self._evidence_key(agent_id, tenant), 0, -1)
        return _fresh([json.loads(r) for r in raw], self.ttl_days)

    def drop_evidence(self, agent_id: str, tenant: str = "") -> None:
        self.redis.delete(self._evidence_key(agent_id, tenant))


def open_store(settings: Settings) -> VoiceprintStore:
    """The store ``settings.voiceprint_store`` names: a redis:// URL, or a file path."""
    where = settings.voiceprint_store or str(settings.home / "voiceprints.json")
    ttl = settings.evidence_ttl_days
    if where.startswith(("redis://", "rediss://")):  # beside the ledger, under its prefix
        client = redis_client(settings, url=where)
        return RedisStore(client, f"callroles:{settings.topic_prefix}voiceprints", ttl)
    return FileStore(Path(where), ttl)
