"""A local three-broker Apache Kafka cluster (KRaft) on 127.0.0.1, for fault tests and trials.

Each node is broker and controller; the three form a static controller quorum
(``controller.quorum.voters``) and share one cluster id. Topics default to replication factor 3
with ``min.insync.replicas`` 2, so a producer with ``acks=all`` keeps writing while any one node
is down, and a write acknowledged before a node dies is on at least one other node. Heaps are
small (384 MB each) so three fit beside the workers on a small machine.

State lives under ``<home>/stack/cluster-<first port>/node-<id>/``, jars are the single-node
stack's (``callroles.lab.install``). Faults: :func:`kill9` (no controlled shutdown),
:func:`stop_node` (controlled shutdown) and :func:`start_node`; :func:`leaders` and
:func:`wait_in_sync` read partition leaders and in-sync replicas from the cluster's metadata.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from callroles.base.errors import StackError
from callroles.lab.install import ensure_kafka_jars, java_cmd, kafka_cluster_id
from callroles.lab.settings import StackSettings
from callroles.lab.stack import _pid_alive, kafka_ready, port_answers, terminate

SIZE = 3
HEAP = "384m"
REPLICATION = 3
MIN_ISR = 2


@dataclass(frozen=True)
class Node:
    """One broker+controller of the cluster."""

    node_id: int
    port: int
    controller_port: int
    folder: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def config(self) -> Path:
        return self.folder / "server.properties"

    @property
    def log(self) -> Path:
        return self.folder / "kafka.log"

    @property
    def pid_file(self) -> Path:
        return self.folder / "kafka.pid"

    def pid(self) -> int | None:
        return _pid_alive(self.pid_file)


@dataclass(frozen=True)
class Cluster:
    """Where the nodes listen and keep their state; settings give jars, home and partitions."""

    settings: StackSettings
    root: Path
    nodes: tuple[Node, ...]

    @property
    def bootstrap(self) -> str:
        """Every node, comma-separated (CALLROLES_KAFKA_BOOTSTRAP)."""
        return ",".join(n.address for n in self.nodes)

    def node(self, node_id: int) -> Node:
        return next(n for n in self.nodes if n.node_id == node_id)

    def client_settings(self) -> StackSettings:
        """StackSettings of clients of this cluster: all nodes as bootstrap, topics created with
        replication factor 3 and min.insync.replicas 2, producers with acks=all + idempotence."""
        return self.settings.model_copy(
            update={
                "kafka_bootstrap": self.bootstrap,
                "replication_factor": REPLICATION,
                "min_insync_replicas": MIN_ISR,
                "kafka_acks": "all",
                "kafka_idempotence": True,
            }
        )


def cluster(
    settings: StackSettings, ports: Sequence[int], controller_ports: Sequence[int]
) -> Cluster:
    """The cluster whose nodes 1..3 listen on ``ports`` (clients) and ``controller_ports``."""
    if len(ports) != SIZE or len(controller_ports) != SIZE:
        raise ValueError(f"a cluster has {SIZE} nodes: give {SIZE} ports and controller ports")
    root = settings.home / "stack" / f"cluster-{ports[0]}"
    nodes = tuple(
        Node(i + 1, p, c, root / f"node-{i + 1}")
        for i, (p, c) in enumerate(zip(ports, controller_ports, strict=True))
    )
    return Cluster(settings, root, nodes)


# --------------------------------------------------------------------------- configuration


def _properties(c: Cluster, node: Node) -> str:
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in c.nodes)
    return "\n".join([
        "process.roles=broker,controller",
        f"node.id={node.node_id}",
        f"controller.quorum.voters={voters}",
        f"listeners=PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{node.port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        f"log.dirs={node.data}",
        f"num.partitions={c.settings.partitions}",
        f"default.replication.factor={REPLICATION}",
        f"min.insync.replicas={MIN_ISR}",
        "unclean.leader.election.enable=false",
        f"offsets.topic.replication.factor={REPLICATION}",
        "offsets.topic.num.partitions=8",
        f"transaction.state.log.replication.factor={REPLICATION}",
        f"transaction.state.log.min.isr={MIN_ISR}",
        f"share.coordinator.state.topic.replication.factor={REPLICATION}",
        f"share.coordinator.state.topic.min.isr={MIN_ISR}",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=true",
        # leadership goes back to the preferred replicas within a minute of a node's return
        "leader.imbalance.check.interval.seconds=30",
        "message.max.bytes=1048576",
        "log.retention.hours=168",
        "",
    ])  # fmt: skip


def _format(c: Cluster, libs: Path) -> None:
    """Format every node's storage with one cluster id (once; kept in ``<root>/cluster.id``)."""
    id_file = c.root / "cluster.id"
    if not id_file.exists():
        id_file.write_text(kafka_cluster_id())
    cluster_id = id_file.read_text().strip()
    for node in c.nodes:
        if (node.data / "meta.properties").exists():
            continue
        shutil.rmtree(node.data, ignore_errors=True)
        # static quorum (controller.quorum.voters): no --standalone / --initial-controllers
        cmd = java_cmd(
            libs, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(node.config),
            heap="256m",
        )  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise StackError(f"formatting node {node.node_id} failed:\n{proc.stdout}{proc.stderr}")


