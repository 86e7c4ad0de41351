"""What the activity model costs the front end: one process, both talk-time methods alternated.

    python -m callroles.bench.activity_ab CORPUS [N_CALLS]

Each of the first N mono calls of a generated corpus is processed by a ``FrontEnd`` with
``talk_time="activity"`` and one with ``"energy"``, alternated, in two passes (the second with
energy first), so that both see the same machine load. Writes
``bench/results/frontend-activity-ab.json`` with the median time ratio.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from callroles.base.settings import get_settings
from callroles.bench.paths import RESULTS_DIR

OUT = RESULTS_DIR / "frontend-activity-ab.json"


def main(argv: list[str]) -> int:
    from callroles.frontend.pipeline import FrontEnd

    corpus, n = Path(argv[0]), int(argv[1]) if len(argv) > 1 else 6
    calls = sorted((corpus / "audio").glob("*.gsm"))[:n]
    modes = ("activity", "energy")
    fronts = {m: FrontEnd(get_settings().model_copy(update={"talk_time": m})) for m in modes}
    for m in modes:
        fronts[m].process(calls[0])  # load models, pay the first-call costs
    rows, ratios = [], []
    for order in (modes, modes[::-1]):
        for path in calls:
            took = {}
            for m in order:
                t0 = time.perf_counter()
                result = fronts[m].process(path)
                took[m] = time.perf_counter() - t0
            ratios.append(took["activity"] / took["energy"])
            rows.append([path.name, result.facts.duration_s, *(round(took[m], 3) for m in modes)])
            print(f"[activity-ab] {path.name}: {ratios[-1]:.3f}", flush=True)
    report = {
        "benchmark": "frontend-activity-ab",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "corpus": str(corpus),
        "synthetic": True,
        "median_ratio_activity_over_energy": round(statistics.median(ratios), 3),
        "min_ratio": round(min(ratios), 3),
        "max_ratio": round(max(ratios), 3),
        "rows": {"columns": ["call", "duration_s", "activity_s", "energy_s"], "data": rows},
    }
    OUT.write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
