"""Where benchmarks read and write in a checkout (bench is never installed in a worker)."""

from __future__ import annotations

from pathlib import Path

#: the checkout this bench distribution lives in (bench/callroles/bench/ -> the repository)
CHECKOUT = Path(__file__).resolve().parents[3]
#: every benchmark writes its JSON here: bench/results/
RESULTS_DIR = CHECKOUT / "bench" / "results"
#: inaSpeechSegmenter's test media, kept with the tests
REFERENCE_DIR = CHECKOUT / "tests" / "data" / "reference"
