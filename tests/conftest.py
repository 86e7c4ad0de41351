"""Shared fixtures. Tests run against a real Kafka broker and a real Redis on 127.0.0.1.

The ``stack`` fixture starts both on free ports chosen per session (unless
CALLROLES_TEST_KAFKA_PORT / CALLROLES_TEST_KAFKA_CONTROLLER_PORT / CALLROLES_TEST_REDIS_PORT name
them), so a user's own stack and other test sessions are left alone; it stops what it started.
Shared helpers live in ``tests.support``.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from callroles.base.settings import PROJECT_ROOT
from callroles.lab.settings import StackSettings, stack_settings
from callroles.lab.simulate import generate_corpus, generator_fingerprint
from callroles.training.dataset import BuildOptions, BuildResult, build_dataset
from callroles.training.train import DEBUG_CONFIG, train
from tests.support.stacks import local_stack

TESTS_DIR = Path(__file__).resolve().parent
REFERENCE_DIR = TESTS_DIR / "data" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """inaSpeechSegmenter's own test media and expected segmentations (MIT, see LICENSE there)."""
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def stack() -> Iterator[StackSettings]:
    """A running local Kafka and Redis, on free ports or CALLROLES_TEST_*_PORT; stopped at the
    end if we started them (tests.support.stacks.local_stack)."""
    with local_stack("CALLROLES_TEST_") as settings:
        yield settings


# ---- simulate (owner: simulate helper) -------------------------------------------------------
SMALL_CORPUS_SEED = 1234


@pytest.fixture(scope="session")
def small_corpus() -> Path:
    """A corpus of the "small" preset (layout in docs/simulate.md ("The corpus folder")), generated
    once and cached.

    Cached under ``settings.home / "test-cache"`` keyed by seed and the generator's code
    fingerprint; a ``.complete`` marker says it is whole. A file lock lets parallel sessions share.
    """

    cache = stack_settings().home / "test-cache"
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / f"small-corpus-seed{SMALL_CORPUS_SEED}-{generator_fingerprint()}"
    marker = out / ".complete"
    with (cache / "small-corpus.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            for stale in cache.glob("small-corpus-seed*"):  # older generator versions
                shutil.rmtree(stale, ignore_errors=True)
            generate_corpus(out, calls=5, seed=SMALL_CORPUS_SEED, preset="small")
            marker.write_text("ok\n")
    return out


# ---- end simulate ----------------------------------------------------------------------------


# ---- DBAS once on the small corpus, one debug run (training, export.adapt) ----------------
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

    return train(dbas_small.out, tmp_path_factory.mktemp("runs") / "gru2-debug", DEBUG_CONFIG)
