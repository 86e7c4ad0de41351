"""The ``callroles`` command. Each concern registers its own sub-commands.

A sub-command module exposes ``register(subparsers)``; it must import heavy libraries
(TensorFlow, ONNX Runtime, Faust) inside its handlers, so that ``callroles version`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from collections.abc import Sequence

from callroles import __version__
from callroles.errors import CallrolesError

COMMAND_MODULES = (
    "callroles.deploy.cli",  # stack, setup, topics
    "callroles.simulate.cli",  # simulate
    "callroles.audio.cli",  # segment
    "callroles.audio.sounds_cli",  # sounds learn
    "callroles.training.cli",  # dataset, train, evaluate, compare
    "callroles.export.activity_cli",  # activity train, activity talk-time
    "callroles.export.music_cli",  # music train
    "callroles.analyze",  # analyze
    "callroles.agents_cli",  # agents enroll, list, forget
    "callroles.eval_diarization",  # eval diarization
    "callroles.export.cli",  # export, default-model
    "callroles.export.calibrate",  # calibrate
    "callroles.export.adapt",  # adapt
    "callroles.streaming.cli",  # worker, submit, tail, serve, watch
    "callroles.report.cli",  # demo, report
    "callroles.bench.cli",  # bench
)


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent package is not there yet
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callroles",
        description="Tell agent from customer in call recordings and measure their talk time.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    version = sub.add_parser("version", help="print the version")
    version.set_defaults(func=lambda _args: print(f"callroles {__version__}") or 0)
    for name in COMMAND_MODULES:
        if _module_exists(name):
            importlib.import_module(name).register(sub)
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
