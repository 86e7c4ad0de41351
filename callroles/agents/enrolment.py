"""Learn agents' voices from calls whose roles are certain, with guards against poisoning.

A call centre records some calls in stereo with a known layout (agent left or right): there the
channel says for certain which voice is the agent's, whatever the role model thinks. Each such
call with an ``agent_id`` adds the agent channel's speech to that agent's voiceprint, so mono
calls of the same agent are decided by voice (:func:`callroles.call.roles.by_voiceprint`) after a
few calls, without anybody enrolling anyone.

Only certain calls teach: a role decided by the CRNN never does (on real calls it was wrong at
0.9997, docs/roles.md), nor a role decided by the voiceprint itself (that would only confirm it).
Guards, each a logged refusal that leaves the print untouched and counts in its statistics:
too little speech, two voices on the agent's channel, a sample that contradicts the print
(cosine under the equal-error threshold measured on real voices), a print made with another
embedding model, a call already learnt from (a retried call teaches once). After
``MAX_AUTO_SAMPLES`` calls the print is left as it is: drift cannot creep in forever.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from callroles.agents.voiceprints import (
    EMBEDDING_MODEL,
    Voiceprint,
    VoiceprintError,
    VoiceprintStore,
    make_voiceprint,
    speech_partials,
)
from callroles.frontend.decode import DecodedAudio
from callroles.frontend.speakers import FrontEndResult
from callroles.models.embeddings import SAME_VOICE

log = logging.getLogger("callroles.agents.enrolment")

MAX_AUTO_SAMPLES = 20
MAX_SOURCES = 50  # call ids kept per print (ids only, never audio)


@dataclass(frozen=True)
class Enrolment:
    """What a call did to its agent's voiceprint (the ``enrolment`` of ``call_result.v1``)."""

    agent_id: str
    action: str  # enrolled | updated | refused | skipped
    reason: str
    similarity: float | None = None
    samples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "action": self.action,
            "reason": self.reason,
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "samples": self.samples,
        }


def auto_enrol(
    store: VoiceprintStore,
    call: dict[str, Any],
    front: FrontEndResult,
    audio: DecodedAudio,
    speaker: str | None,
    encoder: Any,
) -> Enrolment | None:
    """Learn from this call if it is certain: ``speaker`` is the one certainly the agent (the
    channel said so: :func:`callroles.call.roles.channel_agent`), None when nobody is. None when
    the call has nothing to teach (no agent id, or no certain agent). Never raises for the
    call's content."""
    agent_id = str(call.get("agent_id") or "")
    if not agent_id or speaker is None:
        return None
    tenant = str(call.get("tenant") or "")
    call_id = str(call.get("call_id") or "")
    stream = next(s for s in front.speakers if s.speaker == speaker)
    current = store.get(agent_id, tenant)
    if current is not None and current.model != EMBEDDING_MODEL:
        return _refuse(store, current, call_id, f"print made with {current.model}", None)
    if current is not None and call_id and call_id in current.sources:
        return Enrolment(
            agent_id, "skipped", "call already learnt from", None, current.auto_samples
        )
    if current is not None and current.auto_samples >= MAX_AUTO_SAMPLES:
        return Enrolment(agent_id, "skipped", "enough samples", None, current.auto_samples)
    spans = [(g.start, g.end) for g in stream.segments]
    partials = speech_partials(audio, spans, encoder, stream.channel)
    try:
        sample = make_voiceprint(agent_id, [partials], [call_id], tenant)
    except VoiceprintError as exc:  # too little speech, two voices: nothing learnt
        if current is None:
            log.info("agent %s not enrolled from call %s: %s", agent_id, call_id, exc)
            return Enrolment(agent_id, "refused", exc.code, None, 0)
        return _refuse(store, current, call_id, exc.code, None)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if current is None:
        first = replace(sample, auto_samples=1, updated_at=now)
        store.put(first)
        log.info("agent %s enrolled from call %s (%.1f s)", agent_id, call_id, sample.speech_s)
        return Enrolment(agent_id, "enrolled", "stereo layout", None, 1)
    old, new = np.asarray(current.vector), np.asarray(sample.vector)
    similarity = float(old @ new)
    if similarity < SAME_VOICE:
        return _refuse(store, current, call_id, "contradicts the voiceprint", similarity)
    merged = old * current.partials + new * sample.partials
    merged /= np.linalg.norm(merged) or 1.0
    updated = replace(
        current,
        vector=[round(float(x), 6) for x in merged],
        partials=current.partials + sample.partials,
        speech_s=round(current.speech_s + sample.speech_s, 2),
        sources=(current.sources + [call_id])[-MAX_SOURCES:],
        auto_samples=current.auto_samples + 1,
        updated_at=now,
    )
    store.put(updated)
    return Enrolment(agent_id, "updated", "stereo layout", similarity, updated.auto_samples)


def _refuse(
    store: VoiceprintStore,
    current: Voiceprint,
    call_id: str,
    why: str,
    similarity: float | None,
) -> Enrolment:
    """Count and log a refused sample; the print itself stays as it was."""
    note = f"{call_id}: {why}" + ("" if similarity is None else f" (similarity {similarity:.2f})")
    store.put(replace(current, refused=current.refused + 1, last_refusal=note))
    log.warning("agent %s: sample refused, %s", current.agent_id, note)
    return Enrolment(current.agent_id, "refused", why, similarity, current.auto_samples)
