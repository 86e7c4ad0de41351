"""``callroles segment FILE``: the front end's segmentation of one recording."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from callroles.schemas import LAYOUTS


def speakers_arg(text: str) -> int | str:
    """``--speakers``: a number of voices (1-4), "auto" (count them), "two-or-more" or
    "setting"."""
    if text in ("auto", "two-or-more", "setting"):
        return text
    if text.isdigit() and 1 <= int(text) <= 4:
        return int(text)
    raise argparse.ArgumentTypeError("give 1 to 4, auto, two-or-more or setting")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("segment", help="segment a recording: speech per speaker, music, noise")
    p.add_argument("file", type=Path, help="recording (.gsm, .wav, .mp3, .flac, .ogg, ...)")
    p.add_argument("--rttm", type=Path, metavar="OUT", help="also write the speech as RTTM")
    p.add_argument("--csv", type=Path, metavar="OUT", help="also write all segments as CSV")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--layout",
        default="auto",
        choices=LAYOUTS,
    )
    p.add_argument(
        "--speakers",
        type=speakers_arg,
        default="setting",
        metavar="N|auto|two-or-more",
        help="voices in a mono call: 1-4, auto (count them), two-or-more (two unless more are "
        "counted with certainty) or setting (default: CALLROLES_SPEAKER_COUNT, two-or-more "
        "unless set)",
    )
    p.set_defaults(func=_segment)


# Handlers import inside themselves so `callroles --help` stays fast (callroles/cli.py).
def _segment(args: argparse.Namespace) -> int:
    from callroles.base.settings import get_settings  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.call.pipeline import Models, front_end  # noqa: PLC0415 (ONNX Runtime, librosa: not for --help)

    result = front_end(
        args.file, Models(get_settings()), layout=args.layout, n_speakers=args.speakers
    )
    uri = args.file.stem
    if args.rttm:
        args.rttm.write_text(result.segmentation.to_rttm(uri))
    if args.csv:
        args.csv.write_text(result.segmentation.to_csv())
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2)
        print()
        return 0
    facts = result.facts
    print(
        f"{args.file.name}: {facts.codec} in {facts.container}, {facts.sample_rate} Hz, "
        f"{facts.channels} ch, {facts.duration_s:.2f} s; strategy {result.strategy}"
    )
    for seg in result.segmentation.segments:
        who = f"{seg.speaker} ({seg.gender})" if seg.speaker else ""
        print(f"  {seg.start:9.2f} {seg.end:9.2f}  {seg.label:12s} {who}")
    b = result.budget
    talk = ", ".join(f"{k} {v:.1f} s" for k, v in b["speech_per_speaker_s"].items()) or "none"
    known = f", announcements {b['announcement_s']:.1f} s" if b.get("announcement_s") else ""
    print(
        f"speech per speaker: {talk}; silence {b['silence_s']:.1f} s, music "
        f"{b['music_s']:.1f} s, noise {b['noise_s']:.1f} s{known}, overlap {b['overlap_s']:.1f} s"
    )
    count = b.get("speaker_count", {})
    doubt = " (uncertain)" if count.get("uncertain") else ""
    print(f"voices: {count.get('n')} ({count.get('method')}){doubt}")
    return 0
