"""Build the ``call_result.v1`` event from the front end's output and the speaker probabilities.

A plain function, shared by the Faust worker and by ``callroles analyze`` (no Kafka, no Redis),
so both print exactly the same result for the same call. The front end's objects are read by
attribute or key, which keeps this module free of heavy imports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from callroles.schemas import SCHEMA_VERSION, validate

STRATEGIES = ("stereo", "gender", "embedding")


def utc_now() -> str:
    """RFC 3339 UTC timestamp with milliseconds, as every event carries."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """First present attribute or key among ``names``."""
    for name in names:
        if isinstance(obj, Mapping) and name in obj:
            return obj[name]
        if obj is not None and not isinstance(obj, Mapping) and hasattr(obj, name):
            return getattr(obj, name)
    return default


def _seconds(obj: Any, *names: str) -> float:
    value = _get(obj, *names, default=0.0)
    return round(max(0.0, float(value or 0.0)), 3)


def role_of(label: str) -> str:
    """``agent`` / ``customer`` from a class name (2 classes, or the paper's 4 gendered ones)."""
    if label.endswith("agent"):
        return "agent"
    if label.endswith("customer"):
        return "customer"
    return "unknown"


def _spans(segments: Iterable[Any]) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []
    for seg in segments or ():
        if isinstance(seg, Mapping):
            start, end = seg["start"], seg["end"]
        elif isinstance(seg, Sequence):
            start, end = seg[0], seg[1]
        else:
            start, end = seg.start, seg.end
        if float(end) > float(start):
            spans.append((float(start), float(end)))
    return sorted(spans)


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


def _model_info(scorer_info: Any) -> dict[str, Any]:
    classes = [str(c) for c in _get(scorer_info, "classes", default=[])]
    return {
        "name": str(_get(scorer_info, "model_name", "name", default="unknown")),
        "version": str(_get(scorer_info, "model_version", "version", default="unknown")),
        "classes": classes,
        "provider": _get(scorer_info, "provider", default=None),
    }


def _agent_probability(speaker: Mapping[str, Any], classes: Sequence[str]) -> float:
    probs = speaker["probabilities"]
    return float(sum(probs.get(c, 0.0) for c in classes if role_of(c) == "agent"))


def _assign_pair(speakers: list[dict[str, Any]], classes: Sequence[str]) -> None:
    """A two-party call has one agent and one customer: when Eq. 5 gives both speakers the same
    role, the one with the higher agent probability is the agent and the other the customer.

    Eq. 5 labels each speaker on its own; on an unfamiliar line or voice both can lean the same
    way while their ranking is still right. ``label`` keeps the per-speaker argmax.
    """
    scored = [s for s in speakers if s["probabilities"]]
    if len(speakers) != 2 or len(scored) != 2 or scored[0]["role"] != scored[1]["role"]:
        return
    agent, customer = sorted(scored, key=lambda s: _agent_probability(s, classes), reverse=True)
    for spk, role in ((agent, "agent"), (customer, "customer")):
        spk["role"] = role
        conf = sum(p for c, p in spk["probabilities"].items() if role_of(c) == role)
        spk["confidence"] = round(min(1.0, max(0.0, float(conf))), 6)


def build_result(
    call_id: str,
    frontend_result: Any,
    speaker_probs: Mapping[str, Sequence[float] | np.ndarray],
    scorer_info: Any,
    latencies: Mapping[str, float],
    *,
    event: Mapping[str, Any] | None = None,
    worker: str | None = None,
) -> dict[str, Any]:
    """A valid ``call_result.v1`` dict.

    ``speaker_probs`` maps speaker id to its Eq. 4 mean (in ``scorer_info.classes`` order);
    a speaker without windows is absent and gets role ``unknown``. ``scorer_info`` is a Scorer
    or a dict with classes, model_name, model_version, provider. ``event`` (the call-finished
    event, optional) contributes tenant, agent_id, language, URI, metadata and event time.
    ``latencies`` (seconds per stage) are merged over the front end's own timings.
    """
    model = _model_info(scorer_info)
    classes: list[str] = model["classes"]
    streams = list(_get(frontend_result, "speakers", default=[]) or [])
    spans = {str(_get(s, "speaker")): _spans(_get(s, "segments", default=[])) for s in streams}
    turns, turn_count, interruptions = conversation_figures(spans)

    speakers: list[dict[str, Any]] = []
    for stream in streams:
        spk = str(_get(stream, "speaker"))
        windows = _get(stream, "windows")
        n_windows = int(windows.shape[0]) if hasattr(windows, "shape") else int(windows or 0)
        probs = speaker_probs.get(spk)
        if probs is not None and len(classes) == len(probs):
            mean = [round(float(p), 6) for p in probs]
            top = int(np.argmax(mean))
            label: str | None = classes[top]
            role = role_of(classes[top])
            confidence = sum(p for c, p in zip(classes, mean, strict=True) if role_of(c) == role)
            probabilities = dict(zip(classes, mean, strict=True))
        else:
            label, role, confidence, probabilities = None, "unknown", 0.0, {}
        gender = str(_get(stream, "gender", default="unknown") or "unknown")
        speakers.append(
            {
                "speaker": spk,
                "role": role,
                "label": label,
                "gender": gender if gender in ("female", "male") else "unknown",
                "probabilities": probabilities,
                "confidence": round(min(1.0, max(0.0, float(confidence))), 6),
                "talk_time_s": _seconds(stream, "talk_time_s"),
                "turns": turns[spk][0],
                "longest_turn_s": turns[spk][1],
                "windows": n_windows,
                "padded": bool(_get(stream, "padded", default=False)),
                "segments": [[round(s, 3), round(e, 3)] for s, e in spans[spk]],
            }
        )

    _assign_pair(speakers, classes)

    def best(role: str) -> str | None:
        cands = [s for s in speakers if s["role"] == role]
        return max(cands, key=lambda s: s["confidence"])["speaker"] if cands else None

    agent_t = round(sum(s["talk_time_s"] for s in speakers if s["role"] == "agent"), 3)
    cust_t = round(sum(s["talk_time_s"] for s in speakers if s["role"] == "customer"), 3)
    budget = _get(frontend_result, "budget", default={})
    facts = _get(frontend_result, "facts", default={})
    duration = _seconds(facts, "duration_s", "duration")
    strategy = str(_get(frontend_result, "strategy", default="gender"))
    timings = {str(k): float(v) for k, v in (_get(frontend_result, "timings") or {}).items()}
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
        "duration_s": duration,
        "speakers": speakers,
        "agent_speaker": best("agent"),
        "customer_speaker": best("customer"),
        "call": {
            "agent_talk_time_s": agent_t,
            "customer_talk_time_s": cust_t,
            "talk_to_listen_ratio": round(agent_t / cust_t, 4) if cust_t > 0 else None,
            "silence_s": _seconds(budget, "silence_s", "silence"),
            "music_s": _seconds(budget, "music_s", "music"),
            "noise_s": _seconds(budget, "noise_s", "noise"),
            "overlap_s": _seconds(budget, "overlap_s", "overlap"),
            "interruptions": interruptions,
            "turn_count": turn_count,
        },
        "separation_strategy": strategy if strategy in STRATEGIES else "gender",
        "model": model,
        "latency_s": {k: round(max(0.0, v), 4) for k, v in timings.items()},
        "produced_at": utc_now(),
        "worker": worker,
    }
    event_time = event.get("submitted_at") or event.get("ended_at")
    if event_time:
        result["event_time"] = event_time
    return validate("call_result", result)
