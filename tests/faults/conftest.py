"""Fixtures of the fault and bad-input suites: the corpus, its HTTP server, limited settings."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from callroles.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402
import harness  # noqa: E402
import http_server  # noqa: E402


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
def limited_settings(corpus_root: Path) -> Settings:
    """The limits and allow lists the corpus expects (its own root, only 127.0.0.1 over http)."""
    return Settings(
        allowed_roots=(corpus_root / "allowed",),
        allowed_hosts=("127.0.0.1",),
        max_bytes=corpus.LIMIT_BYTES,
        max_duration_s=corpus.LIMIT_DURATION_S,
        decode_timeout_s=20.0,
        fetch_timeout_s=5.0,
    )


# --------------------------------------------------------------------------- worker harness


@pytest.fixture(scope="session")
def fault_stack() -> Iterator[Settings]:
    """The fault suite's own Kafka and Redis (restarted by the tests, so never shared)."""
    from harness import fault_settings

    from callroles.deploy import stack as stack_mod

    settings = fault_settings()
    stack_mod.start(settings)
    try:
        yield settings
    finally:
        stack_mod.stop(settings)


@pytest.fixture(scope="session")
def fault_model() -> Path:
    """The shipped default model, else an untrained CRNN exported once and cached: the fault
    tests count events, they do not judge roles."""
    from callroles.export.scorer import DEFAULT_MODEL

    if DEFAULT_MODEL.is_file():
        return DEFAULT_MODEL
    return harness.untrained_model()


@pytest.fixture(scope="session")
def fault_workers(
    fault_stack: Settings,
    fault_model: Path,
    corpus_root: Path,
    bad_inputs: list,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Settings, Path, harness.Workers]]:
    """Two workers on a fresh topic prefix with the corpus limits; yields settings, scratch,
    the worker group (tests may kill and restart them)."""
    import asyncio
    import json
    import os
    import uuid

    from harness import Workers

    from callroles.streaming.topics import create_topics

    scratch = tmp_path_factory.mktemp("faults")
    settings = fault_stack.model_copy(update={"topic_prefix": f"f{uuid.uuid4().hex[:8]}."})
    asyncio.run(create_topics(settings))
    env = {
        **os.environ,
        "CALLROLES_KAFKA_PORT": str(settings.kafka_port),
        "CALLROLES_REDIS_PORT": str(settings.redis_port),
        "CALLROLES_TOPIC_PREFIX": settings.topic_prefix,
        "CALLROLES_PARTITIONS": str(settings.partitions),
        "CALLROLES_ALLOWED_ROOTS": json.dumps([str(corpus_root / "allowed"), str(scratch)]),
        "CALLROLES_ALLOWED_HOSTS": json.dumps(["127.0.0.1"]),
        "CALLROLES_MAX_BYTES": str(corpus.LIMIT_BYTES),
        "CALLROLES_MAX_DURATION_S": str(corpus.LIMIT_DURATION_S),
        "CALLROLES_DECODE_TIMEOUT_S": "30",
        "CALLROLES_FETCH_TIMEOUT_S": "8",
        "CALLROLES_LEASE_TTL_S": "15",
        "CALLROLES_BROKER_SESSION_TIMEOUT_S": "10",
        "CALLROLES_BROKER_HEARTBEAT_INTERVAL_S": "1",
        "CALLROLES_MODEL_PATH": str(fault_model),
        "OMP_NUM_THREADS": "1",
    }
    for key in ("CALLROLES_KAFKA_BOOTSTRAP", "CALLROLES_REDIS_URL", "CALLROLES_SETTINGS_FILE"):
        env.pop(key, None)
    group = Workers(env, scratch)
    try:
        group.start(0)
        group.start(1)
        group.wait_ready()
        yield settings, scratch, group
    finally:
        group.stop()
