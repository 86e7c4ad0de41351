"""Learn agents' voices from calls, with guards against poisoning: two ways.

**Stereo** (``auto_enrol`` includes ``stereo``): a stereo call whose layout names the agent's
side says for certain which voice is the agent's, whatever the role model thinks. Each such call
with an ``agent_id`` adds the agent channel's speech to that agent's voiceprint.

**Recurrence** (``auto_enrol`` includes ``recurring``): a mono call of an agent with no print
leaves evidence, one embedding per voice (:mod:`callroles.agents.store` keeps it, bounded and
for a while); once one voice recurs across the agent's calls and the others do not
(:mod:`callroles.agents.recurrence`), that voice becomes the agent's print, and the calls that
taught it are named. Either way mono calls of the agent are then decided by voice
(:func:`callroles.call.roles.by_voiceprint`), without anybody enrolling anyone.

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

from callroles.agents.recurrence import Voice, recurring_voice
from callroles.agents.store import VoiceprintStore
from callroles.agents.voiceprints import (
    EMBEDDING_MODEL,
    Voiceprint,
    VoiceprintError,
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
    calls: tuple[str, ...] = ()  # the calls a recurring voice was learnt from

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "agent_id": self.agent_id,
            "action": self.action,
            "reason": self.reason,
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "samples": self.samples,
        }
        if self.calls:
            out["calls"] = list(self.calls)
        return out


def auto_enrol(
    store: VoiceprintStore,
    call: dict[str, Any],
    front: FrontEndResult,
    audio: DecodedAudio,
    speaker: str | None,
    encoder: Any,
    reason: str = "stereo layout",
) -> Enrolment | None:
    """Learn from this call if it is certain: ``speaker`` is the one certainly the agent (the
    channel said so: :func:`callroles.call.roles.channel_agent`; or a person did: ``reason``
    "correction"), None when nobody is. None when the call has nothing to teach (no agent id,
    or no certain agent). Never raises for the call's content."""
    agent_id = str(call.get("agent_id") or "")
    if not agent_id or speaker is None:
        return None
    tenant = str(call.get("tenant") or "")
    call_id = str(call.get("call_id") or "")
    current = store.get(agent_id, tenant)
    if current is not None and current.model != EMBEDDING_MODEL:
        return _refuse(store, current, call_id, f"print made with {current.model}", None)
    if current is not None and call_id and call_id in current.sources:
        return Enrolment(
            agent_id, "skipped", "call already learnt from", None, current.auto_samples
        )
    if current is not None and current.auto_samples >= MAX_AUTO_SAMPLES:
        return Enrolment(agent_id, "skipped", "enough samples", None, current.auto_samples)
    try:
        sample = _sample(agent_id, call_id, tenant, front, audio, speaker, encoder)
    except VoiceprintError as exc:  # too little speech, two voices: nothing learnt
        if current is None:
            log.info("agent %s not enrolled from call %s: %s", agent_id, call_id, exc)
            return Enrolment(agent_id, "refused", exc.code, None, 0)
        return _refuse(store, current, call_id, exc.code, None)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if current is None:
        made = "stereo" if reason == "stereo layout" else reason
        first = replace(sample, auto_samples=1, updated_at=now, learnt_from=made)
        store.put(first)
        log.info("agent %s enrolled from call %s (%.1f s)", agent_id, call_id, sample.speech_s)
        return Enrolment(agent_id, "enrolled", reason, None, 1)
    old, new = np.asarray(current.vector), np.asarray(sample.vector)
    similarity = float(old @ new)
    if similarity < SAME_VOICE:
        return _refuse(store, current, call_id, "contradicts the voiceprint", similarity)
    # weighted by seconds of speech: every print has them (a learnt one has no partials)
    merged = old * current.speech_s + new * sample.speech_s
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
    return Enrolment(agent_id, "updated", reason, similarity, updated.auto_samples)


