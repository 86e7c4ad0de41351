"""A picture of what ``callroles sounds learn`` found: where each learnt sound plays in each call.

A user checks a learnt library by eye before trusting it: a greeting should sit at the start of
many calls, hold music in the middle; a "sound" scattered between turns would be a voice.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from callroles.sounds.recurring import Sound

SHADES = {
    "music": ("#9467bd", "#c5b0d5", "#6a3d9a"),
    "announcement": ("#17becf", "#9edae5", "#0e7c86"),
}
MAX_ROWS = 40


def plot_library(sounds: list[Sound], out: Path, title: str) -> Path:
    """One row per call that plays a learnt sound (the first ``MAX_ROWS``), a bar per play."""
    calls = sorted({c for s in sounds for c in s.plays})[:MAX_ROWS]
    fig = Figure(figsize=(10, 1.6 + 0.22 * max(len(calls), 1)))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    handles = []
    for n, sound in enumerate(sounds, 1):
        shades = SHADES.get(sound.kind, SHADES["announcement"])
        colour = shades[(n - 1) % len(shades)]
        for row, cid in enumerate(calls):
            for a, b in sound.plays.get(cid, []):
                ax.broken_barh([(a, b - a)], (row - 0.35, 0.7), color=colour)
        label = f"sound{n:02d} {sound.kind}, {sound.seconds:.1f} s, in {len(sound.plays)} calls"
        handles.append(Patch(color=colour, label=label))
    ax.set_yticks(range(len(calls)), calls, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("seconds into the call")
    ax.set_title(title if sounds else f"{title}: nothing recurs", fontsize=10)
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.06),
                  ncol=2, frameon=False)  # fmt: skip
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out
