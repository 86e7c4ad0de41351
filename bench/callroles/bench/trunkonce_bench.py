"""``callroles bench trunkonce``: does scoring=trunk-once hold up with a trained model?

The conv layers are translation-equivariant, so with a 1 s hop ten overlapping windows recompute
nine seconds each. ``Scorer.score_speaker`` runs the trunk once per speaker stream. This checks,
on whole calls through the real front end, that the speaker-level decision (the paper's Eq. 4
mean and Eq. 5 argmax) stays the same as window-by-window scoring, and times both per call.
Writes bench/results/trunkonce.json.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from callroles.base.settings import get_settings
from callroles.bench.paths import RESULTS_DIR

RESULTS = RESULTS_DIR / "trunkonce.json"


def main(argv: list[str]) -> int:
    from callroles.frontend.pipeline import FrontEnd
    from callroles.models.crnn import Scorer

    p = argparse.ArgumentParser(prog="callroles bench trunkonce")
    p.add_argument("--corpus", type=Path, required=True, help="a simulate corpus folder")
    p.add_argument("--model", type=Path, help="ONNX model (default: the shipped one)")
    p.add_argument("--limit", type=int, default=20, help="calls to use")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)

    scorer = Scorer.load(args.model, stream_trunk=True)
    frontend = FrontEnd(get_settings())
    with (args.corpus / "calls.csv").open() as fh:
        rows = list(csv.DictReader(fh))[: args.limit]
    per_call: list[dict[str, Any]] = []
    for row in rows:
        front = frontend.process(args.corpus / row["file"])
        for s in front.speakers:
            if len(s.windows) == 0:
                continue
            t0 = time.perf_counter()
            exact = scorer.score(s.windows)
            t1 = time.perf_counter()
            fast = scorer.score_speaker(s.windows)
            t2 = time.perf_counter()
            per_call.append(
                {
                    "call_id": row["call_id"],
                    "speaker": s.speaker,
                    "windows": len(s.windows),
                    "eq4_abs_diff": float(np.max(np.abs(exact.mean(0) - fast.mean(0)))),
                    "eq5_same": bool(exact.mean(0).argmax() == fast.mean(0).argmax()),
                    "window_argmax_agreement": float(np.mean(exact.argmax(1) == fast.argmax(1))),
                    "max_abs_diff": float(np.max(np.abs(exact - fast))),
                    "windows_s": round(t1 - t0, 4),
                    "trunk_once_s": round(t2 - t1, 4),
                }
            )
        print(f"{row['call_id']}: {len(front.speakers)} speakers", flush=True)
    windows = sum(r["windows"] for r in per_call)
    t_exact = sum(r["windows_s"] for r in per_call)
    t_fast = sum(r["trunk_once_s"] for r in per_call)
    report = {
        "benchmark": "trunkonce",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_avg": os.getloadavg(),
        "model": str(scorer.path),
        "model_version": scorer.model_version,
        "data": f"{len(rows)} calls of {args.corpus.name} (synthetic, simulate)",
        "speakers": len(per_call),
        "windows": windows,
        "eq5_same_share": float(np.mean([r["eq5_same"] for r in per_call])),
        "eq4_abs_diff_max": float(max(r["eq4_abs_diff"] for r in per_call)),
        "eq4_abs_diff_median": float(np.median([r["eq4_abs_diff"] for r in per_call])),
        "window_argmax_agreement": float(
            sum(r["window_argmax_agreement"] * r["windows"] for r in per_call) / windows
        ),
        "windows_s": round(t_exact, 2),
        "trunk_once_s": round(t_fast, 2),
        "speedup": round(t_exact / t_fast, 2) if t_fast else None,
        "per_speaker": per_call,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    summary = {k: v for k, v in report.items() if k != "per_speaker"}
    print(json.dumps(summary, indent=1))
    print(f"wrote {args.out}")
    return 0
