"""The ``callroles`` command. Each distribution registers its own sub-commands.

A distribution lists ``register(subparsers)`` functions under the ``callroles.commands`` entry
point group (its pyproject.toml), so a worker's install, which has no training or lab, simply
has no such commands. A command module imports heavy libraries (TensorFlow, ONNX Runtime, Faust)
inside its handlers, so that ``callroles version`` stays instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points, version

from callroles.base.errors import CallrolesError

COMMANDS = "callroles.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callroles",
        description="Tell agent from customer in call recordings and measure their talk time.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    show = sub.add_parser("version", help="print the version")
    show.set_defaults(func=lambda _args: print(f"callroles {version('callroles')}") or 0)
    for entry in sorted(entry_points(group=COMMANDS), key=lambda e: e.name):
        entry.load()(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CallrolesError as exc:
        print(f"callroles: error [{exc.code}]: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("callroles: interrupted", file=sys.stderr)
        return 130
