"""`callroles simulate`: write a synthetic call-center corpus with ground truth."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="generate a synthetic call-center corpus (audio, calls.csv/.sql, ground truth)",
        description="Generate calls between a recurring pool of agents and customers with offline "
        "TTS voices, a headset and a telephone line, hold music and overlaps; deterministic for a "
        "seed. Writes audio/, truth/ (RTTM + JSON), calls.csv and calls.sql into --out.",
    )
    p.add_argument(
        "--calls",
        type=int,
        default=None,
        help="number of calls (default: 5 with --small, else 100)",
    )
    p.add_argument("--out", type=Path, required=True, help="new or empty output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--small",
        action="store_true",
        help="the small preset: a few short calls covering every case, for tests",
    )
    p.add_argument("--preset", choices=("small", "default"), default=None)
    p.add_argument(
        "--format",
        dest="audio_format",
        default="gsm",
        help="gsm (GSM 6.10, default) or wav; stereo calls are always WAV",
    )
    p.add_argument(
        "--stereo-fraction",
        type=float,
        default=0.0,
        help="share of calls recorded in stereo, agent left, customer right",
    )
    p.add_argument(
        "--random-paths",
        action="store_true",
        help="draw each party's path (headset or phone line) at random per call: agents on "
        "phones and customers on clean lines too, so the channel does not give the roles away",
    )
    p.add_argument(
        "--real-voices",
        type=Path,
        default=None,
        help="build the calls from real recorded voices in this LibriSpeech-style folder "
        "(e.g. ../shared/data/speakers/librispeech) instead of TTS",
    )
    p.add_argument("--languages", type=_csv, default=None, help="comma list of tr,de,en")
    p.add_argument(
        "--voices",
        type=_csv,
        default=None,
        help="comma list of voice engines: espeak, festival, mbrola (real diphone voices), "
        "piper (a neural voice), or all (default: espeak,festival)",
    )
    p.add_argument(
        "--lines",
        choices=("classic", "varied"),
        default="classic",
        help="phone lines: classic (G.711 mu-law) or varied (A-law, GSM, G.726, G.723.1, Opus, "
        "Speex; lost packets; level changes), drawn per call",
    )
    p.add_argument(
        "--sounds",
        choices=("synthetic", "debian", "training"),
        default="synthetic",
        help="hold music and announcements: synthetic chords, or real recordings from Debian "
        "(music on hold, telephone prompts that are speech but nobody's talk); training: real "
        "game music and prompt voices that no evaluation set plays",
    )
    p.add_argument(
        "--house-sounds",
        type=int,
        default=None,
        metavar="ID",
        help="with --sounds debian|training: one call centre (ID) that plays the same greeting, "
        "hold prompt and music-on-hold track in every call, as a telephone system does",
    )
    p.add_argument(
        "--repeat-customers",
        type=int,
        default=0,
        metavar="K",
        help="with --real-voices: K readers call 5 times each, each time another agent",
    )
    p.add_argument(
        "--quick-turns",
        action="store_true",
        help="with --real-voices: telephone turn-taking (0.3-8 s turns, interruptions, "
        "backchannels; lab/callroles/lab/simulate/quickturns.py says where the figures come from)",
    )
    p.add_argument(
        "--leave-out-readers-of",
        type=Path,
        action="append",
        default=[],
        metavar="CORPUS",
        help="with --real-voices: no reader that this real-voice corpus plays (repeatable; "
        "for a training corpus apart from the evaluation sets)",
    )
    p.add_argument("--workers", type=int, default=None, help="processes (default 2)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_run)


def _house(args: argparse.Namespace) -> int | None:
    """--house-sounds for real-voice calls: it plays Debian's recordings, so it needs them."""
    from callroles.lab.simulate.errors import SimulateInputError  # noqa: PLC0415 (CLI handler: loaded on use)

    if args.house_sounds is not None and args.sounds != "debian":
        raise SimulateInputError(
            "--house-sounds with --real-voices plays Debian's recordings: add --sounds debian",
            code="unknown_sounds",
        )
    return args.house_sounds  # type: ignore[no-any-return]


# Handlers import inside themselves so `callroles --help` stays fast (callroles/cli.py).
def _run(args: argparse.Namespace) -> int:
    from callroles.lab.simulate import generate_corpus  # noqa: PLC0415 (CLI handler: loaded on use)

    preset = "small" if args.small else (args.preset or "default")
    calls = args.calls if args.calls is not None else (5 if preset == "small" else 100)
    if args.real_voices is not None:
        from callroles.lab.simulate.real_voices import generate_real_corpus, readers_of  # noqa: PLC0415 (CLI handler: loaded on use)

        meta = generate_real_corpus(
            args.out, args.real_voices, calls=calls, seed=args.seed,
            stereo_fraction=args.stereo_fraction, random_paths=args.random_paths,
            varied_lines=args.lines == "varied",
            house_sounds=_house(args), repeat_customers=args.repeat_customers,
            quick_turns=args.quick_turns, leave_out=readers_of(args.leave_out_readers_of),
        )  # fmt: skip
        print(json.dumps(meta, indent=1))
        return 0
    summary = generate_corpus(
        args.out,
        calls=calls,
        seed=args.seed,
        preset=preset,
        audio_format=args.audio_format,
        stereo_fraction=args.stereo_fraction,
        languages=args.languages,
        progress=not args.json,
        engines=args.voices,
        workers=args.workers,
        random_paths=args.random_paths,
        lines=args.lines,
        sounds=args.sounds,
        house_sounds=args.house_sounds,
    )
    print(json.dumps(summary.to_dict(), indent=1) if args.json else summary.table())
    return 0
