"""Build the ``call_result.v1`` event from the front end's output and the role decisions.

A plain function called by :func:`callroles.call.pipeline.run_call`, which the Faust worker and
``callroles analyze`` share, so both publish exactly the same result for the same call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from callroles.call.roles import SpeakerRole, role_of
from callroles.call.scoring import SpeakerScore
from callroles.frontend.speakers import FrontEndResult
from callroles.schemas import SCHEMA_VERSION, ModelInfo, utc_now, validate


def _seconds(value: float | None) -> float:
    return round(max(0.0, float(value or 0.0)), 3)


def conversation_figures(
    spans_by_speaker: Mapping[str, list[tuple[float, float]]], merge_gap_s: float = 0.0
) -> tuple[dict[str, tuple[int, float]], int, int]:
    """Turns per speaker (count, longest), total turns, and interruptions.

    A turn is a run of one speaker's segments not broken by another speaker. An interruption is
    a turn that starts before the other speaker's current segment has ended (overlap).
    """
    timeline = sorted((s, e, spk) for spk, spans in spans_by_speaker.items() for s, e in spans)
    per: dict[str, list[float]] = {spk: [] for spk in spans_by_speaker}
    turn_count = interruptions = 0
    current: str | None = None
    turn_start = turn_end = 0.0
    last_end: dict[str, float] = {}
    for start, end, spk in timeline:
        if spk != current:
            if current is not None:
                per[current].append(turn_end - turn_start)
                if start < last_end.get(current, 0.0) - 1e-6:
                    interruptions += 1
            current, turn_start, turn_end = spk, start, end
            turn_count += 1
        else:
            turn_end = max(turn_end, end)
        last_end[spk] = max(last_end.get(spk, 0.0), end)
    if current is not None:
        per[current].append(turn_end - turn_start)
    figures = {spk: (len(t), round(max(t), 3) if t else 0.0) for spk, t in per.items()}
    return figures, turn_count, interruptions


#: a role decided with less confidence than this is flagged (``roles_uncertain``)
UNCERTAIN = 0.9


def doubts(
    result: Mapping[str, Any], front: FrontEndResult, roles: Sequence[SpeakerRole]
) -> list[str]:
    """Where this result doubts itself (the ``flags`` of ``call_result.v1``), in a fixed order.

    Each flag is a fact read off the result, not a tuned score: a dashboard sets such calls
    aside for a person to check.
    """
    talk = [s["talk_time_s"] for s in result["speakers"]]
    flags = []
    if not any(t > 0 for t in talk):
        flags.append("no_speech")
    elif sum(t > 0 for t in talk) == 1:
        flags.append("one_voice")
    if front.budget.get("overlap_method") == "ignored":
        flags.append("overlap_ignored")
    if sum(talk) > float(result["duration_s"]) + 0.5:
        flags.append("talk_exceeds_duration")
    if front.budget.get("speaker_count", {}).get("uncertain"):
        flags.append("speaker_count_uncertain")
    if front.budget.get("third_voice"):
        flags.append("third_voice")
    model = [r for r in roles if r.source == "model" and r.label]
    if any(role_of(r.label or "") != r.role for r in model):
        flags.append("roles_by_pair_rule")
    if any(r.source == "voiceprint" and r.label and role_of(r.label) != r.role for r in roles):
        flags.append("model_disagrees_with_voiceprint")
    if any(r.source == "channel" and r.label and role_of(r.label) != r.role for r in roles):
        flags.append("model_disagrees_with_channel")
    if any(r.role in ("agent", "customer") and r.confidence < UNCERTAIN for r in roles):
        flags.append("roles_uncertain")
    return flags


def build_result(
    call_id: str,
    front: FrontEndResult,
    scores: Mapping[str, SpeakerScore],
    roles: Sequence[SpeakerRole],
    model: ModelInfo,
    latencies: Mapping[str, float],
    *,
    event: Mapping[str, Any] | None = None,
    worker: str | None = None,
    enrolment: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A valid ``call_result.v1`` dict from the front end's output and the role decisions.

    ``scores`` and ``roles`` come from :mod:`callroles.call.scoring` and
    :func:`callroles.call.roles.decide_roles`, one per front-end speaker.
    ``event`` (the call-finished event, optional) contributes tenant, agent_id, language, URI,
    metadata and event time. ``latencies`` (seconds per stage) are merged over the front end's
    own timings.
    """
    decided = {r.speaker: r for r in roles}
    spans = {
        s.speaker: sorted((g.start, g.end) for g in s.segments if g.end > g.start)
        for s in front.speakers
    }
    turns, turn_count, interruptions = conversation_figures(spans)

    speakers: list[dict[str, Any]] = []
    for stream in front.speakers:
        spk = stream.speaker
        r = decided.get(spk) or SpeakerRole(spk)
        gender = stream.gender or "unknown"
        speakers.append(
            {
                "speaker": spk,
                "role": r.role,
                "label": r.label,
                "gender": gender if gender in ("female", "male") else "unknown",
                "probabilities": dict(r.probabilities),
                "confidence": r.confidence,
                "role_source": r.source,
                "voiceprint_similarity": r.voiceprint_similarity,
                "talk_time_s": _seconds(stream.talk_time_s),
                "turns": turns[spk][0],
                "longest_turn_s": turns[spk][1],
                "windows": scores[spk].windows if spk in scores else 0,
                "padded": bool(scores[spk].padded) if spk in scores else False,
                "segments": [[round(s, 3), round(e, 3)] for s, e in spans[spk]],
            }
        )

    def best(role: str) -> str | None:
        cands = [s for s in speakers if s["role"] == role]
        return max(cands, key=lambda s: s["confidence"])["speaker"] if cands else None

    agent_t = round(sum(s["talk_time_s"] for s in speakers if s["role"] == "agent"), 3)
    cust_t = round(sum(s["talk_time_s"] for s in speakers if s["role"] == "customer"), 3)
    budget = front.budget
    timings = {str(k): float(v) for k, v in front.timings.items()}
    timings.update({str(k): float(v) for k, v in latencies.items()})
    event = event or {}
    result: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "call_id": call_id,
        "tenant": event.get("tenant"),
        "agent_id": event.get("agent_id"),
        "language": event.get("language"),
        "recording_uri": event.get("recording_uri"),
        "metadata": dict(event.get("metadata") or {}),
        "duration_s": _seconds(front.facts.duration_s),
        "speakers": speakers,
        "agent_speaker": best("agent"),
        "customer_speaker": best("customer"),
        "call": {
            "agent_talk_time_s": agent_t,
            "customer_talk_time_s": cust_t,
            "talk_to_listen_ratio": round(agent_t / cust_t, 4) if cust_t > 0 else None,
            "silence_s": _seconds(budget.get("silence_s")),
            "music_s": _seconds(budget.get("music_s")),
            "noise_s": _seconds(budget.get("noise_s")),
            "announcement_s": _seconds(budget.get("announcement_s")),
            "overlap_s": _seconds(budget.get("overlap_s")),
            "overlap_method": str(budget.get("overlap_method", "none")),
            "interruptions": interruptions,
            "turn_count": turn_count,
            "third_voice": budget.get("third_voice"),
        },
        "separation_strategy": front.strategy,
        "model": dict(model),
        "latency_s": {k: round(max(0.0, v), 4) for k, v in timings.items()},
        "produced_at": utc_now(),
        "worker": worker,
    }
    result["flags"] = doubts(result, front, roles)
    if (
        enrolment is not None
    ):  # what this call taught the agent's voiceprint (callroles.agents.enrolment)
        result["enrolment"] = dict(enrolment)
    event_time = event.get("submitted_at") or event.get("ended_at")
    if event_time:
        result["event_time"] = event_time
    return validate("call_result", result)