def _launch(c: Cluster, node: Node, libs: Path) -> int:
    with node.log.open("ab") as out:
        cmd = java_cmd(libs, "kafka.Kafka", str(node.config), heap=HEAP)
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    node.pid_file.write_text(str(proc.pid))
    return proc.pid


def _log_tail(node: Node, lines: int = 15) -> str:
    text = node.log.read_text(errors="replace") if node.log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _wait_node(node: Node, timeout: float) -> None:
    """Wait until the node answers a metadata request on its own address."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.pid() is None:
            raise StackError(f"node {node.node_id} exited; its log ends:\n{_log_tail(node)}")
        if port_answers(node.port) and kafka_ready(node.address):
            return
        time.sleep(1.0)
    raise StackError(
        f"node {node.node_id} did not answer within {timeout:.0f} s; its log ends:\n"
        f"{_log_tail(node)}"
    )


# --------------------------------------------------------------------------- lifecycle


def start(c: Cluster, timeout: float = 240.0) -> list[str]:
    """Start the nodes that are not running (idempotent) and wait until the cluster has
    all three brokers registered. A failed start stops what it started."""
    libs = ensure_kafka_jars(c.settings)
    c.root.mkdir(parents=True, exist_ok=True)
    todo = [n for n in c.nodes if n.pid() is None]
    for node in todo:
        for port in (node.port, node.controller_port):
            if port_answers(port):
                raise StackError(f"port {port} on 127.0.0.1 is taken by another program")
        node.folder.mkdir(parents=True, exist_ok=True)
        node.config.write_text(_properties(c, node))
    _format(c, libs)
    lines = []
    for node in todo:  # all at once: a controller quorum needs two of three voters
        pid = _launch(c, node, libs)
        lines.append(f"node {node.node_id} started on {node.address} (pid {pid})")
    try:
        for node in c.nodes:
            _wait_node(node, timeout)
        wait_in_sync(c, [], timeout)  # all three registered as brokers
    except StackError:
        for node in todo:
            stop_node(c, node.node_id)
        raise
    return lines or [f"cluster already running on {c.bootstrap}"]


def stop(c: Cluster) -> list[str]:
    """Stop every node (controlled shutdown, SIGKILL after a grace period)."""
    return [stop_node(c, n.node_id, grace=30.0) for n in c.nodes]


def stop_node(c: Cluster, node_id: int, grace: float = 60.0) -> str:
    """SIGTERM one node (controlled shutdown: leadership moves away first) and wait."""
    node = c.node(node_id)
    pid = node.pid()
    node.pid_file.unlink(missing_ok=True)
    if pid is None:
        return f"node {node_id} not running"
    terminate(pid, grace)
    return f"node {node_id} stopped (pid {pid})"


def kill9(c: Cluster, node_id: int) -> int:
    """SIGKILL one node: no controlled shutdown, its partitions lose their leader at once."""
    node = c.node(node_id)
    pid = node.pid()
    if pid is None:
        raise StackError(f"node {node_id} is not running")
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
        if _pid_alive(node.pid_file) is None:
            break
        time.sleep(0.1)
    node.pid_file.unlink(missing_ok=True)
    return pid


def start_node(c: Cluster, node_id: int, timeout: float = 180.0) -> str:
    """Start one node again (after kill9 or stop_node) and wait until it answers."""
    node = c.node(node_id)
    if node.pid() is not None:
        return f"node {node_id} already running"
    libs = ensure_kafka_jars(c.settings)
    node.config.write_text(_properties(c, node))
    pid = _launch(c, node, libs)
    try:
        _wait_node(node, timeout)
    except StackError:
        stop_node(c, node_id)
        raise
    return f"node {node_id} started on {node.address} (pid {pid})"


# --------------------------------------------------------------------------- metadata


async def _metadata(bootstrap: str, topics: list[str] | None, timeout: float) -> dict[str, Any]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000),
        client_id="callroles-cluster-probe",
    )  # fmt: skip
    try:
        await asyncio.wait_for(admin.start(), timeout)
        brokers = await asyncio.wait_for(admin.describe_cluster(), timeout)
        described = await asyncio.wait_for(admin.describe_topics(topics), timeout)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    return {"brokers": brokers["brokers"], "topics": described}


def metadata(c: Cluster, topics: Iterable[str] | None = None, timeout: float = 30.0) -> Any:
    """Brokers and topics (partitions with leader, replicas, isr) as the cluster reports them.

    Asked again for up to ``timeout`` seconds while the client picks a node that is down."""
    wanted = None if topics is None else list(topics)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return asyncio.run(_metadata(c.bootstrap, wanted, 10.0))
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def _partitions(topic: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "partition": p.get("partition", p.get("partition_index")),
            "leader": p.get("leader", p.get("leader_id")),
            "replicas": list(p.get("replicas", p.get("replica_nodes", []))),
            "isr": list(p.get("isr", p.get("isr_nodes", []))),
        }
        for p in topic["partitions"]
    ]


def leaders(c: Cluster, topic: str) -> dict[int, int]:
    """Partition -> leader node id of ``topic`` (-1 for a partition without a leader)."""
    for t in metadata(c, [topic])["topics"]:
        if t["topic"] == topic:
            return {p["partition"]: p["leader"] for p in _partitions(t)}
    raise StackError(f"topic {topic} not found on {c.bootstrap}")


def main_leader(c: Cluster, topic: str) -> int:
    """The node leading most of ``topic``'s partitions (partition 0's leader on a tie)."""
    by_partition = leaders(c, topic)
    counts = Counter(v for v in by_partition.values() if v >= 0)
    if not counts:
        raise StackError(f"no partition of {topic} has a leader")
    top = max(counts.values())
    first = by_partition.get(0, -1)
    return first if counts.get(first) == top else counts.most_common(1)[0][0]


def out_of_sync(c: Cluster, topics: Iterable[str] | None = None) -> list[str]:
    """Partitions (of ``topics``, default every topic) whose ISR lacks a replica, or that have
    no leader, as ``topic:partition isr=[..] of [..]``; [] when all are fully in sync."""
    lagging = []
    for t in metadata(c, topics)["topics"]:
        for p in _partitions(t):
            if p["leader"] < 0 or set(p["isr"]) != set(p["replicas"]):
                lagging.append(f"{t['topic']}:{p['partition']} isr={p['isr']} of {p['replicas']}")
    return lagging


def wait_in_sync(c: Cluster, topics: Iterable[str] | None = None, timeout: float = 180.0) -> float:
    """Wait until every node is a live broker and every partition has its full ISR; returns
    the seconds it took."""
    wanted = None if topics is None else list(topics)
    t0 = time.monotonic()
    deadline = t0 + timeout
    last: list[str] | str = "no answer"
    while time.monotonic() < deadline:
        try:
            brokers = metadata(c, [])["brokers"]
            if len(brokers) == SIZE:
                last = out_of_sync(c, wanted)
                if not last:
                    return time.monotonic() - t0
            else:
                last = f"{len(brokers)} brokers registered"
        except Exception as exc:  # a node or the controller is changing: ask again
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(1.0)
    raise StackError(f"cluster not in sync within {timeout:.0f} s: {last}")


def status(c: Cluster) -> dict[str, dict[str, object]]:
    """Per node: pid, address, whether it answers."""
    return {
        f"node-{n.node_id}": {
            "pid": n.pid(),
            "address": n.address,
            "answers": port_answers(n.port) and kafka_ready(n.address),
        }
        for n in c.nodes
    }
