"""Agent voiceprints: learn an agent's voice once, find it in later calls by ``agent_id``.

A call centre knows its agents, and a call-finished event names the ``agent_id``. A voiceprint is
the mean GE2E embedding (Resemblyzer's weights, ``callroles.models.embeddings``) of 1.6 s partials
of the agent's speech, L2-normalised, with what it was made from (seconds, partials, file names,
never audio) and the embedding model's version. In a call, the speaker whose speech is closest to
the enrolled agent's voiceprint is the agent (:func:`callroles.call.roles.decide_roles`).

Voiceprints are biometric data. They are kept in one place, chosen by
``CALLROLES_VOICEPRINT_STORE``: a ``redis://`` URL (workers, per tenant) or a JSON file (default
``<home>/voiceprints.json``); ``forget`` removes every trace. Enrolment refuses a sample with too
little speech or with two voices, so a voiceprint is never poisoned.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from callroles.base.errors import InputError
from callroles.base.redis import redis_client
from callroles.base.settings import Settings
from callroles.frontend.decode import DecodedAudio
from callroles.frontend.segmentation import FRAME_S
from callroles.frontend.separate import MIN_TURN_S
from callroles.models.embeddings import PARTIAL_FRAMES, partial_mels

log = logging.getLogger(__name__)

#: which embedding model voiceprints are made with; a print from another one is refused
EMBEDDING_MODEL = "resemblyzer-ge2e-0.1.4"
PARTIAL_S = PARTIAL_FRAMES * 0.01
HOP_S = 0.8  # partials every 0.8 s (half-overlapping)
MIN_SPEECH_S = 4.0  # less speech than this makes no voiceprint
SHORTEST_S = MIN_TURN_S  # a speaker with less speech than one turn is not compared with a print
# Two voices in one enrolment sample: 2-means over its partials; refused when both clusters hold
# at least a quarter of them and their centroids are less alike than one voice's partials are
# (GE2E: one speaker's partials score about 0.75-0.85 against their mean).
TWO_VOICES_SHARE = 0.25
TWO_VOICES_SIMILARITY = 0.70


class VoiceprintError(InputError):
    """An enrolment refused (no speech, two voices) or a voiceprint that cannot be used."""

    code = "voiceprint"
    stage = "ingest"


@dataclass(frozen=True)
class Voiceprint:
    """One agent's voice; ``vector`` is L2-normalised (256 values)."""

    agent_id: str
    vector: list[float]
    tenant: str = ""
    model: str = EMBEDDING_MODEL
    partials: int = 0
    speech_s: float = 0.0
    self_similarity: float = 0.0  # mean cosine of its partials to the print
    sources: list[str] = field(default_factory=list)  # file names only: no audio is kept
    enrolled_at: str = ""
    # automatic enrolment from certain calls (callroles.agents.enrolment): statistics for an
    # operator
    auto_samples: int = 0  # calls learnt from
    refused: int = 0  # samples refused because they contradicted this print
    last_refusal: str = ""
    updated_at: str = ""

    def usable(self) -> str | None:
        """None when this print can be matched, else why not."""
        if self.model != EMBEDDING_MODEL:
            return f"made with {self.model}, not {EMBEDDING_MODEL}: enrol the agent again"
        return None


def speech_partials(
    audio: DecodedAudio,
    speech_spans: list[tuple[float, float]],
    encoder: Any,
    channel: int | None = None,
) -> np.ndarray:
    """GE2E embeddings (N, 256) of the 1.6 s partials of ``audio`` that are mostly inside
    ``speech_spans`` (seconds: the front end's speech segments, any speaker); of one
    ``channel`` of a stereo call, or of the mix."""
    wide = audio.wide.mean(axis=0) if channel is None else audio.wide[channel]
    duration = len(wide) / 16000
    speech = np.zeros(int(duration / FRAME_S) + 1, bool)
    for a, b in speech_spans:
        speech[int(a / FRAME_S) : int(b / FRAME_S)] = True
    starts = np.arange(0.0, max(duration - PARTIAL_S, 0.0) + 1e-9, HOP_S)
    keep = [
        t
        for t in starts
        if float(np.mean(speech[int(t / FRAME_S) : int((t + PARTIAL_S) / FRAME_S)])) > 0.6
    ]
    if not keep:
        return np.zeros((0, 256), np.float32)
    mels = partial_mels(wide, np.asarray(keep))
    return np.concatenate([encoder(mels[i : i + 64]) for i in range(0, len(mels), 64)])


def span_embedding(
    wide: np.ndarray, spans: list[tuple[float, float]], encoder: Any
) -> np.ndarray | None:
    """One speaker's embedding in a call: partials over the speech of ``spans`` (seconds),
    averaged and L2-normalised. Under one partial of speech, the speech is repeated to one
    partial (as ``audio.turns`` embeds short turns): a customer who says "yes, thanks" still
    gets compared with the print. None under ``SHORTEST_S``."""
    pieces = [wide[int(a * 16000) : int(b * 16000)] for a, b in spans if b - a >= 0.3]
    if not pieces:
        return None
    joined = np.concatenate(pieces)
    need = int(PARTIAL_S * 16000)
    if len(joined) < need:
        if len(joined) < SHORTEST_S * 16000:
            return None
        joined = np.tile(joined, int(np.ceil(need / len(joined))))[:need]
    starts = np.arange(0.0, len(joined) / 16000 - PARTIAL_S + 1e-9, HOP_S)
    mels = partial_mels(joined, starts)
    emb = np.concatenate([encoder(mels[i : i + 64]) for i in range(0, len(mels), 64)])
    mean = emb.mean(axis=0)
    return mean / (np.linalg.norm(mean) or 1.0)


