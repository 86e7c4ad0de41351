"""Faults of a three-broker Kafka cluster with calls in flight (``callroles.lab.cluster``):
kill -9 of the node leading every partition of the call-finished topic, and a rolling restart
of all three nodes. Topics have replication factor 3 and min.insync.replicas 2; our producers
and the workers' use acks=all (ours with idempotence). Two real workers bootstrap from all three
nodes. Counted as in test_faults.py (tests.faults.harness): required are no call missing and
exactly one result per call after deduplication on call_id; raw duplicates and replays are
counted and printed, not required to be zero.

Traffic: CALLROLES_FAULT_CALLS short (~9 s) generated calls per fault, 10 unless set, plus a
few submitted while a node is down.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from callroles.lab import cluster as cl
from callroles.lab import stack as stack_mod
from callroles.lab.settings import StackSettings
from callroles.streaming.clients import kafka_kwargs
from callroles.streaming.topics import RETENTION_MS, all_topics, create_topics
from tests.faults import harness
from tests.support import calls
from tests.support.ports import free_ports
from tests.support.workers import Workers

pytestmark = [pytest.mark.services, pytest.mark.slow]

N_CALLS = int(os.environ.get("CALLROLES_FAULT_CALLS", "10"))
GATHER_S = max(480.0, 20.0 * N_CALLS)
LEADER = 1  # leads every partition of the call-finished topic (first bootstrap address too)

Ctx = tuple[cl.Cluster, StackSettings, Path, Workers]


@pytest.fixture(scope="module")
def kafka_cluster() -> Iterator[tuple[cl.Cluster, StackSettings]]:
    """Three Kafka nodes and a Redis on free ports; stopped and deleted afterwards."""
    ports = free_ports(7)
    base = StackSettings(redis_port=ports[6], partitions=2, kafka_bootstrap=None, redis_url=None)
    c = cl.cluster(base, ports[:3], ports[3:6])
    try:
        cl.start(c)
        stack_mod.start_redis(base)
        yield c, c.client_settings()
    finally:
        cl.stop(c)
        stack_mod.stop_redis(base)
        shutil.rmtree(c.root, ignore_errors=True)
        shutil.rmtree(stack_mod.stack_paths(base).redis_dir, ignore_errors=True)


async def _create_topics(settings: StackSettings, leader: int) -> None:
    """The call-finished topic with ``leader`` as preferred leader of every partition (so one
    kill -9 takes the leader of all of them), then the others as ``create_topics`` makes them."""

    rest = [n for n in range(1, cl.SIZE + 1) if n != leader]
    assignment = {p: [leader, *(rest if p % 2 else rest[::-1])] for p in range(settings.partitions)}
    configs = {
        "retention.ms": str(RETENTION_MS["call_finished"]),
        "min.insync.replicas": str(settings.min_insync_replicas),
    }
    admin = AIOKafkaAdminClient(**kafka_kwargs(settings))
    await admin.start()
    try:
        name = all_topics(settings)["call_finished"]
        await admin.create_topics([NewTopic(name, -1, -1, assignment, configs)])
    finally:
        await admin.close()
    await create_topics(settings)


@pytest.fixture(scope="module")
def cluster_workers(
    kafka_cluster: tuple[cl.Cluster, StackSettings],
    fault_model: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Ctx]:
    """Two workers bootstrapping from all three nodes, on a fresh topic prefix."""

    c, base = kafka_cluster
    scratch = tmp_path_factory.mktemp("cluster")
    settings = base.model_copy(update={"topic_prefix": f"k{uuid.uuid4().hex[:8]}."})
    asyncio.run(_create_topics(settings, LEADER))
    topics = list(all_topics(settings).values())
    cl.wait_in_sync(c, topics)
    for topic in cl.metadata(c, topics)["topics"]:
        assert all(len(p["replicas"]) == cl.REPLICATION for p in topic["partitions"]), topic
    env = harness.fault_env(
        settings,
        fault_model,
        CALLROLES_KAFKA_BOOTSTRAP=c.bootstrap,
        CALLROLES_REPLICATION_FACTOR=str(cl.REPLICATION),
        CALLROLES_MIN_INSYNC_REPLICAS=str(cl.MIN_ISR),
        CALLROLES_KAFKA_ACKS="all",
        CALLROLES_KAFKA_IDEMPOTENCE="true",
        # Faust's own settings from the environment: its internal topics replicated too, and
        # its producer's acks=all said out loud (its default)
        TOPIC_REPLICATION_FACTOR=str(cl.REPLICATION),
        PRODUCER_ACKS="-1",
        CALLROLES_ALLOWED_ROOTS=json.dumps([str(scratch)]),
    )
    with Workers(settings, env, scratch) as group:
        group.start(0)
        group.start(1)
        group.wait_ready()
        # every topic, Faust's leader topic and the group offsets included, on all three nodes
        for topic in cl.metadata(c)["topics"]:
            sizes = {len(p["replicas"]) for p in topic["partitions"]}
            assert sizes == {cl.REPLICATION}, (topic["topic"], sizes)
        yield c, settings, scratch, group


# --------------------------------------------------------------------------- helpers


def _submit(ctx: Ctx, tag: str, n: int = N_CALLS) -> set[str]:
    _c, settings, scratch, _group = ctx
    recordings = calls.make_calls(scratch / tag, n, tag)
    ids = {f"{tag}-{uuid.uuid4().hex[:6]}-{k:03d}" for k in range(n)}
    calls.submit(
        settings, [(c, calls.event(c, p)) for c, p in zip(sorted(ids), recordings, strict=True)]
    )
    return ids


def _wait_leaders_move(c: cl.Cluster, topic: str, gone: int, timeout: float = 90) -> float:
    """Seconds until no partition of ``topic`` is led by ``gone`` and each has a leader."""
    t0, now = time.monotonic(), {}
    while time.monotonic() < t0 + timeout:
        now = cl.leaders(c, topic)
        if all(leader not in (gone, -1) for leader in now.values()):
            return time.monotonic() - t0
        time.sleep(0.5)
    pytest.fail(f"leadership of {topic} did not move off node {gone} in {timeout} s: {now}")


def _check(ctx: Ctx, row: harness.Tally, extra: str) -> None:
    _c, _settings, scratch, group = ctx
    harness.record(row, scratch / "faults.json")
    print(f"{row.fault}: {row.note}; {extra}")
    assert row.calls_missing == 0, row  # every call answered by a result or an error
    assert group.alive() == [True, True], "a worker went down"
    assert row.calls_without_result == 0, row
    assert row.distinct_call_ids == row.calls_submitted, row  # one result per call after dedup


# --------------------------------------------------------------------------- faults


def test_kill9_leader_of_call_topic(cluster_workers: Ctx) -> None:
    """kill -9 the node leading every call-finished partition while calls run; submit more
    while it is down (acks=all: two in-sync replicas of three suffice); it rejoins at the end."""

    c, settings, _scratch, group = cluster_workers
    topic = all_topics(settings)["call_finished"]
    t0 = time.monotonic()
    before = harness.done_lines(group)
    ids = _submit(cluster_workers, "leader")
    harness.wait_done(group, before + 2)
    led = cl.leaders(c, topic)
    victim = cl.main_leader(c, topic)
    assert set(led.values()) == {victim}, f"one node should lead all of {topic}: {led}"
    cl.kill9(c, victim)
    moved_s = _wait_leaders_move(c, topic, victim)
    ids |= _submit(cluster_workers, "leader-down", 4)
    try:
        got = calls.gather(settings, ids, GATHER_S)
    finally:
        t = time.monotonic()
        cl.start_node(c, victim)
        restart_s = time.monotonic() - t
        rejoin_s = cl.wait_in_sync(c)
    row = harness.tally("kill -9 leader of call topic", ids, got, f"{N_CALLS} + 4 calls")
    _check(
        cluster_workers,
        row,
        f"node {victim} led partitions {sorted(led)}; leaders moved in {moved_s:.1f} s; "
        f"restarted in {restart_s:.0f} s, in every ISR {rejoin_s:.1f} s later; "
        f"wall {time.monotonic() - t0:.0f} s",
    )


def test_rolling_restart_of_three_brokers(cluster_workers: Ctx) -> None:
    """Restart the three nodes one by one (controlled shutdown), each back in every ISR before
    the next goes; two calls are submitted while each node is down."""
    c, settings, _scratch, group = cluster_workers
    t0 = time.monotonic()
    before = harness.done_lines(group)
    ids = _submit(cluster_workers, "roll")
    harness.wait_done(group, before + 2)
    steps = []
    for node in c.nodes:
        t = time.monotonic()
        cl.stop_node(c, node.node_id)
        ids |= _submit(cluster_workers, f"roll-down{node.node_id}", 2)
        cl.start_node(c, node.node_id)
        cl.wait_in_sync(c)
        steps.append(f"node {node.node_id} {time.monotonic() - t:.0f} s")
    got = calls.gather(settings, ids, GATHER_S)
    row = harness.tally("rolling restart of 3 brokers", ids, got, f"{N_CALLS} + 6 calls")
    _check(
        cluster_workers,
        row,
        f"restart, back in sync: {', '.join(steps)}; wall {time.monotonic() - t0:.0f} s",
    )
