"""One call's page: its timeline (speakers coloured by role, no-speech stretches, overlap) with
the player's playhead, the speakers and what decided each, the flags in words, what the last
correction taught, the revisions, and the buttons that correct the roles."""

from __future__ import annotations

from html import escape
from itertools import combinations
from typing import Any
from urllib.parse import quote

from pyannote.core import Segment, Timeline

from callroles.streaming.settings import StreamingSettings

from .pages import explain_flag, layout, shown

Span = tuple[float, float]


def overlaps(speakers: list[dict[str, Any]]) -> list[Span]:
    """Where two speakers' segments cross (the result carries only their total)."""
    found: list[Span] = []
    for a, b in combinations(speakers, 2):
        for s1, e1 in a.get("segments") or []:
            for s2, e2 in b.get("segments") or []:
                if min(e1, e2) > max(s1, s2):
                    found.append((max(s1, s2), min(e1, e2)))
    return _support(found)


def quiet(speakers: list[dict[str, Any]], duration: float, min_gap: float = 0.3) -> list[Span]:
    """Where nobody speaks: silence, music or announcements (the result gives their totals)."""
    speech = Timeline(
        [Segment(float(s), float(e)) for p in speakers for s, e in p["segments"] if e > s]
    )
    gaps = speech.support().gaps(support=Segment(0.0, max(duration, 0.0)))
    return [(g.start, g.end) for g in gaps if g.duration >= min_gap]


def _support(spans: list[Span]) -> list[Span]:
    return [
        (g.start, g.end) for g in Timeline([Segment(a, b) for a, b in spans if b > a]).support()
    ]


def _lane(name: str, kind: str, spans: list[Span], duration: float, attrs: str = "") -> str:
    d = max(duration, 1e-6)
    segs = "".join(
        f"<span class='seg {kind}' style='left:{100 * s / d:.3f}%;width:{100 * (e - s) / d:.3f}%'"
        f" title='{s:.1f}-{e:.1f} s'></span>"
        for s, e in spans
        if e > s
    )
    return f"<div class='lane' {attrs}><span class='name'>{escape(name)}</span>{segs}</div>"


def timeline(result: dict[str, Any]) -> str:
    """The timeline as HTML boxes on one time axis; the playhead moves over it."""
    duration = float(result.get("duration_s") or 0.0)
    order = {"agent": 0, "customer": 1}
    speakers = sorted(result["speakers"], key=lambda s: (order.get(s["role"], 2), s["speaker"]))
    lanes = [
        _lane(f"{s['speaker']} {s['role']}", s["role"] if s["role"] in order else "unknown",
              [(float(a), float(b)) for a, b in s["segments"]], duration,
              f"data-speaker='{escape(s['speaker'])}' data-role='{escape(s['role'])}'")
        for s in speakers
    ]  # fmt: skip
    lanes.append(_lane("overlap", "overlap", overlaps(speakers), duration, "data-lane='overlap'"))
    lanes.append(_lane("no speech", "silence", quiet(speakers, duration), duration,
                       "data-lane='quiet'"))  # fmt: skip
    return (
        f"<div id='timeline' data-duration='{duration:.3f}'><div id='playhead' data-t='0'></div>"
        f"{''.join(lanes)}</div>"
    )


def _taught(result: dict[str, Any]) -> str:
    enrol = result.get("enrolment")
    corrected = any(s.get("role_source") == "correction" for s in result["speakers"])
    if isinstance(enrol, dict):
        extra = "".join(
            f", {k} {escape(str(enrol[k]))}"
            for k in ("similarity", "samples")
            if enrol.get(k) is not None
        )
        return (
            f"<p id='taught'>The agent {escape(str(enrol.get('agent_id')))}'s voiceprint: "
            f"<b>{escape(str(enrol.get('action')))}</b> ({escape(str(enrol.get('reason')))}"
            f"{extra}).</p>"
        )
    if corrected and not result.get("agent_id"):
        why = "the call names no agent id, so there is no voiceprint to teach"
    elif corrected:
        why = "this revision taught the voiceprint nothing (no enrolment in the result)"
    else:
        why = "no correction and no voiceprint lesson in this revision"
    return f"<p id='taught' class='muted'>Taught nothing: {escape(why)}.</p>"


