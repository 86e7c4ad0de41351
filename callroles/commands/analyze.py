"""``callroles analyze FILE``: one recording through the whole pipeline in one process.

It runs :func:`callroles.call.pipeline.run_call`, exactly what a streaming worker runs, with no
Kafka and no Redis, so a user can check a call, or the default model, in one command; the JSON
printed is exactly a ``call_result.v1`` event.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from callroles.commands.segment import speakers_arg
from callroles.schemas import LAYOUTS


def register(sub: Any) -> None:
    a = sub.add_parser("analyze", help="analyse one recording in-process (no Kafka, no Redis)")
    a.add_argument("file", type=Path, help="recording (gsm, wav, mp3, ...)")
    a.add_argument("--json", action="store_true", help="print the call_result.v1 event")
    a.add_argument("--plot", type=Path, metavar="OUT.png", help="write a timeline picture")
    a.add_argument("--model", type=Path, help="exported .onnx (default: the shipped model)")
    a.add_argument("--layout", default="auto", choices=LAYOUTS)
    a.add_argument(
        "--speakers", type=speakers_arg, default="setting", metavar="N|auto|two-or-more",
        help="voices in a mono call: 1-4, auto (count them), two-or-more (two unless more are "
        "counted with certainty); default CALLROLES_SPEAKER_COUNT",
    )  # fmt: skip
    a.add_argument(
        "--agent-id", help="the call's agent: with a voiceprint enrolled, their voice decides"
    )
    a.add_argument("--tenant", default=None, help="the agent's tenant (voiceprints per tenant)")
    a.set_defaults(func=_analyze)


def _analyze(args: argparse.Namespace) -> int:
    # the pipeline loads ONNX Runtime and librosa: imported here so `callroles --help` stays fast
    from callroles.agents.store import open_store  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.base.settings import get_settings  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.call.pipeline import Models, analyze_file  # noqa: PLC0415 (CLI handler: loaded on use)

    settings = get_settings()
    if args.model is not None:
        settings = settings.model_copy(update={"model_path": args.model})
    call = {"call_id": args.file.stem, "layout": args.layout}
    call |= {"agent_id": args.agent_id, "tenant": args.tenant} if args.agent_id else {}
    store = open_store(settings) if args.agent_id else None
    result = analyze_file(
        args.file, Models(settings), call=call, n_speakers=args.speakers, voiceprints=store
    )
    if args.plot:
        write_plot(result, args.plot)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print(format_text(result))
        if args.plot:
            print(f"  timeline: {args.plot}")
    return 0


def format_text(result: dict[str, Any]) -> str:
    """A short human-readable summary of a ``call_result.v1``."""
    call = result["call"]
    model = result["model"]
    lines = [
        f"call {result['call_id']}: {result['duration_s']:.1f} s, "
        f"separation by {result['separation_strategy']}, model {model['name']} "
        f"{model['version']} on {model.get('provider') or '?'}",
    ]
    for spk in result["speakers"]:
        probs = ", ".join(f"{c} {p:.2f}" for c, p in spk["probabilities"].items()) or "no windows"
        source = spk.get("role_source", "model")
        if spk.get("voiceprint_similarity") is not None:
            source += f" {spk['voiceprint_similarity']:.2f}"
        lines.append(
            f"  {spk['speaker']:<6} {spk['role']:<8} ({source}) {spk['gender']:<7} "
            f"talk {spk['talk_time_s']:6.1f} s  confidence {spk['confidence']:.2f}  "
            f"[{probs}]  ({spk['windows']} windows{', padded' if spk['padded'] else ''})"
        )
    ratio = call["talk_to_listen_ratio"]
    lines.append(
        f"  silence {call['silence_s']:.1f} s, music {call['music_s']:.1f} s, noise "
        f"{call['noise_s']:.1f} s, "
        + (f"announcements {call['announcement_s']:.1f} s, " if call.get("announcement_s") else "")
        + f"overlap {call['overlap_s']:.1f} s; agent/customer talk ratio "
        + (f"{ratio:.2f}" if ratio is not None else "n/a")
    )
    if result.get("flags"):
        lines.append("  doubts: " + ", ".join(result["flags"]))
    lat = result.get("latency_s", {})
    lines.append("  seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in lat.items()))
    return "\n".join(lines)


def write_plot(result: dict[str, Any], out: Path) -> Path:
    """Timeline PNG of the result (the report package's drawing, Agg backend)."""
    from callroles.report.timeline import timeline_png  # noqa: PLC0415 (matplotlib, ~0.4 s: only when drawing)

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(timeline_png(result))
    return out
