"""``callroles report``: the HTML report of stored results. Heavy imports stay inside the
handler."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add the ``report`` sub-command."""
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


def resolve_source(value: str) -> tuple[str, str | None]:
    """("file", path) or ("topic", name or None for the default result topic)."""
    if value in ("topic", "kafka"):
        return "topic", None
    if value.startswith("kafka:"):
        return "topic", value.split(":", 1)[1] or None
    return "file", value


def _report(args: argparse.Namespace) -> int:
    from callroles.report.html import build_report  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.report.tables import ReportInputError, call_table, latest_per_call, load_results  # noqa: PLC0415 (CLI handler: loaded on use)

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
        # the topic is the streaming distribution's, installed beside the runtime where Kafka is
        from callroles.streaming.results import read_results, result_topic  # noqa: PLC0415 (optional: Kafka)
        from callroles.streaming.settings import streaming_settings  # noqa: PLC0415 (optional: Kafka)

        settings = streaming_settings()
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
