"""Fixtures of the fault and bad-input suites: the corpus, its HTTP server, limited settings,
the suite's own stack and two workers."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from callroles.lab.settings import StackSettings
from callroles.streaming.topics import create_topics
from tests.faults import corpus, harness
from tests.support import http_server
from tests.support.models import assert_shipped_model
from tests.support.stacks import local_stack
from tests.support.workers import Workers


@pytest.fixture(scope="session")
def corpus_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bad-corpus")


@pytest.fixture(scope="session")
def http_base(corpus_root: Path) -> Iterator[str]:
    with http_server.running(corpus_root / "allowed") as base:
        yield base


@pytest.fixture(scope="session")
def bad_inputs(corpus_root: Path, http_base: str) -> list[corpus.BadInput]:
    return corpus.build(corpus_root, http_base)


@pytest.fixture(scope="session")
def limited_settings(corpus_root: Path) -> StackSettings:
    """The limits and allow lists the corpus expects (its own root, only 127.0.0.1 over http)."""
    return StackSettings(
        allowed_roots=(corpus_root / "allowed",),
        allowed_hosts=("127.0.0.1",),
        max_bytes=corpus.LIMIT_BYTES,
        max_duration_s=corpus.LIMIT_DURATION_S,
        decode_timeout_s=20.0,
        fetch_timeout_s=5.0,
    )


# --------------------------------------------------------------------------- worker harness


@pytest.fixture(scope="session")
def fault_stack() -> Iterator[StackSettings]:
    """The fault suite's own Kafka and Redis (restarted by the tests, so never shared): free
    ports unless CALLROLES_FAULT_KAFKA_PORT / _KAFKA_CONTROLLER_PORT / _REDIS_PORT name them."""
    with local_stack("CALLROLES_FAULT_", partitions=2) as settings:
        yield settings


@pytest.fixture(scope="session")
def fault_model() -> Path:
    """The shipped default model; its files must be there (a packaging loss fails here)."""
    return assert_shipped_model()


@pytest.fixture(scope="session")
def fault_workers(
    fault_stack: StackSettings,
    fault_model: Path,
    corpus_root: Path,
    bad_inputs: list,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[StackSettings, Path, Workers]]:
    """Two workers on a fresh topic prefix with the corpus limits; yields settings, scratch,
    the worker group (tests may kill and restart them)."""

    scratch = tmp_path_factory.mktemp("faults")
    settings = fault_stack.model_copy(update={"topic_prefix": f"f{uuid.uuid4().hex[:8]}."})
    asyncio.run(create_topics(settings))
    env = harness.fault_env(
        settings,
        fault_model,
        CALLROLES_ALLOWED_ROOTS=json.dumps([str(corpus_root / "allowed"), str(scratch)]),
        CALLROLES_ALLOWED_HOSTS=json.dumps(["127.0.0.1"]),
        CALLROLES_MAX_BYTES=str(corpus.LIMIT_BYTES),
        CALLROLES_MAX_DURATION_S=str(corpus.LIMIT_DURATION_S),
        CALLROLES_FETCH_TIMEOUT_S="8",
    )
    with Workers(settings, env, scratch) as group:
        group.start(0)
        group.start(1)
        group.wait_ready()
        yield settings, scratch, group
