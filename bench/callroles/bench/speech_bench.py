"""``callroles bench speech``: which evidence decides where somebody speaks, measured side by side.

Runs the front end once per rule of ``callroles.frontend.speech`` (activity model alone, silero-vad
alone, either) on the same files, in one process: the real calls and recordings in
``../shared/data``, inaSpeechSegmenter's reference files, the synthetic test corpus (seed 1234)
and, with ``--corpus``, a larger synthetic corpus for per-speaker talk time (the issue's
seed-4242 set: ``callroles simulate --calls 30 --seed 4242``). Writes
``bench/results/speech-evidence.json``. The rule is chosen by what holds on every set, never by
tuning a threshold to the few real files (they are evaluation data).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from callroles.base.settings import get_settings
from callroles.bench.eval_bench import SHARED, eval_sets
from callroles.bench.evaluation import evaluate_dir
from callroles.bench.paths import RESULTS_DIR
from callroles.frontend.pipeline import FrontEnd
from callroles.frontend.speech import RULES
from callroles.training.talktime import evaluate_corpus

RESULTS = RESULTS_DIR / "speech-evidence.json"


def _agreement(result: dict[str, Any]) -> float | None:
    """Speech/non-speech agreement over all files, weighted by duration."""
    files = result["files"]
    total = sum(f["duration_s"] for f in files)
    return (
        round(sum(f["speech_agreement"] * f["duration_s"] for f in files) / total, 4)
        if total
        else None
    )


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="callroles bench speech")
    p.add_argument("--corpus", type=Path, help="a synthetic corpus for talk time per speaker")
    p.add_argument("--rules", default=",".join(RULES), help="comma list of rules to compare")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    settings = get_settings()
    report: dict[str, Any] = {
        "benchmark": "speech-evidence",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "shared_data": str(SHARED) if SHARED.is_dir() else f"absent ({SHARED})",
        "segmenter_precision": settings.segmenter_precision,
        "rules": {},
    }
    for rule in [r for r in args.rules.split(",") if r]:
        frontend = FrontEnd(settings.model_copy(update={"speech_evidence": rule}))
        out: dict[str, Any] = {}
        for name, folder, refs, kind in eval_sets(settings):
            if not folder.is_dir():
                print(f"{name}: absent ({folder}); skipped")
                continue
            r = evaluate_dir(folder, frontend, refs)
            out[name] = {
                "data": kind,
                **r["total"],
                "speech_agreement": _agreement(r),
                "files": {
                    f["file"]: {
                        k: f[k]
                        for k in (
                            "der",
                            "speech_agreement",
                            "background_as_talk_s",
                            "talk_time_error",
                        )
                    }
                    for f in r["files"]
                },
            }
            print(f"[{rule}] {name} [{kind}]: {json.dumps(out[name])}", flush=True)
        if args.corpus:
            r = evaluate_corpus(frontend, args.corpus, 0, None)
            out[f"talk time {args.corpus.name}"] = {"data": "SYNTHETIC", **r["summary"]}
            print(
                f"[{rule}] {args.corpus.name} [SYNTHETIC]: {json.dumps(r['summary'])}", flush=True
            )
        report["rules"][rule] = out
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0
