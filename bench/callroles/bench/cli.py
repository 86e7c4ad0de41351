"""``callroles bench NAME``: run one benchmark (or ``all``); each writes bench/results/NAME.json.

A benchmark is a module ``callroles.bench.<name>_bench`` with ``main(argv: list[str]) -> int``.
Speed and memory targets live here, never in timed tests.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path


def available() -> list[str]:
    """Names of the benchmark modules that exist in this checkout."""
    here = Path(__file__).resolve().parent
    return sorted(
        m.name.removesuffix("_bench")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.endswith("_bench")
    )


def _run(args: argparse.Namespace) -> int:
    names = available() if args.name == "all" else [args.name]
    if args.name == "all":
        names = [n for n in names if n != "soak"]  # the soak runs for minutes: ask for it by name
    unknown = [n for n in names if n not in available()]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; available: {', '.join(available())}")
        return 2
    status = 0
    for name in names:
        print(f"== bench {name}")
        module = importlib.import_module(f"callroles.bench.{name}_bench")
        status |= int(module.main(list(args.rest)) or 0)
    return status


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run benchmarks (results as JSON in bench/results/)")
    p.add_argument("name", help=f"one of: all, {', '.join(available()) or '(none yet)'}")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    p.set_defaults(func=_run)
