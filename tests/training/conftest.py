"""Session fixtures of the training tests: DBAS run once on the small corpus, one debug run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from callroles.training.dataset import BuildOptions, BuildResult, build_dataset

# The small preset's calls are 45-75 s; 30 s keeps the same-gender and stereo calls in play so
# that DBAS's other rules (opposite genders, speaker split) are exercised, not only duration.
MIN_S = 30.0


@dataclass
class Built:
    corpus: Path
    out: Path
    work: Path
    result: BuildResult
    min_s: float = MIN_S


@pytest.fixture(scope="session")
def dbas_small(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    base = tmp_path_factory.mktemp("dbas")
    work = base / "work"
    opts = BuildOptions(min_duration_s=MIN_S, progress=False, work=work)
    out = base / "tree"
    result = build_dataset(small_corpus, small_corpus / "calls.csv", out, opts)
    return Built(small_corpus, out, work, result)


@pytest.fixture(scope="session")
def debug_run(dbas_small: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from callroles.training.train import DEBUG_CONFIG, train

    return train(dbas_small.out, tmp_path_factory.mktemp("runs") / "gru2-debug", DEBUG_CONFIG)
