"""Per-speaker talk time of the front end against a generated corpus' truth.

The measure the streaming issue sets: each speaker's talk time within 5% of the truth. Speakers
are matched by talk-time order, as in the end-to-end test, so a same-gender call whose clusters
are swapped is not penalised twice; role errors are the role model's business. Synthetic calls
only: the truth comes from the simulator.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from callroles.call.pipeline import front_end

TARGET = 0.05


def evaluate_call(frontend: Any, corpus: Path, truth: dict[str, Any]) -> dict[str, Any]:
    """One call: truth and measured talk time per speaker, sorted, with relative errors."""
    audio = next((corpus / "audio").glob(truth["call_id"] + ".*"))
    result = front_end(audio, models=frontend)
    want = sorted(s["talk_time_s"] for s in truth["speakers"].values())
    got = sorted(s.talk_time_s for s in result.speakers)
    pairs = list(zip(want, got, strict=False))
    return {
        "call_id": truth["call_id"],
        "duration_s": truth["duration_s"],
        "same_gender": bool(truth.get("same_gender")),
        "channels": truth.get("channels", 1),
        "strategy": result.strategy,
        "speakers": [
            {"truth_s": round(w, 3), "measured_s": round(g, 3), "error": round((g - w) / w, 4)}
            for w, g in pairs
        ],
        "n_found": len(got),
    }


def summarise(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and largest absolute error, and how many speakers are within 5%."""
    errors = np.abs([s["error"] for c in calls for s in c["speakers"]])
    if not len(errors):
        return {"speakers": 0}
    missing = sum(len(c["speakers"]) < 2 for c in calls)
    return {
        "speakers": int(len(errors)),
        "within_5_percent": int((errors <= TARGET).sum()),
        "median_abs_error": round(float(np.median(errors)), 4),
        "max_abs_error": round(float(errors.max()), 4),
        "calls_with_a_speaker_missing": missing,
    }


def evaluate_corpus(
    frontend: Any,
    corpus: Path,
    skip: int = 0,
    limit: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every call (after ``skip``, at most ``limit``) of a generated corpus, and the summary."""
    truths = sorted((corpus / "truth").glob("*.json"))[skip:]
    truths = truths[:limit] if limit is not None else truths
    calls = []
    for i, path in enumerate(truths, 1):
        row = evaluate_call(frontend, corpus, json.loads(path.read_text()))
        calls.append(row)
        errs = " ".join(f"{100 * s['error']:+.1f}%" for s in row["speakers"])
        log(f"[talk-time] {i}/{len(truths)} {row['call_id']} {row['strategy']}: {errs}")
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for c in calls:
        kind = "stereo" if c["channels"] == 2 else ("same" if c["same_gender"] else "opposite")
        by_kind.setdefault(kind, []).append(c)
    return {
        "corpus": str(corpus),
        "skip": skip,
        "synthetic": True,
        "summary": summarise(calls),
        "by_kind": {k: summarise(v) for k, v in sorted(by_kind.items())},
        "calls": calls,
    }


def plot_errors(reports: dict[str, dict[str, Any]], dst: Path, title: str) -> None:
    """Per-speaker relative error by call kind, one column of dots per method; the 5% band."""
    import matplotlib  # noqa: PLC0415 (matplotlib: loaded only when drawing)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 (matplotlib: loaded only when drawing)

    kinds = ("opposite", "same", "stereo")
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.axhspan(-100 * TARGET, 100 * TARGET, color="#d9f0d3", label="within 5%")
    for m, (name, report) in enumerate(reports.items()):
        for k, kind in enumerate(kinds):
            errs = [
                100 * s["error"]
                for c in report["calls"]
                if kind
                == ("stereo" if c["channels"] == 2 else "same" if c["same_gender"] else "opposite")
                for s in c["speakers"]
            ]
            x = k + (m - (len(reports) - 1) / 2) * 0.25 + np.linspace(-0.05, 0.05, len(errs))
            ax.scatter(x, errs, s=12, label=name if k == 0 else None, color=f"C{m}")
    ax.set_xticks(range(len(kinds)), [f"{k}-gender" if k != "stereo" else k for k in kinds])
    ax.set_ylabel("talk time error, % of truth")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    plt.close(fig)
