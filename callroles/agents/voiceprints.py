"""Agent voiceprints: learn an agent's voice once, find it in later calls by ``agent_id``.

A call centre knows its agents, and a call-finished event names the ``agent_id``. A voiceprint is
the mean GE2E embedding (Resemblyzer's weights, ``callroles.models.embeddings``) of 1.6 s partials
of the agent's speech, L2-normalised, with what it was made from (seconds, partials, file names,
never audio) and the embedding model's version. In a call, the speaker whose speech is closest to
the enrolled agent's voiceprint is the agent (:func:`callroles.call.roles.decide_roles`).

Voiceprints are biometric data, kept in one place (:mod:`callroles.agents.store`). Enrolment
refuses a sample with too little speech or with two voices, so a voiceprint is never poisoned.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from callroles.base.errors import InputError
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
    # how the print was made: "sample" (recordings of the agent alone), "stereo" (stereo calls
    # with a layout), "recurring" (the voice that recurs across the agent's calls),
    # "discovered" (a voice that recurs across an archive), "correction" (a QA person said so)
    learnt_from: str = "sample"

    @classmethod
    def learnt(
        cls,
        agent_id: str,
        tenant: str,
        vector: np.ndarray,
        speech_s: float,
        sources: list[str],
        learnt_from: str,
        cohesion: float = 0.0,
    ) -> Voiceprint:
        """A print learnt from a voice that recurs across calls (no partials: its weight in a
        later merge is its seconds of speech); one sample per call it was heard in."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return cls(
            agent_id=agent_id, vector=[round(float(x), 6) for x in vector], tenant=tenant,
            speech_s=speech_s, self_similarity=cohesion, sources=sources, enrolled_at=now,
            updated_at=now, auto_samples=len(sources), learnt_from=learnt_from,
        )  # fmt: skip

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
