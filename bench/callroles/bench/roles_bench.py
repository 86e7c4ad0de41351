"""``callroles bench roles``: the role model alone (no voiceprint, no channel), per data set, with
its calibration.

Sets: generated calls held out of training with the simulator's usual paths (agent on a
headset, customer on a phone line; SYNTHETIC, seed 4242), generated calls with random paths
(``simulate --random-paths``: the channel no longer tells the roles; SYNTHETIC, seed 777; the
temperature is fitted on another seed, 778, by ``callroles calibrate``) and the real Callytics
calls in ``../shared/data/real-calls`` (evaluation only, never fitted on), and generated calls
in voices held out of training (MBROLA, with ``--lines varied`` and ``--sounds debian``;
SYNTHETIC, seed 4343). Per set: pair-rule
accuracy, expected calibration error at temperature 1 and at the model's fitted temperature,
the ECE a perfectly calibrated model would show on the same calls (``ece_if_calibrated``: on 20
calls it is 0.09-0.19, so 100 calls per set is the default) and wrong decisions made with
confidence 0.9 or more. Writes ``bench/results/roles.json``; ``--sets mbrola --limit 500
--out ...`` measures one set at a size where the ECE floor is near 0.035.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from callroles.base.settings import get_settings
from callroles.bench.eval_bench import HELD_OUT_SOURCES, SHARED, held_out_sources_corpus
from callroles.bench.evaluation import score_real
from callroles.bench.paths import RESULTS_DIR
from callroles.call.pipeline import load_models
from callroles.export.calibrate import PairScore, score_corpus, summary
from callroles.lab.simulate import generate_corpus, generator_fingerprint

RESULTS = RESULTS_DIR / "roles.json"
SETS = ("usual", "random", "mbrola", "real")


def _cached(home: Path, name: str, **options: Any) -> Path:
    corpus = home / "bench-cache" / f"{name}-{generator_fingerprint()}"
    if not (corpus / "calls.csv").is_file():
        generate_corpus(corpus, **options)
    return corpus


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="callroles bench roles")
    p.add_argument("--normal", type=Path, help="a generated corpus with the usual paths")
    p.add_argument("--random-paths", type=Path, help="a generated corpus with random paths")
    p.add_argument("--limit", type=int, default=100, help="calls per generated corpus")
    p.add_argument(
        "--sets",
        default=",".join(SETS),
        help=f"comma list of {', '.join(SETS)} (a large run of one set: --sets mbrola --limit 500)",
    )
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    wanted = [x for x in args.sets.split(",") if x]
    unknown = sorted(set(wanted) - set(SETS))
    if unknown:
        p.error(f"unknown sets {unknown}; choose from {', '.join(SETS)}")
    settings = get_settings()
    models = load_models(settings)
    t, ceiling = models.role_model.temperature, models.role_model.confidence_ceiling
    n = args.limit
    makers = {
        "usual": (
            "held-out calls, usual paths (SYNTHETIC, seed 4242)",
            lambda: (
                args.normal or _cached(settings.home, f"roles-seed4242-{n}", calls=n, seed=4242)
            ),
        ),
        "random": (
            "held-out calls, random paths (SYNTHETIC, seed 777)",
            lambda: (
                args.random_paths
                or _cached(
                    settings.home, f"roles-rp-seed777-{n}", calls=n, seed=777, random_paths=True
                )
            ),
        ),
        "mbrola": (HELD_OUT_SOURCES, lambda: held_out_sources_corpus(settings, n)),
    }
    sets = {makers[k][0]: makers[k][1]() for k in SETS if k in wanted and k in makers}
    report: dict[str, Any] = {
        "benchmark": "roles",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": models.model_info(),
        "temperature": t,
        "ceiling": ceiling,
        "sets": {},
    }
    for name, corpus in sets.items():
        scores = list(score_corpus(corpus, models, n))
        by_paths: dict[str, list[PairScore]] = {}
        for s in scores:
            by_paths.setdefault(s.paths, []).append(s)
        report["sets"][name] = {
            **summary(scores, t, ceiling),
            "by_paths": {k: summary(v, t, ceiling) for k, v in sorted(by_paths.items())},
            "calls": [s.__dict__ for s in scores],
        }
        print(f"[roles] {name}: {json.dumps(summary(scores, t, ceiling))}", flush=True)
    callytics = SHARED / "real-calls" / "callytics"
    if "real" in wanted and callytics.is_dir():
        scores = score_real(callytics, models)
        report["sets"]["real calls (Callytics), no enrolment"] = {
            **summary(scores, t, ceiling), "calls": [s.__dict__ for s in scores]
        }  # fmt: skip
        print(f"[roles] real calls (Callytics): {json.dumps(summary(scores, t, ceiling))}")
    elif "real" in wanted:
        print(f"real calls: absent ({callytics}); skipped")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0
