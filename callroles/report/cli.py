"""``callroles demo`` and ``callroles report``. Heavy imports stay inside the handlers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add the ``demo`` and ``report`` sub-commands."""
    demo = sub.add_parser(
        "demo",
        help="the whole job on example calls: stack, worker, simulate, submit, table, HTML report",
        description=(
            "Start the local Kafka and Redis and a worker, generate a handful of example calls "
            "(plus FILES, if given), submit them, wait for the results, print a table per call "
            "and write an HTML report. Stops what it started."
        ),
    )
    demo.add_argument("files", nargs="*", type=Path, metavar="FILES", help="your own recordings")
    demo.add_argument("--out", type=Path, default=Path("callroles-demo"), help="report folder")
    demo.add_argument("--calls", type=int, default=5, help="generated calls (default 5)")
    demo.add_argument("--seed", type=int, default=11)
    demo.add_argument("--timeout", type=float, default=None, help="seconds to wait for results")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)

    report = sub.add_parser(
        "report",
        help="HTML report and timelines from result events (a JSON-lines file or the topic)",
    )
    report.add_argument(
        "--results",
        required=True,
        metavar="FILE_OR_TOPIC",
        help="a JSON-lines file of call_result events, or `topic` (the result topic), "
        "or `kafka:NAME` (a named topic)",
    )
    report.add_argument("--out", type=Path, required=True, metavar="DIR")
    report.add_argument("--truth", type=Path, default=None, help="a corpus truth/ folder")
    report.add_argument("--title", default="callroles report")
    report.add_argument("--idle", type=float, default=5.0, help="topic: stop after N quiet seconds")
    report.set_defaults(func=_report)


def _demo(args: argparse.Namespace) -> int:
    from callroles.report.demo import Demo
    from callroles.settings import get_settings

    if args.calls < 1:
        print("callroles demo: --calls must be at least 1", file=sys.stderr)
        return 2
    demo = Demo(
        get_settings(),
        args.out,
        args.files,
        calls=args.calls,
        seed=args.seed,
        timeout_s=args.timeout,
        progress=not args.no_progress,
    )
    return demo.run()


def resolve_source(value: str) -> tuple[str, str | None]:
    """("file", path) or ("topic", name or None for the default result topic)."""
    if value in ("topic", "kafka"):
        return "topic", None
    if value.startswith("kafka:"):
        return "topic", value.split(":", 1)[1] or None
    return "file", value


def _report(args: argparse.Namespace) -> int:
    from callroles.report.html import build_report
    from callroles.report.tables import ReportInputError, call_table, latest_per_call, load_results

    kind, name = resolve_source(args.results)
    if kind == "file":
        path = Path(str(name))
        if not path.exists():
            raise ReportInputError(
                f"{path} does not exist; give a JSON-lines file of call_result events, "
                "or `topic` to read the result topic"
            )
        results = load_results(path)
    else:
        from callroles.report.topic import read_results, result_topic
        from callroles.settings import get_settings

        settings = get_settings()
        topic = name or result_topic(settings)
        print(f"reading {topic} at {settings.bootstrap_servers} until {args.idle:.0f} s idle")
        results = read_results(settings, topic, idle_s=args.idle)
    results = latest_per_call(results)
    if not results:
        raise ReportInputError(f"no call_result events in {args.results}")
    for res in results:
        print(call_table(res), end="\n\n")
    index = build_report(results, args.out, truth_dir=args.truth, title=args.title)
    print(f"{len(results)} calls; report: {index}")
    return 0
