"""The three-broker cluster's configuration and the producer settings, without starting Kafka
(the cluster itself runs in tests/faults/test_cluster.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callroles.base.errors import ConfigError
from callroles.lab import cluster as cl
from callroles.lab.settings import StackSettings
from callroles.streaming.clients import producer_kwargs


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")


def test_three_voters_one_per_node_and_replication(tmp_path: Path) -> None:
    c = cl.cluster(
        StackSettings(home=tmp_path, partitions=2), [9101, 9102, 9103], [9201, 9202, 9203]
    )
    assert c.bootstrap == "127.0.0.1:9101,127.0.0.1:9102,127.0.0.1:9103"
    voters = "1@127.0.0.1:9201,2@127.0.0.1:9202,3@127.0.0.1:9203"
    for node in c.nodes:
        props = _props(cl._properties(c, node))
        assert props["node.id"] == str(node.node_id)
        assert props["controller.quorum.voters"] == voters
        assert props["advertised.listeners"] == f"PLAINTEXT://127.0.0.1:{node.port}"
        assert props["log.dirs"] == str(node.data)
        assert props["default.replication.factor"] == "3"
        assert props["min.insync.replicas"] == "2"
        assert props["offsets.topic.replication.factor"] == "3"
        assert props["transaction.state.log.replication.factor"] == "3"
        assert props["transaction.state.log.min.isr"] == "2"
        assert props["unclean.leader.election.enable"] == "false"
    clients = c.client_settings()
    assert clients.bootstrap_servers == c.bootstrap
    assert (clients.replication_factor, clients.min_insync_replicas) == (3, 2)


def test_producers_default_to_acks_all_with_idempotence() -> None:
    kw = producer_kwargs(StackSettings())
    assert (kw["acks"], kw["enable_idempotence"]) == ("all", True)
    fewer = producer_kwargs(StackSettings(kafka_acks="1", kafka_idempotence=False))
    assert (fewer["acks"], fewer["enable_idempotence"]) == (1, False)
    with pytest.raises(ConfigError, match="kafka_acks=all"):
        producer_kwargs(StackSettings(kafka_acks="1"))
