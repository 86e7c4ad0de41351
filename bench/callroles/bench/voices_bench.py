"""``callroles bench voices``: how alike one reader's voice is across calls, and two readers'.

Learning an agent from recurrence (:mod:`callroles.agents.recurrence`) groups the voices of
different calls: each voice is the mean GE2E embedding of one speaker's talk in one call, and
two of them are one person above a threshold. This measures that threshold where it is used:
generated calls of real LibriSpeech readers (the agent pool recurs, customers do not), through
varied phone lines and random acoustic paths, each call through the front end. Every pair of
voices from two different calls, with at least ``MIN_VOICE_S`` of talk each, is a same-reader or
a different-reader pair by the ground truth; the equal-error threshold is reported. Writes
``bench/results/voices.json``. Not fitted on, nor run on, the real evaluation recordings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from callroles.agents.recurrence import CROSS_CALL, MIN_VOICE_S
from callroles.base.settings import SHARED_DATA, get_settings
from callroles.bench.paths import RESULTS_DIR
from callroles.call.pipeline import Models, front_end
from callroles.call.voices import call_voices
from callroles.frontend.decode import decode
from callroles.lab.simulate import generator_fingerprint
from callroles.lab.simulate.real_voices import generate_real_corpus

RESULTS = RESULTS_DIR / "voices.json"


def _truth_of(segments: list[Any], truth: dict[str, Any]) -> str | None:
    """The truth speaker a found speaker's segments overlap most."""
    best, most = None, 0.0
    for who in truth["speakers"]:
        spans = [(g["start"], g["end"]) for g in truth["segments"] if g["speaker"] == who]
        got = sum(max(0.0, min(b, s.end) - max(a, s.start)) for a, b in spans for s in segments)
        if got > most:
            best, most = who, got
    return best


def voices_of(corpus: Path, models: Models) -> list[tuple[str, str, np.ndarray, float]]:
    """(call, truth speaker, mean embedding, seconds of talk) of every found speaker."""
    out = []
    for path in sorted((corpus / "truth").glob("*.json")):
        truth = json.loads(path.read_text())
        audio = decode(next((corpus / "audio").glob(truth["call_id"] + ".*")), models.limits)
        front = front_end(audio, models)
        heard = call_voices(front, audio, models.encoder)
        for s in front.speakers:
            who = _truth_of(s.segments, truth)
            if s.speaker in heard and who is not None:
                vec, talk = heard[s.speaker]
                out.append((truth["call_id"], who, vec, talk))
        print(f"[voices] {truth['call_id']}: {len(out)} voices", flush=True)
    return out


def equal_error(same: np.ndarray, different: np.ndarray) -> tuple[float, float]:
    """(rate, threshold) where missed same pairs and accepted different pairs are equal."""
    grid = np.linspace(0.5, 0.99, 491)
    frr = np.array([(same < t).mean() for t in grid])
    far = np.array([(different >= t).mean() for t in grid])
    k = int(np.argmin(np.abs(frr - far)))
    return float((frr[k] + far[k]) / 2), float(grid[k])


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="callroles bench voices")
    p.add_argument("--calls", type=int, default=60)
    p.add_argument("--seed", type=int, default=9001)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    settings = get_settings()
    root = SHARED_DATA / "speakers" / "librispeech"
    if not root.is_dir():
        print(f"LibriSpeech readers absent ({root}): nothing to measure")
        return 2
    corpus = (
        settings.home / "bench-cache" / f"voices-{args.calls}-{args.seed}-{generator_fingerprint()}"
    )
    if not (corpus / "calls.csv").is_file():
        generate_real_corpus(
            corpus, root, calls=args.calls, seed=args.seed, varied_lines=True, random_paths=True
        )
    voices = voices_of(corpus, Models(settings))
    same: list[float] = []
    different: list[float] = []
    for i, (call_a, who_a, vec_a, talk_a) in enumerate(voices):
        for call_b, who_b, vec_b, talk_b in voices[i + 1 :]:
            if call_a == call_b or min(talk_a, talk_b) < MIN_VOICE_S:
                continue
            (same if who_a == who_b else different).append(float(vec_a @ vec_b))
    s, d = np.array(same), np.array(different)
    rate, threshold = equal_error(s, d)
    report = {
        "benchmark": "voices",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": f"real voices (LibriSpeech readers) in {args.calls} generated calls, seed "
        f"{args.seed}, varied phone lines, random acoustic paths; through the front end",
        "same_pairs": len(s),
        "different_pairs": len(d),
        "same_median": round(float(np.median(s)), 4),
        "same_p5": round(float(np.percentile(s, 5)), 4),
        "different_median": round(float(np.median(d)), 4),
        "different_p95": round(float(np.percentile(d, 95)), 4),
        "equal_error_rate": round(rate, 4),
        "equal_error_threshold": round(threshold, 3),
        "shipped_threshold": CROSS_CALL,
        "at": {
            str(t): {"missed_same": round(float((s < t).mean()), 4),
                     "accepted_different": round(float((d >= t).mean()), 4)}
            for t in (0.70, 0.75, CROSS_CALL, 0.80, 0.84)
        },
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0