def _speakers(result: dict[str, Any], settings: StreamingSettings) -> str:
    rows = []
    for s in result["speakers"]:
        sim = s.get("voiceprint_similarity")
        rows.append(
            f"<tr data-speaker='{escape(s['speaker'])}'><td>{escape(s['speaker'])}</td>"
            f"<td class='role'>{escape(s['role'])}</td><td>{escape(s['gender'])}</td>"
            f"<td>{s['talk_time_s']:.1f} s</td><td>{s['confidence']:.2f}</td>"
            f"<td>{escape(str(s.get('role_source', 'model')))}</td>"
            f"<td>{'' if sim is None else f'{sim:.2f}'}</td>"
            f"<td><button data-agent='{escape(s['speaker'])}'>this voice is the agent</button>"
            "</td></tr>"
        )
    return (
        "<table id='speakers'><thead><tr><th>speaker</th><th>role</th><th>gender</th>"
        "<th>talk</th><th>confidence</th><th>decided by</th><th>voiceprint similarity</th>"
        f"<th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _revisions(lines: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{int(r.get('revision') or 0)}</td><td>{escape(str(r.get('produced_at')))}</td>"
        f"<td>{escape(str(r.get('agent_speaker')))}</td>"
        f"<td>{escape(', '.join(r.get('role_source') or []))}</td>"
        f"<td>{escape(str((r.get('enrolment') or {}).get('action', '')))}</td>"
        f"<td>{'replay' if r.get('replay') else ''}</td></tr>"
        for r in lines
    )
    return (
        "<table id='revisions'><thead><tr><th>revision</th><th>produced</th><th>agent</th>"
        f"<th>decided by</th><th>voiceprint</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
    )


def call_page(
    result: dict[str, Any], revisions: list[dict[str, Any]], audio_problem: str | None,
    settings: StreamingSettings,
) -> str:  # fmt: skip
    """The page of one call (``audio_problem``: why the recording cannot be played, if so)."""
    call_id = str(result["call_id"])
    base = f"/review/calls/{quote(call_id, safe='')}"
    c = result["call"]
    flags = (
        "".join(
            f"<li data-flag='{escape(f)}'><b>{escape(f)}</b>: {escape(explain_flag(f))}</li>"
            for f in result.get("flags") or []
        )
        or "<li class='muted'>none: the result does not doubt itself</li>"
    )
    meta = "".join(
        f"<tr><td>{escape(str(k))}</td><td>{shown(v, settings)}</td></tr>"
        for k, v in (result.get("metadata") or {}).items()
    )
    player = (
        f"<p class='msg error' id='audio-problem'>{escape(audio_problem)}</p>"
        if audio_problem
        else f"<audio id='player' controls preload='metadata' src='{base}/audio'></audio>"
    )
    swap = ""
    if result.get("agent_speaker") and result.get("customer_speaker"):
        other = escape(result["customer_speaker"])
        swap = f"<button id='swap' data-agent='{other}'>swap roles</button> "
    undo = (
        "<button id='undo'>withdraw the correction</button>"
        if any(s.get("role_source") == "correction" for s in result["speakers"])
        else ""
    )
    revision = int(result.get("revision") or 0)
    body = (
        f"<p><a href='/review'>&larr; calls</a></p><h1 id='title'>{escape(call_id)}</h1>"
        f"<div id='call' data-revision='{revision}' data-correct-url='{base}/correction' "
        f"data-state-url='{base}/state'>"
        f"<p>agent id {shown(result.get('agent_id') or '-', settings)}, "
        f"{float(result['duration_s']):.1f} s, revision <b id='revision'>{revision}</b>, "
        f"produced {escape(str(result.get('produced_at')))}, model "
        f"{escape(str(result['model']['version']))}, separated by "
        f"{escape(str(result.get('separation_strategy')))}</p>"
        f"<p>agent {c['agent_talk_time_s']:.1f} s, customer {c['customer_talk_time_s']:.1f} s, "
        f"silence {c['silence_s']:.1f} s, music {c['music_s']:.1f} s, announcements "
        f"{float(c.get('announcement_s', 0.0)):.1f} s, overlap {c['overlap_s']:.1f} s, "
        f"{c['interruptions']} interruptions, {c['turn_count']} turns</p>"
        f"{timeline(result)}{player}<h2>Speakers</h2>{_speakers(result, settings)}"
        f"<p>{swap}{undo}</p><div id='status' data-state='idle'></div>{_taught(result)}"
        f"<h2>Flags</h2><ul id='flags'>{flags}</ul>"
        f"<h2>Metadata</h2><table id='metadata'>{meta}</table>"
        f"<h2>Revisions</h2>{_revisions(revisions)}</div>"
    )
    return layout(f"callroles review: {call_id}", body)