def make_voiceprint(
    agent_id: str, partials: list[np.ndarray], sources: list[str], tenant: str = ""
) -> Voiceprint:
    """The voiceprint of the partials of every enrolment file; refuses too little speech and
    a sample with two voices."""
    found = [p for p in partials if len(p)]
    emb = np.concatenate(found) if found else np.zeros((0, 256), np.float32)
    speech_s = float(len(emb) * HOP_S + (PARTIAL_S - HOP_S if len(emb) else 0.0))
    if speech_s < MIN_SPEECH_S:
        raise VoiceprintError(
            f"{', '.join(sources)}: {speech_s:.1f} s of speech, under {MIN_SPEECH_S:.0f} s "
            "(silence, music or noise is no voice sample)",
            code="voiceprint_no_speech",
        )
    two = _two_voices(emb)
    if two is not None:
        raise VoiceprintError(
            f"{', '.join(sources)}: two voices ({two}); enrol a recording of the agent alone",
            code="voiceprint_two_voices",
        )
    mean = emb.mean(axis=0)
    vec = mean / (np.linalg.norm(mean) or 1.0)
    return Voiceprint(
        agent_id=agent_id,
        vector=[round(float(x), 6) for x in vec],
        tenant=tenant,
        partials=len(emb),
        speech_s=round(speech_s, 2),
        self_similarity=round(float(np.mean(emb @ vec)), 4),
        sources=sources,
        enrolled_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )


def _two_voices(emb: np.ndarray) -> str | None:
    """A description of two clearly different voices in ``emb`` (2-means), else None."""
    if len(emb) < 8:
        return None
    rng = np.random.default_rng(0)
    cent = emb[rng.choice(len(emb), 2, replace=False)]
    for _ in range(20):
        lab = np.argmax(emb @ cent.T, axis=1)
        if len(set(lab.tolist())) < 2:
            return None
        cent = np.stack([emb[lab == k].mean(axis=0) for k in (0, 1)])
        cent /= np.linalg.norm(cent, axis=1, keepdims=True)
    share = min(np.mean(lab == 0), np.mean(lab == 1))
    alike = float(cent[0] @ cent[1])
    if share >= TWO_VOICES_SHARE and alike < TWO_VOICES_SIMILARITY:
        return f"{share:.0%} of the speech in a second voice, similarity {alike:.2f}"
    return None


class VoiceprintStore(Protocol):
    """Where voiceprints are kept (per tenant and agent id)."""

    def get(self, agent_id: str, tenant: str = "") -> Voiceprint | None: ...

    def put(self, print_: Voiceprint) -> None: ...

    def forget(self, agent_id: str, tenant: str = "") -> bool: ...

    def list(self, tenant: str | None = None) -> list[Voiceprint]: ...


def _key(agent_id: str, tenant: str) -> str:
    return f"{tenant}/{agent_id}"


class FileStore:
    """Voiceprints in one JSON file (written atomically, readable by its owner only)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _read(self) -> dict[str, dict[str, Any]]:
        if not self.path.is_file():
            return {}
        data: dict[str, dict[str, Any]] = json.loads(self.path.read_text("utf-8"))
        return data

    def _write(self, data: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1), "utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)

    def get(self, agent_id: str, tenant: str = "") -> Voiceprint | None:
        found = self._read().get(_key(agent_id, tenant))
        return Voiceprint(**found) if found else None

    def put(self, print_: Voiceprint) -> None:
        data = self._read()
        data[_key(print_.agent_id, print_.tenant)] = asdict(print_)
        self._write(data)

    def forget(self, agent_id: str, tenant: str = "") -> bool:
        data = self._read()
        gone = data.pop(_key(agent_id, tenant), None) is not None
        self._write(data)
        return gone

    def list(self, tenant: str | None = None) -> list[Voiceprint]:
        prints = [Voiceprint(**v) for v in self._read().values()]
        return [p for p in prints if tenant is None or p.tenant == tenant]


class RedisStore:
    """Voiceprints in a Redis hash (one field per tenant/agent), shared by every worker."""

    def __init__(self, client: Any, key: str = "callroles:voiceprints") -> None:
        self.redis = client  # a sync client: a store is used from the call's thread, off the loop
        self.key = key

    def get(self, agent_id: str, tenant: str = "") -> Voiceprint | None:
        raw = self.redis.hget(self.key, _key(agent_id, tenant))
        return Voiceprint(**json.loads(raw)) if raw else None

    def put(self, print_: Voiceprint) -> None:
        self.redis.hset(self.key, _key(print_.agent_id, print_.tenant), json.dumps(asdict(print_)))

    def forget(self, agent_id: str, tenant: str = "") -> bool:
        return bool(self.redis.hdel(self.key, _key(agent_id, tenant)))

    def list(self, tenant: str | None = None) -> list[Voiceprint]:
        prints = [Voiceprint(**json.loads(v)) for v in self.redis.hvals(self.key)]
        return [p for p in prints if tenant is None or p.tenant == tenant]


def open_store(settings: Settings) -> VoiceprintStore:
    """The store ``settings.voiceprint_store`` names: a redis:// URL, or a file path."""
    where = settings.voiceprint_store or str(settings.home / "voiceprints.json")
    if where.startswith(("redis://", "rediss://")):  # beside the ledger, under its prefix
        client = redis_client(settings, url=where)
        return RedisStore(client, key=f"callroles:{settings.topic_prefix}voiceprints")
    return FileStore(Path(where))
