"""``callroles demo``: the whole job on example calls (``callroles.lab.demo``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add the ``demo`` sub-command."""
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


def _demo(args: argparse.Namespace) -> int:
    from callroles.lab.demo import Demo  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.lab.settings import stack_settings  # noqa: PLC0415 (CLI handler: loaded on use)

    if args.calls < 1:
        print("callroles demo: --calls must be at least 1", file=sys.stderr)
        return 2
    demo = Demo(
        stack_settings(),
        args.out,
        args.files,
        calls=args.calls,
        seed=args.seed,
        timeout_s=args.timeout,
        progress=not args.no_progress,
    )
    return demo.run()
