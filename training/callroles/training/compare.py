"""A Table-4-style comparison of run folders next to the paper's figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from callroles.training.model import PAPER_PARAMS

# The paper's Table 4: best epoch, train acc, validation acc, validation F1 per class.
PAPER_TABLE4: dict[tuple[str, int], dict[str, Any]] = {
    ("gru", 2): {"epoch": 435, "train": 0.9972, "val": 0.9721, "f1": [0.9621, 0.9864]},
    ("gru", 4): {
        "epoch": 307,
        "train": 0.9956,
        "val": 0.9702,
        "f1": [0.9561, 0.9784, 0.9973, 0.9568],
    },
    ("lstm", 2): {"epoch": 264, "train": 0.9951, "val": 0.9771, "f1": [0.9642, 0.9871]},
    ("lstm", 4): {
        "epoch": 313,
        "train": 0.9948,
        "val": 0.9744,
        "f1": [0.9442, 0.9793, 0.9941, 0.9708],
    },
}


def find_runs(paths: list[Path]) -> list[Path]:
    """Run folders among the paths (a path may be a run or a folder of runs)."""
    runs: list[Path] = []
    for p in paths:
        if (p / "meta.json").is_file():
            runs.append(p)
        elif p.is_dir():
            runs.extend(sorted(q.parent for q in p.glob("*/meta.json")))
    return runs


def _fmt(x: Any) -> str:
    return f"{x:.4f}" if isinstance(x, float) else str(x)


def compare_rows(runs: list[Path]) -> list[dict[str, Any]]:
    """One row per run and one for the paper's matching model."""
    rows: list[dict[str, Any]] = []
    for run in runs:
        meta = json.loads((run / "meta.json").read_text())
        report_path = run / "report.json"
        report = json.loads(report_path.read_text()) if report_path.is_file() else {}
        key = (meta["rnn"], int(meta["n_classes"]))
        tr = meta.get("training", {})
        rows.append(
            {
                "source": f"ours: {run.name}",
                "model": f"{key[0].upper()} {key[1]}-class",
                "params": meta["param_count"],
                "epoch": tr.get("best_epoch", "-"),
                "train": tr.get("train_accuracy", "-"),
                "val": report.get("window", {}).get("accuracy", "-"),
                "speaker": report.get("speaker", {}).get("accuracy", "-"),
                "f1": [v["f1"] for v in report.get("window", {}).get("per_class", {}).values()],
            }
        )
        paper = PAPER_TABLE4[key]
        rows.append(
            {
                "source": "paper",
                "model": f"{key[0].upper()} {key[1]}-class",
                "params": PAPER_PARAMS[key],
                "epoch": paper["epoch"],
                "train": paper["train"],
                "val": paper["val"],
                "speaker": "-",
                "f1": paper["f1"],
            }
        )
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table (paste-able into a README)."""
    head = (
        "| source | model | params | best epoch | train acc | val acc | speaker acc "
        "| F1 per class |"
    )
    lines = [head, "|" + "---|" * 8]
    for r in rows:
        f1 = ", ".join(f"{v:.4f}" for v in r["f1"]) or "-"
        cells = [
            r["source"],
            r["model"],
            f"{r['params']:,}",
            r["epoch"],
            r["train"],
            r["val"],
            r["speaker"],
            f1,
        ]
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    return "\n".join(lines)
