"""``callroles sounds learn ARCHIVE --out DIR``: the call centre's recordings, from its archive."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sounds", help="the call centre's own hold music and prompts")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    learn = verbs.add_parser(
        "learn",
        help="find the recordings that recur across an archive and write them as known sounds",
    )
    learn.add_argument("archive", type=Path, help="folder of recordings (calls.csv optional)")
    learn.add_argument("--out", type=Path, required=True, help="library folder to write")
    learn.add_argument(
        "--calls",
        type=_at_least_two,
        default=100,
        help="calls learnt from, spread over the archive (2 or more)",
    )
    learn.add_argument("--min-calls", type=int, default=3, help="calls a sound must recur in")
    learn.add_argument(
        "--min-agents", type=int, default=2, help="agents it must reach (when calls.csv names them)"
    )
    learn.add_argument(
        "--plot", type=Path, metavar="OUT.png", help="also draw where each sound plays per call"
    )
    learn.set_defaults(func=_learn)


def _at_least_two(text: str) -> int:
    """--calls: a recording recurs across calls, so one call teaches nothing."""
    if not text.isdigit() or int(text) < 2:
        raise argparse.ArgumentTypeError("give 2 calls or more")
    return int(text)


# Handlers import inside themselves so `callroles --help` stays fast (callroles/cli.py).
def _learn(args: argparse.Namespace) -> int:
    from callroles.base.settings import get_settings  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.sounds.recurring import LearnSpec, learn  # noqa: PLC0415 (CLI handler: loaded on use)

    def progress(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\rfingerprinting {done}/{total} calls", end=end, file=sys.stderr, flush=True)

    spec = LearnSpec(max_calls=args.calls, min_calls=args.min_calls, min_agents=args.min_agents)
    got = learn(args.archive, args.out, get_settings(), spec, progress)
    for path, why in got.skipped.items():
        print(f"skipped {path}: {why}", file=sys.stderr)
    print(f"{len(got.sounds)} recurring sounds in {got.calls} calls -> {args.out}")
    for n, s in enumerate(got.sounds, 1):
        print(f"  sound{n:02d}  {s.kind:<12} {s.seconds:6.1f} s  in {len(s.plays)} calls, "
              f"{len(s.agents) or '?'} agents")  # fmt: skip
    if args.plot:
        from callroles.sounds.plot import plot_library  # noqa: PLC0415 (CLI handler: loaded on use)

        title = f"recordings learnt from {args.archive.name} ({got.calls} calls)"
        print(f"drew {plot_library(got.sounds, args.plot, title)}")
    if got.sounds:
        print(f"use it: CALLROLES_KNOWN_SOUNDS={args.out}")
    elif args.out.is_dir():
        print(f"nothing recurs in these calls: the library in {args.out} is left as it was")
    else:
        print("nothing recurs in these calls: no library to use")
    return 0
