"""``callroles stack start|stop|status|install``: the local Kafka and Redis."""

from __future__ import annotations

import argparse
import json

from callroles.settings import get_settings


# Handlers import inside themselves so `callroles --help` stays fast (callroles/cli.py).
def _stack(args: argparse.Namespace) -> int:
    from callroles.deploy import stack

    settings = get_settings()
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
    state = stack.status(settings)
    if args.json:
        print(json.dumps(state, indent=2))
    else:
        for name, facts in state.items():
            up = "up" if facts["answers"] else "down"
            print(f"{name:6} {up:5} {facts['address']:22} pid={facts['pid']}")
    return 0 if all(f["answers"] for f in state.values()) else 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stack", help="start, stop or inspect the local Kafka broker and Redis")
    p.add_argument("action", choices=["start", "stop", "status", "install"])
    p.add_argument("--json", action="store_true", help="status as JSON")
    p.set_defaults(func=_stack)
