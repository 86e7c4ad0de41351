"""A call timeline picture: who spoke when, with which role, and how sure the model was.

Like the paper's Figure 8 (segments over time per speaker) but coloured by the *role* the model
gave each speaker, with the non-speech bands, the Eq. 4 class probabilities per speaker beside
each lane, and, for generated calls, the ground truth drawn beneath on the same time axis so a
reader sees at a glance whether roles and talk time match.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from pyannote.core import Segment, Timeline

from callroles.base.names import safe_name

Span = tuple[float, float]

ROLE_SHADES: dict[str, tuple[str, ...]] = {
    "agent": ("#1f77b4", "#6baed6", "#08519c"),
    "customer": ("#e6550d", "#fdae6b", "#a63603"),
    "unknown": ("#7f7f7f", "#bdbdbd", "#525252"),
}
EVENT_COLOURS = {
    "music": "#9467bd",
    "noise": "#8c564b",
    "silence": "#d4d4d4",
    "announcement": "#17becf",
    "no speech": "#d4d4d4",
}
GENDER_MARK = {"female": "F", "male": "M"}
LANE_H = 0.7


def role_colour(role: str, index: int = 0) -> str:
    """Colour of a speaker lane: the role's hue, one shade per speaker of that role."""
    shades = ROLE_SHADES.get(role, ROLE_SHADES["unknown"])
    return shades[index % len(shades)]


def load_truth(truth_dir: Path | None, call_id: str) -> dict[str, Any] | None:
    """The simulator's ground truth for a call (``truth/<call_id>.json``), if there is one."""
    if truth_dir is None:
        return None
    path = Path(truth_dir) / f"{call_id}.json"
    if not path.is_file():
        return None
    try:
        doc: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return doc


def gaps(spans: Sequence[Span], duration: float, min_gap: float = 0.3) -> list[Span]:
    """Stretches of the call where no speaker's segment is active."""
    speech = Timeline([Segment(float(a), float(b)) for a, b in spans if b > a]).support()
    found = speech.gaps(support=Segment(0.0, max(float(duration), 0.0)))
    return [(g.start, g.end) for g in found if g.duration >= min_gap]


