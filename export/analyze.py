"""``callroles analyze``: one recording through the whole pipeline in one process.

The same plain functions the streaming workers run (front end, scorer, Eq. 4/5, result builder),
with no Kafka and no Redis, so a user can check a call, or the default model, in one command,
and the JSON printed is exactly a ``call_result.v1`` event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from callroles.errors import InputError


@dataclass
class Analysis:
    """The result event plus what produced it (for plots and tests)."""

    result: dict[str, Any]
    frontend: Any
    window_probs: dict[str, np.ndarray]


def analyze(
    source: Path,
    *,
    model: Path | None = None,
    layout: str = "auto",
    n_speakers: int = 2,
    strategy: str = "auto",
    frontend: Any = None,
    scorer: Any = None,
    fast: bool | None = None,
) -> Analysis:
    """Decode, segment, separate, window, score, aggregate (Eq. 4 and 5), build the result.

    ``fast`` runs the conv trunk once per speaker stream (``Scorer.score_speaker``); None
    follows the ``scoring`` setting, as the workers do.
    """
    from callroles.audio.pipeline import FrontEnd
    from callroles.export.scorer import Scorer
    from callroles.streaming.aggregate import speaker_probabilities
    from callroles.streaming.results import build_result

    if not Path(source).is_file():
        raise InputError(f"no such recording: {source}", code="input_missing")
    if fast is None:
        from callroles.settings import get_settings

        fast = get_settings().scoring == "trunk-once"
    started = time.perf_counter()
    # load before the front end runs: a bad model fails fast
    scorer = scorer or Scorer.load(model, stream_trunk=fast)
    frontend = frontend or FrontEnd()
    front = frontend.process(Path(source), layout=layout, n_speakers=n_speakers, strategy=strategy)
    t0 = time.perf_counter()
    score = scorer.score_speaker if fast else scorer.score
    window_probs = {s.speaker: score(s.windows) for s in front.speakers}
    score_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    means = {
        spk: speaker_probabilities(probs)[0] for spk, probs in window_probs.items() if len(probs)
    }
    latencies = {
        "score": score_s,
        "aggregate": time.perf_counter() - t0,
        "total": time.perf_counter() - started,
    }
    result = build_result(Path(source).stem, front, means, scorer, latencies)
    return Analysis(result=result, frontend=front, window_probs=window_probs)


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
        lines.append(
            f"  {spk['speaker']:<6} {spk['role']:<8} {spk['gender']:<7} "
            f"talk {spk['talk_time_s']:6.1f} s  confidence {spk['confidence']:.2f}  "
            f"[{probs}]  ({spk['windows']} windows{', padded' if spk['padded'] else ''})"
        )
    ratio = call["talk_to_listen_ratio"]
    lines.append(
        f"  silence {call['silence_s']:.1f} s, music {call['music_s']:.1f} s, noise "
        f"{call['noise_s']:.1f} s, overlap {call['overlap_s']:.1f} s; agent/customer talk ratio "
        + (f"{ratio:.2f}" if ratio is not None else "n/a")
    )
    lat = result.get("latency_s", {})
    lines.append("  seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in lat.items()))
    return "\n".join(lines)


def write_plot(result: dict[str, Any], out: Path) -> Path:
    """Timeline PNG of the result (the report package's drawing, Agg backend)."""
    from callroles.report.timeline import timeline_png

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(timeline_png(result))
    return out
