"""Result events as rows and text tables: what the demo prints and the HTML report tabulates.

Reading is strict about shape (every event is checked against ``call_result.v1``) so that a
report never silently shows half a call; the error names the file and line to fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from callroles.base.errors import InputError
from callroles.schemas import SchemaError, validate

Result = Mapping[str, Any]

SPEAKER_COLUMNS = (
    "call_id",
    "speaker",
    "role",
    "gender",
    "talk_s",
    "share",
    "confidence",
    "silence_s",
    "music_s",
    "overlap_s",
    "latency_s",
)


class ReportInputError(InputError):
    """Result events that cannot be read (not JSON, not a call_result v1)."""

    code = "report_input"
    stage = "report"


def _check(payload: Any, where: str) -> dict[str, Any]:
    try:
        return validate("call_result", payload, strict=False)  # a consumer: next year's v1 too
    except SchemaError as exc:
        raise ReportInputError(f"{where}: {exc}") from exc


def parse_results(text: str, source: str = "<input>") -> list[dict[str, Any]]:
    """Result events from JSON lines, a JSON array, or one JSON object."""
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ReportInputError(f"{source}: not valid JSON ({exc})") from exc
        return [_check(item, f"{source} item {i}") for i, item in enumerate(items)]
    results: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            payload = decoder.decode(line)
        except json.JSONDecodeError:
            if lineno == 1:  # one pretty-printed object
                try:
                    return [_check(json.loads(stripped), source)]
                except json.JSONDecodeError:
                    pass
            raise ReportInputError(
                f"{source} line {lineno}: not a JSON object; expected one call_result event "
                "per line (JSON lines), a JSON array, or one JSON object"
            ) from None
        results.append(_check(payload, f"{source} line {lineno}"))
    return results


def load_results(path: Path) -> list[dict[str, Any]]:
    """Read result events from a file (see :func:`parse_results`)."""
    if not path.is_file():
        raise ReportInputError(f"results file {path} does not exist")
    return parse_results(path.read_text("utf-8"), str(path))


def latest_per_call(results: Iterable[Result]) -> list[dict[str, Any]]:
    """One result per call id (the latest produced), in first-seen order."""
    best: dict[str, dict[str, Any]] = {}
    for res in results:
        cid = str(res["call_id"])
        old = best.get(cid)
        if old is None or str(res.get("produced_at", "")) >= str(old.get("produced_at", "")):
            best[cid] = dict(res)
    return list(best.values())


def truth_id(result: Result) -> str:
    """The id of a result's ground truth: ``metadata.truth_id`` when the submitter set one (the
    demo gives each run fresh call ids), else the call id."""
    meta = result.get("metadata") or {}
    return str(meta.get("truth_id") or result["call_id"])


def speaker_rows(result: Result) -> list[dict[str, Any]]:
    """One row per speaker: role, gender, talk time and share of all speech, confidence."""
    speakers = list(result.get("speakers") or [])
    total = sum(float(s["talk_time_s"]) for s in speakers)
    call = result["call"]
    rows = []
    for spk in sorted(speakers, key=lambda s: (s["role"] != "agent", str(s["speaker"]))):
        talk = float(spk["talk_time_s"])
        rows.append(
            {
                "call_id": result["call_id"],
                "speaker": str(spk["speaker"]),
                "role": spk["role"],
                "gender": spk["gender"],
                "talk_s": talk,
                "share": talk / total if total > 0 else 0.0,
                "confidence": float(spk["confidence"]),
                "decided_by": spk.get("role_source", "model"),
                "silence_s": float(call["silence_s"]),
                "music_s": float(call["music_s"]),
                "overlap_s": float(call["overlap_s"]),
                "latency_s": total_latency(result),
            }
        )
    return rows


def total_latency(result: Result) -> float:
    """Seconds the pipeline spent on the call (``total``, else the sum of the stages)."""
    lat = result.get("latency_s") or {}
    if "total" in lat:
        return float(lat["total"])
    return float(sum(float(v) for v in lat.values()))


def fmt_seconds(value: float) -> str:
    """``mm:ss.s`` for readability in tables."""
    minutes, seconds = divmod(max(0.0, value), 60.0)
    return f"{int(minutes)}:{seconds:04.1f}"


def _cell(key: str, value: Any) -> str:
    if key == "share":
        return f"{100 * value:.0f}%"
    if key == "confidence":
        return f"{value:.2f}"
    if key.endswith("_s") and isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain aligned text table (terminal output; no extra dependency)."""
    cells = [[_cell(c, row.get(c, "")) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [bool(cells) and all(_is_number(r[i]) for r in cells) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(columns)), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _is_number(text: str) -> bool:
    try:
        float(text.rstrip("%"))
    except ValueError:
        return False
    return True


def call_table(result: Result) -> str:
    """The demo's table for one call: a header line, then one row per speaker."""
    call = result["call"]
    head = (
        f"call {result['call_id']}  duration {fmt_seconds(float(result['duration_s']))}  "
        f"strategy {result['separation_strategy']}  model {result['model']['name']}"
        f"@{result['model']['version']}"
    )
    if result.get("agent_id"):
        head += f"  agent_id {result['agent_id']}"
    cols = ("speaker", "role", "decided_by", "gender", "talk_s", "share", "confidence")
    foot = (
        f"silence {float(call['silence_s']):.1f} s  music {float(call['music_s']):.1f} s  "
        f"noise {float(call['noise_s']):.1f} s  overlap {float(call['overlap_s']):.1f} s  "
        f"latency {total_latency(result):.1f} s"
    )
    return "\n".join([head, render_table(speaker_rows(result), cols), foot])


def talk_time_by_role(results: Iterable[Result]) -> dict[str, list[float]]:
    """Talk time per call for each role (agent, customer, unknown)."""
    out: dict[str, list[float]] = {"agent": [], "customer": []}
    for res in results:
        call = res["call"]
        out["agent"].append(float(call["agent_talk_time_s"]))
        out["customer"].append(float(call["customer_talk_time_s"]))
    return out


def agent_talk_by_agent(results: Iterable[Result]) -> dict[str, list[float]]:
    """Agent talk time per call, grouped by the call's agent id (``unknown`` if absent)."""
    out: dict[str, list[float]] = {}
    for res in results:
        key = str(res.get("agent_id") or "unknown")
        out.setdefault(key, []).append(float(res["call"]["agent_talk_time_s"]))
    return dict(sorted(out.items()))


def _overlap(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> float:
    total = 0.0
    for s1, e1 in a:
        for s2, e2 in b:
            total += max(0.0, min(float(e1), float(e2)) - max(float(s1), float(s2)))
    return total


def truth_roles(result: Result, truth: Mapping[str, Any] | None) -> dict[str, str]:
    """For each detected speaker, the true role of the truth speaker it overlaps most."""
    if not truth:
        return {}
    true_spans: dict[str, list[tuple[float, float]]] = {}
    for seg in truth.get("segments") or []:
        true_spans.setdefault(str(seg["speaker"]), []).append((seg["start"], seg["end"]))
    roles: dict[str, str] = {}
    for spk in result.get("speakers") or []:
        scores = {k: _overlap(spk.get("segments") or [], v) for k, v in true_spans.items()}
        if scores and max(scores.values()) > 0:
            best = max(scores, key=lambda k: scores[k])
            roles[str(spk["speaker"])] = str(truth["speakers"][best]["role"])
    return roles