def _bars(spans: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    return [(float(s), float(e) - float(s)) for s, e in spans if float(e) > float(s)]


def result_lanes(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One lane per detected speaker, agents first, with label, colour and segments."""
    speakers = sorted(
        result.get("speakers") or [],
        key=lambda s: ({"agent": 0, "customer": 1}.get(s["role"], 2), str(s["speaker"])),
    )
    seen: dict[str, int] = {}
    lanes = []
    for spk in speakers:
        role = str(spk["role"])
        idx = seen.get(role, 0)
        seen[role] = idx + 1
        mark = GENDER_MARK.get(str(spk["gender"]), "?")
        lanes.append(
            {
                "label": f"{role} ({mark})\n{spk['speaker']}",
                "colour": role_colour(role, idx),
                "spans": [(float(s), float(e)) for s, e in spk.get("segments") or []],
                "speaker": spk,
            }
        )
    return lanes


def truth_lanes(truth: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One lane per true speaker (agent first) from the simulator's ground truth."""
    speakers = truth.get("speakers") or {}
    order = sorted(speakers, key=lambda k: (speakers[k].get("role") != "agent", k))
    seen: dict[str, int] = {}
    lanes = []
    for spk in order:
        info = speakers[spk]
        role = str(info.get("role", "unknown"))
        idx = seen.get(role, 0)
        seen[role] = idx + 1
        spans = [
            (float(seg["start"]), float(seg["end"]))
            for seg in truth.get("segments") or []
            if seg.get("speaker") == spk
        ]
        mark = GENDER_MARK.get(str(info.get("gender")), "?")
        lanes.append(
            {"label": f"{role} ({mark})\n{spk}", "colour": role_colour(role, idx), "spans": spans}
        )
    return lanes


def _draw_lanes(ax: Any, lanes: list[dict[str, Any]], other: dict[str, list[Span]]) -> None:
    """Speaker lanes top-down, then one lane for silence, music and noise bands."""
    n = len(lanes) + 1
    for i, lane in enumerate(lanes):
        y = n - 1 - i
        ax.broken_barh(_bars(lane["spans"]), (y - LANE_H / 2, LANE_H), facecolors=lane["colour"])
    for kind, spans in other.items():
        hatch = "//" if kind == "music" else None
        ax.broken_barh(
            _bars(spans),
            (-LANE_H / 2, LANE_H),
            facecolors=EVENT_COLOURS.get(kind, "#cccccc"),
            edgecolor="#555555" if hatch else "none",
            linewidth=0,
            hatch=hatch,
            label=kind,
        )
    ax.set_yticks(range(n), ["non-speech"] + [lane["label"] for lane in reversed(lanes)])
    ax.tick_params(axis="y", labelsize=8)
    ax.set_ylim(-0.6, n - 0.4)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _draw_probabilities(ax: Any, lanes: list[dict[str, Any]], classes: Sequence[str]) -> None:
    """A stacked bar per speaker: the Eq. 4 mean probability of each class, aligned with lanes."""
    n = len(lanes) + 1
    agent_i = customer_i = 0
    class_colours: dict[str, str] = {}
    for cls in classes:
        if cls.endswith("agent"):
            class_colours[cls] = role_colour("agent", agent_i)
            agent_i += 1
        elif cls.endswith("customer"):
            class_colours[cls] = role_colour("customer", customer_i)
            customer_i += 1
        else:
            class_colours[cls] = role_colour("unknown")
    for i, lane in enumerate(lanes):
        y = n - 1 - i
        probs: Mapping[str, float] = lane["speaker"].get("probabilities") or {}
        left = 0.0
        for cls in classes:
            p = float(probs.get(cls, 0.0))
            ax.barh(y, p, left=left, height=LANE_H * 0.8, color=class_colours[cls])
            if p >= 0.12:
                ax.text(
                    left + p / 2, y, f"{p:.2f}", ha="center", va="center", fontsize=7, color="white"
                )
            left += p
        if not probs:
            ax.text(0.5, y, "no windows", ha="center", va="center", fontsize=7, color="#555555")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_yticks([])
    ax.set_xticks([0, 0.5, 1])
    ax.tick_params(labelsize=7)
    ax.set_title("P(class) per speaker", fontsize=8)
    handles = [Patch(color=c, label=k) for k, c in class_colours.items()]
    ax.legend(
        handles=handles,
        fontsize=6,
        loc="lower center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=2,
        frameon=False,
    )
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)


def _result_other(
    result: Mapping[str, Any], lanes: list[dict[str, Any]], duration: float
) -> dict[str, list[Span]]:
    """Non-speech bands from the result: explicit ones if it carries them, else speech gaps."""
    explicit = result.get("nonspeech") or result.get("events")
    if explicit:
        out: dict[str, list[Span]] = {}
        for ev in explicit:
            start, end, kind = (
                (ev["start"], ev["end"], ev["kind"]) if isinstance(ev, Mapping) else ev
            )
            out.setdefault(str(kind), []).append((float(start), float(end)))
        return out
    speech = [span for lane in lanes for span in lane["spans"]]
    return {"no speech": gaps(speech, duration)}


def _truth_other(truth: Mapping[str, Any]) -> dict[str, list[Span]]:
    """Truth's music/noise/silence events; silence is every gap when none is listed."""
    out: dict[str, list[Span]] = {"silence": [], "music": [], "noise": []}
    for ev in truth.get("events") or []:
        out.setdefault(str(ev.get("kind")), []).append((float(ev["start"]), float(ev["end"])))
    if not out["silence"]:
        busy = [(float(s["start"]), float(s["end"])) for s in truth.get("segments") or []]
        busy += [span for kind, spans in out.items() if kind != "silence" for span in spans]
        out["silence"] = gaps(busy, float(truth.get("duration_s") or 0.0))
    return out


def build_figure(result: Mapping[str, Any], truth: Mapping[str, Any] | None = None) -> Figure:
    """The timeline figure for one result event (and its ground truth, if given)."""
    lanes = result_lanes(result)
    duration = float(result.get("duration_s") or 0.0)
    if truth is not None:
        duration = max(duration, float(truth.get("duration_s") or 0.0))
    duration = max(duration, max((e for lane in lanes for _, e in lane["spans"]), default=1.0))
    t_lanes = truth_lanes(truth) if truth is not None else []
    rows = [len(lanes) + 1] + ([len(t_lanes) + 1] if truth is not None else [])
    fig = Figure(figsize=(12, 1.2 + 0.42 * sum(rows) + 0.5 * len(rows)), dpi=100)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(
        len(rows), 2, height_ratios=rows, width_ratios=(6.0, 1.0), hspace=0.55, wspace=0.04
    )
    ax = fig.add_subplot(grid[0, 0])
    _draw_lanes(ax, lanes, _result_other(result, lanes, duration))
    ax.set_xlim(0, duration)
    call = result["call"]
    ax.set_title(
        f"{result['call_id']}  model result: {result['model']['name']} "
        f"({result['separation_strategy']} separation), agent {call['agent_talk_time_s']:.1f} s, "
        f"customer {call['customer_talk_time_s']:.1f} s, music {call['music_s']:.1f} s, "
        f"silence {call['silence_s']:.1f} s",
        fontsize=9,
        loc="left",
    )
    _draw_probabilities(fig.add_subplot(grid[0, 1]), lanes, list(result["model"]["classes"]))
    if truth is not None:
        tax = fig.add_subplot(grid[1, 0], sharex=ax)
        _draw_lanes(tax, t_lanes, _truth_other(truth))
        talk = {
            k: float(v.get("talk_time_s", 0.0)) for k, v in (truth.get("speakers") or {}).items()
        }
        same = " same-gender," if truth.get("same_gender") else ""
        tax.set_title(
            f"ground truth:{same} {truth.get('channels', 1)} channel(s), talk "
            + ", ".join(f"{k} {v:.1f} s" for k, v in talk.items()),
            fontsize=9,
            loc="left",
        )
        tax.set_xlabel("time (s)")
        fig.add_subplot(grid[1, 1]).set_axis_off()
    else:
        ax.set_xlabel("time (s)")
    handles = [
        Patch(color=role_colour("agent"), label="agent"),
        Patch(color=role_colour("customer"), label="customer"),
    ]
    kinds = ["no speech"] + (["silence", "music", "noise"] if truth is not None else [])
    kinds += [k for k in _result_other(result, lanes, duration) if k not in kinds]
    for kind in kinds:
        handles.append(
            Patch(
                facecolor=EVENT_COLOURS.get(kind, "#cccccc"),
                hatch="//" if kind == "music" else None,
                label=kind,
            )
        )
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.11, 1.0),
        ncol=len(handles),
        fontsize=7,
        frameon=False,
    )
    fig.subplots_adjust(
        left=0.11, right=0.98, top=1 - 0.75 / fig.get_figheight(), bottom=0.5 / fig.get_figheight()
    )
    return fig


def timeline_png(result: Mapping[str, Any], truth: Mapping[str, Any] | None = None) -> bytes:
    """The timeline as PNG bytes (Agg backend, no display needed)."""
    fig = build_figure(result, truth)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_timeline(
    result: Mapping[str, Any], out_dir: Path, truth: Mapping[str, Any] | None = None
) -> Path:
    """Write ``<out_dir>/<call_id>.png`` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{safe_name(str(result['call_id']), 'call')}.png"
    path.write_bytes(timeline_png(result, truth))
    return path
