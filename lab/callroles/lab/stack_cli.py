"""``callroles stack start|stop|status|install``: the local Kafka and Redis;
``callroles stack cluster start|stop|status``: a local three-broker Kafka cluster."""

from __future__ import annotations

import argparse
import json
from typing import Any

from callroles.lab.settings import StackSettings, stack_settings


# Handlers import inside themselves so `callroles --help` stays fast (callroles/cli.py).
def _stack(args: argparse.Namespace) -> int:
    from callroles.lab import stack  # noqa: PLC0415 (CLI handler: loaded on use)

    settings = stack_settings()
    if args.action == "cluster":
        return _cluster(args, settings)
    if args.cluster_action is not None:
        print(f"`{args.cluster_action}` goes with `callroles stack cluster` only")
        return 2
    if args.action == "install":
        print(f"kafka jars in {stack.ensure_kafka_jars(settings)}")
        print(f"redis-server at {stack.ensure_redis_server()}")
        return 0
    if args.action == "start":
        for line in stack.start(settings):
            print(line)
        return 0
    if args.action == "stop":
        for line in stack.stop(settings):
            print(line)
        return 0
    return _print_status(stack.status(settings), args.json)


def _cluster(args: argparse.Namespace, settings: StackSettings) -> int:
    """Nodes 1..3 on ``--base-port``..+2, their controllers on +3..+5; Redis as configured."""
    from callroles.lab import cluster, stack  # noqa: PLC0415 (CLI handler: loaded on use)

    base = args.base_port
    c = cluster.cluster(settings, [base, base + 1, base + 2], [base + 3, base + 4, base + 5])
    action = args.cluster_action or "status"
    if action == "start":
        for line in [*cluster.start(c), stack.start_redis(settings)]:
            print(line)
        print(
            f"CALLROLES_KAFKA_BOOTSTRAP={c.bootstrap} CALLROLES_REPLICATION_FACTOR=3 "
            "CALLROLES_MIN_INSYNC_REPLICAS=2"
        )
        return 0
    if action == "stop":
        for line in [*cluster.stop(c), stack.stop_redis(settings)]:
            print(line)
        return 0
    return _print_status(cluster.status(c), args.json)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stack", help="start, stop or inspect the local Kafka broker and Redis")
    p.add_argument("action", choices=["start", "stop", "status", "install", "cluster"])
    p.add_argument(
        "cluster_action", nargs="?", choices=["start", "stop", "status"],
        help="with `cluster`: start, stop or inspect a three-broker Kafka cluster (and Redis)",
    )  # fmt: skip
    p.add_argument("--base-port", type=int, default=19192, help="cluster: first of six ports")
    p.add_argument("--json", action="store_true", help="status as JSON")
    p.set_defaults(func=_stack)


def _print_status(state: dict[str, dict[str, Any]], as_json: bool) -> int:
    """One line per service (or JSON); exit code 3 when any is down."""
    if as_json:
        print(json.dumps(state, indent=2))
    else:
        for name, facts in state.items():
            up = "up" if facts["answers"] else "down"
            print(f"{name:6} {up:5} {facts['address']:22} pid={facts['pid']}")
    return 0 if all(f["answers"] for f in state.values()) else 3
