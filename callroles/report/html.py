"""One self-contained HTML report for a batch of calls.

Everything a reader needs is inside the one file (images inlined as base64, styles inline, no
script, no external URL), so it can be mailed or opened offline behind a firewall. The result
JSON of each call is written beside it and linked relatively.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from callroles.base import __version__
from callroles.base.names import safe_name
from callroles.report import tables
from callroles.report.timeline import load_truth, role_colour, timeline_png

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
tbody.call{border-top:2px solid #888}
.agent{color:#1f77b4;font-weight:600}.customer{color:#e6550d;font-weight:600}
.unknown{color:#7f7f7f}.ok{color:#2a7d2a}.bad{color:#c0392b;font-weight:600}
.charts img{max-width:48%;margin-right:1%}
figure{margin:1em 0}figure img{max-width:100%}figcaption{font-size:.85em;color:#555}
.muted{color:#666;font-size:.85em}
"""


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _strip_box(ax: Any, groups: Mapping[str, Sequence[float]], colours: Sequence[str]) -> None:
    """Box plot with every call shown as a point (batches are often small)."""
    names = list(groups)
    data = [list(groups[n]) for n in names]
    ax.boxplot(data, tick_labels=names, widths=0.5, showfliers=False)
    for i, (values, colour) in enumerate(zip(data, colours, strict=True), start=1):
        xs = [i + 0.12 * ((j % 5) - 2) / 2 for j in range(len(values))]
        ax.scatter(xs, values, s=18, color=colour, alpha=0.8, zorder=3)
    ax.set_ylabel("talk time per call (s)")
    top = max((v for values in data for v in values), default=0.0)
    ax.set_ylim(0, max(1.0, top * 1.08))
    ax.grid(axis="y", color="#e0e0e0")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def role_chart(results: Sequence[Mapping[str, Any]]) -> bytes:
    """Talk time per call, agent vs customer."""
    fig = Figure(figsize=(5.5, 3.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _strip_box(
        ax, tables.talk_time_by_role(results), [role_colour("agent"), role_colour("customer")]
    )
    ax.set_title(f"Talk time by role ({len(results)} calls)", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def agent_chart(results: Sequence[Mapping[str, Any]]) -> bytes:
    """Agent talk time per call, grouped by the call's agent id."""
    groups = tables.agent_talk_by_agent(results)
    fig = Figure(figsize=(max(5.5, 0.6 * len(groups) + 2), 3.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _strip_box(ax, groups, [role_colour("agent")] * len(groups))
    ax.set_title("Agent talk time by agent id", fontsize=10)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.tight_layout()
    return _png(fig)


def _img(data: bytes, alt: str) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _num(value: float, digits: int = 1) -> str:
    return f'<td class="num">{value:.{digits}f}</td>'


def _truth_cell(role: str, true_role: str | None) -> str:
    if true_role is None:
        return '<td class="muted">n/a</td>'
    if true_role == role:
        return f'<td class="ok">&#10003; {html.escape(true_role)}</td>'
    return f'<td class="bad">&#10007; {html.escape(true_role)}</td>'


def call_rows(result: Mapping[str, Any], json_href: str, truth: Mapping[str, Any] | None) -> str:
    """A ``<tbody class="call">`` with one row per speaker; call-wide cells span the rows."""
    rows = tables.speaker_rows(result)
    true = tables.truth_roles(result, truth)
    call = result["call"]
    cid = html.escape(str(result["call_id"]))
    n = max(1, len(rows))
    span = f' rowspan="{n}"'
    lead = (
        f'<td{span}><a href="{html.escape(json_href)}">{cid}</a>'
        f'<br><span class="muted">{html.escape(str(result.get("agent_id") or ""))}</span></td>'
        f'<td{span} class="num">{tables.fmt_seconds(float(result["duration_s"]))}</td>'
        f"<td{span}>{html.escape(str(result['separation_strategy']))}</td>"
    )
    tail = (
        f'<td{span} class="num">{float(call["silence_s"]):.1f}</td>'
        f'<td{span} class="num">{float(call["music_s"]):.1f}</td>'
        f'<td{span} class="num">{float(call["overlap_s"]):.1f}</td>'
        f'<td{span} class="num">{tables.total_latency(result):.1f}</td>'
    )
    out = [f'<tbody class="call" data-call-id="{cid}">']
    if not rows:
        out.append(f'<tr>{lead}<td colspan="7" class="muted">no speaker found</td>{tail}</tr>')
    for i, row in enumerate(rows):
        role = html.escape(row["role"])
        cells = (
            f'<td>{html.escape(row["speaker"])}</td><td class="{role}">{role}'
            f'<br><span class="muted">by {html.escape(row["decided_by"])}</span></td>'
            f"<td>{html.escape(row['gender'])}</td>{_num(row['talk_s'])}"
            f'<td class="num">{100 * row["share"]:.0f}%</td>{_num(row["confidence"], 2)}'
            + _truth_cell(row["role"], true.get(row["speaker"]) if truth else None)
        )
        out.append(f"<tr>{lead if i == 0 else ''}{cells}{tail if i == 0 else ''}</tr>")
    out.append("</tbody>")
    return "\n".join(out)


HEADER = (
    "<tr><th>call</th><th>duration</th><th>separation</th><th>speaker</th><th>role</th>"
    "<th>gender</th><th>talk (s)</th><th>share</th><th>confidence</th><th>truth</th>"
    "<th>silence (s)</th><th>music (s)</th><th>overlap (s)</th><th>latency (s)</th></tr>"
)


def build_report(
    results: Sequence[Mapping[str, Any]],
    out_dir: Path,
    *,
    truth_dir: Path | None = None,
    title: str = "callroles report",
    notes: Sequence[str] = (),
) -> Path:
    """Write ``index.html`` plus ``results/<call>.json`` and ``timelines/<call>.png``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results").mkdir(exist_ok=True)
    (out_dir / "timelines").mkdir(exist_ok=True)
    results = tables.latest_per_call(results)
    bodies: list[str] = []
    figures: list[str] = []
    for res in results:
        name = safe_name(str(res["call_id"]), "call")
        (out_dir / "results" / f"{name}.json").write_text(json.dumps(res, indent=2), "utf-8")
        truth = load_truth(truth_dir, tables.truth_id(res))
        bodies.append(call_rows(res, f"results/{name}.json", truth))
        png = timeline_png(res, truth)
        (out_dir / "timelines" / f"{name}.png").write_bytes(png)
        cid = html.escape(str(res["call_id"]))
        caption = "model result" + (" (top) and ground truth (bottom)" if truth else "")
        figures.append(
            f'<figure class="timeline" id="t-{html.escape(name)}">{_img(png, f"timeline {cid}")}'
            f"<figcaption>{cid}: {caption}</figcaption></figure>"
        )
    charts = ""
    if results:
        charts = (
            '<div class="charts">'
            + _img(role_chart(results), "talk time by role")
            + _img(agent_chart(results), "agent talk time by agent")
            + "</div>"
        )
    models = sorted({f"{r['model']['name']} {r['model']['version']}" for r in results})
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    note_html = "".join(f'<p class="muted">{html.escape(n)}</p>' for n in notes)
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{html.escape(title)}</title><style>{CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="muted">{len(results)} calls; model {html.escape(", ".join(models) or "n/a")};
written {when} by callroles {__version__}. Share is each speaker's part of all speech in the call;
confidence is the speaker's summed probability of its role (Eq. 4). The truth column compares with
the simulator's ground truth where there is one.</p>
{note_html}
<h2>Calls</h2>
<table id="calls"><thead>{HEADER}</thead>
{"".join(bodies)}
</table>
<h2>Talk time distributions</h2>
{charts or '<p class="muted">no calls</p>'}
<h2>Timelines</h2>
{"".join(figures)}
</body></html>
"""
    index = out_dir / "index.html"
    index.write_text(doc, "utf-8")
    return index
