"""``callroles worker | submit | tail | topics | serve | watch``: the streaming commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import time
from pathlib import Path

from callroles.schemas import LAYOUTS
from callroles.streaming.settings import streaming_settings

log = logging.getLogger(__name__)


def _quiet() -> None:
    """Client commands print their own lines; aiokafka's INFO chatter would drown them."""
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


# Handlers import inside themselves so `callroles --help` stays fast (callroles/cli.py).
def _redact_logs() -> None:
    """Long-running commands log recording names: keep phone numbers out (see redact.py)."""
    from .redact import install  # noqa: PLC0415 (CLI handler: loaded on use)

    install()


def _worker(args: argparse.Namespace) -> int:
    from .app import run_worker  # noqa: PLC0415 (CLI handler: loaded on use)

    settings = streaming_settings()
    updates = {}
    if args.web_port is not None:
        updates["worker_web_port"] = args.web_port
    if args.concurrency is not None:
        updates["worker_concurrency"] = args.concurrency
    if updates:
        settings = settings.model_copy(update=updates)
    return run_worker(settings, loglevel="debug" if args.verbose else "info")


def _submit(args: argparse.Namespace) -> int:
    _quiet()
    from .submit import event_for_file, publish  # noqa: PLC0415 (CLI handler: loaded on use)

    settings = streaming_settings()
    if args.call_id and len(args.files) > 1:
        print("callroles submit: --call-id needs exactly one FILE", file=sys.stderr)
        return 2
    overrides = {
        "call_id": args.call_id,
        "agent_id": args.agent_id,
        "agent_gender": args.agent_gender,
        "layout": args.layout,
        "language": args.language,
        "tenant": args.tenant,
    }
    events = [event_for_file(Path(f), overrides) for f in args.files]
    metas = asyncio.run(publish(settings, events))
    for event, meta in zip(events, metas, strict=True):
        print(f"{event['call_id']}\tpartition={meta.partition}\toffset={meta.offset}")
    return 0


def _tail(args: argparse.Namespace) -> int:
    _quiet()
    from .tail import tail  # noqa: PLC0415 (CLI handler: loaded on use)

    asyncio.run(
        tail(
            streaming_settings(),
            sys.stdout,
            as_json=args.json,
            from_beginning=args.from_beginning,
            errors=not args.no_errors,
        )
    )
    return 0


def _topics(args: argparse.Namespace) -> int:
    _quiet()
    from .topics import create_topics  # noqa: PLC0415 (CLI handler: loaded on use)

    created = asyncio.run(create_topics(streaming_settings(), args.partitions))
    for topic, state in created.items():
        print(f"{topic}\t{state}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    _redact_logs()
    from .http import serve  # noqa: PLC0415 (CLI handler: loaded on use)

    serve(streaming_settings(), host=args.host, port=args.port)
    return 0


def _watch(args: argparse.Namespace) -> int:
    _redact_logs()
    _quiet()
    from .submit import publish  # noqa: PLC0415 (CLI handler: loaded on use)
    from .watch import ASTERISK_PATTERN, FolderWatcher  # noqa: PLC0415 (CLI handler: loaded on use)

    settings = streaming_settings()
    pattern = None
    if args.pattern:
        pattern = re.compile(ASTERISK_PATTERN if args.pattern == "asterisk" else args.pattern)
    pending: list[dict] = []
    watcher = FolderWatcher(
        Path(args.dir),
        pending.append,
        pattern=pattern,
        require_sidecar=args.require_sidecar,
        overrides={"layout": args.layout} if args.layout else {},
    )
    log.info("watching %s every %.1f s", args.dir, args.interval)
    scans = 0
    while True:
        watcher.scan()
        scans += 1
        if pending:
            asyncio.run(publish(settings, pending))
            for event in pending:
                print(
                    json.dumps({"submitted": event["call_id"], "uri": event["recording_uri"]}),
                    flush=True,
                )
            pending.clear()
        if args.once and scans >= 2:
            return 0
        time.sleep(args.interval)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="run one stream worker (Faust) in the consumer group")
    p.add_argument("--web-port", type=int, help="metrics/web port (default: settings, 6066)")
    p.add_argument("--concurrency", type=int, help="calls in flight in this worker")
    p.set_defaults(func=_worker)

    p = sub.add_parser("submit", help="publish call-finished events for local recordings")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--call-id", help="call id (one FILE only; default: the file name's stem)")
    p.add_argument("--agent-id")
    p.add_argument("--agent-gender", choices=["female", "male"])
    p.add_argument("--layout", choices=LAYOUTS)
    p.add_argument("--language")
    p.add_argument("--tenant")
    p.set_defaults(func=_submit)

    p = sub.add_parser("tail", help="print result (and error) events as they arrive")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.add_argument("--from-beginning", action="store_true", help="replay the topics first")
    p.add_argument("--no-errors", action="store_true", help="results only")
    p.set_defaults(func=_tail)

    p = sub.add_parser("topics", help="create the event topics")
    p.add_argument("action", choices=["create"])
    p.add_argument("--partitions", "-p", type=int, help="partitions per topic (default 4)")
    p.set_defaults(func=_topics)

    p = sub.add_parser(
        "serve", help="HTTP: POST /calls, GET /calls/{id} (results), webhook delivery"
    )
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=_serve)

    p = sub.add_parser("watch", help="submit new recordings appearing in a folder")
    p.add_argument("dir")
    p.add_argument("--pattern", help="file-name regex with named groups, or 'asterisk'")
    p.add_argument("--require-sidecar", action="store_true", help="wait for <file>.json")
    p.add_argument("--layout", choices=LAYOUTS)
    p.add_argument("--interval", type=float, default=2.0, help="seconds between scans")
    p.add_argument("--once", action="store_true", help="scan twice and exit (for scripts)")
    p.set_defaults(func=_watch)