def unlearn(
    store: VoiceprintStore,
    call: dict[str, Any],
    front: FrontEndResult,
    audio: DecodedAudio,
    speaker: str,
    encoder: Any,
) -> Enrolment | None:
    """Take back what a withdrawn correction taught: ``speaker``'s sample of this call leaves
    the agent's print (the speech-weighted mean, undone), or the print goes when it was all
    that sample. None without an agent id; "skipped" when the call taught the print nothing."""
    agent_id, tenant = str(call.get("agent_id") or ""), str(call.get("tenant") or "")
    call_id = str(call.get("call_id") or "")
    if not agent_id:
        return None
    current = store.get(agent_id, tenant)
    if current is None or call_id not in current.sources:
        return Enrolment(agent_id, "skipped", "the correction taught the print nothing")
    try:
        sample = _sample(agent_id, call_id, tenant, front, audio, speaker, encoder)
    except VoiceprintError as exc:
        return Enrolment(agent_id, "skipped", exc.code, None, current.auto_samples)
    rest_s = current.speech_s - sample.speech_s
    sources = [c for c in current.sources if c != call_id]
    if rest_s < 1.0 or not sources:  # the print was this call's sample alone
        store.forget(agent_id, tenant)
        log.info("agent %s: print made by the correction of %s removed", agent_id, call_id)
        return Enrolment(agent_id, "withdrawn", "correction undone", None, 0)
    # print = (rest * a + sample * b) / n with rest a unit vector: n solves |n print - b sample| = a
    old, new = np.asarray(current.vector), np.asarray(sample.vector)
    a, b, c = rest_s, sample.speech_s, float(old @ new)
    n = b * c + float(np.sqrt(max(0.0, (b * c) ** 2 - b * b + a * a)))
    rest = n * old - b * new
    rest /= np.linalg.norm(rest) or 1.0
    store.put(
        replace(
            current,
            vector=[round(float(x), 6) for x in rest],
            partials=max(0, current.partials - sample.partials),
            speech_s=round(rest_s, 2),
            sources=sources,
            auto_samples=max(0, current.auto_samples - 1),
            updated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
    )
    samples = max(0, current.auto_samples - 1)
    return Enrolment(agent_id, "withdrawn", "correction undone", float(old @ rest), samples)


def _sample(
    agent_id: str,
    call_id: str,
    tenant: str,
    front: FrontEndResult,
    audio: DecodedAudio,
    speaker: str,
    encoder: Any,
) -> Voiceprint:
    """``speaker``'s speech in this call as a one-call print (raises VoiceprintError)."""
    stream = next(s for s in front.speakers if s.speaker == speaker)
    spans = [(g.start, g.end) for g in stream.segments]
    partials = speech_partials(audio, spans, encoder, stream.channel)
    return make_voiceprint(agent_id, [partials], [call_id], tenant)


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


def learn_recurring(
    store: VoiceprintStore, call: dict[str, Any], voices: dict[str, tuple[np.ndarray, float]]
) -> tuple[Enrolment, Voiceprint | None]:
    """Keep this mono call's voices as evidence for its agent (``voices``: speaker -> its mean
    embedding and seconds of speech) and learn the agent's print once one voice recurs; the
    evidence goes once it has taught (customers' voices are kept no longer than needed)."""
    agent_id, tenant = str(call["agent_id"]), str(call.get("tenant") or "")
    call_id = str(call.get("call_id") or "")
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    item = {
        "call_id": call_id,
        "at": now,
        "model": EMBEDDING_MODEL,
        "voices": [
            {"speaker": spk, "vector": [round(float(x), 5) for x in vec], "speech_s": speech}
            for spk, (vec, speech) in voices.items()
        ],
    }
    evidence = [
        e for e in store.add_evidence(agent_id, tenant, item) if e["model"] == EMBEDDING_MODEL
    ]
    found = recurring_voice(
        [
            Voice(e["call_id"], v["speaker"], np.asarray(v["vector"], np.float32), v["speech_s"])
            for e in evidence
            for v in e["voices"]
        ]
    )
    if not found.learnt:
        action = "refused" if found.reason.startswith(("ambiguous", "two voices")) else "skipped"
        log.info("agent %s after call %s: %s", agent_id, call_id, found.reason)
        return Enrolment(agent_id, action, found.reason, None, len(evidence)), None
    assert found.vector is not None
    learnt = Voiceprint.learnt(
        agent_id, tenant, found.vector, found.speech_s, found.calls[-MAX_SOURCES:], "recurring",
        found.cohesion or 0.0,
    )  # fmt: skip
    store.put(learnt)
    store.drop_evidence(agent_id, tenant)
    log.info("agent %s enrolled from the voice recurring in calls %s", agent_id, found.calls)
    enrolment = Enrolment(
        agent_id, "enrolled", "recurring", found.cohesion, len(found.calls), tuple(found.calls)
    )
    return enrolment, learnt
