"""``callroles bench channel``: does the channel alone decide the role? (SYNTHETIC probe)

The same words, said by the same TTS voice, go once through the simulator's agent headset and
once through its customer phone line; the role model scores both. A model that learnt roles
gives both about the same P(agent); a model that learnt our channel gives the headset 1 and the
phone 0. Our first shipped model, trained with agents always on a headset, did exactly that
(issue 18). Writes bench/results/channel.json: per voice P(agent) on each path and the gap.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from callroles.bench.paths import RESULTS_DIR
from callroles.call.scoring import score_stream
from callroles.lab.simulate.channel import headset, phone_line
from callroles.lab.simulate.scripts import LINES, fill
from callroles.lab.simulate.tts import synthesize
from callroles.lab.simulate.voices import LANGUAGES, Voice, catalog
from callroles.models.crnn import RoleModel
from callroles.models.features import DEFAULT_SPEC

RESULTS = RESULTS_DIR / "channel.json"
PAUSE_S = 0.3


def probe_voices(per_group: int = 2) -> list[Voice]:
    """``per_group`` espeak voices per language and gender (the simulator's own catalogue)."""
    voices = catalog(engines=("espeak",))
    out: list[Voice] = []
    for lang in LANGUAGES:
        for gender in ("female", "male"):
            out += [v for v in voices if v.language == lang and v.gender == gender][:per_group]
    return out


def channel_gap(scorer: RoleModel, voices: list[Voice], seed: int = 0) -> list[dict[str, Any]]:
    """Per voice: P(agent) (Eq. 4 mean over windows) through the headset and the phone line."""
    agent = [i for i, c in enumerate(scorer.classes) if c.endswith("agent")]
    rng = np.random.default_rng(seed)
    rows = []
    for voice in voices:
        texts = [fill(t, voice.language, rng) for t in LINES[voice.language].customer_turns[:6]]
        pause = np.zeros(int(PAUSE_S * DEFAULT_SPEC.sample_rate), np.float32)
        speech = np.concatenate([np.concatenate([synthesize(voice, t), pause]) for t in texts])
        paths = {
            "headset": headset(speech, np.random.default_rng(seed), -3.0),
            "phone": phone_line(speech, np.random.default_rng(seed), -3.0, -45.0),
        }
        p = {
            name: float(score_stream(scorer, x)[0][:, agent].sum(axis=1).mean())
            for name, x in paths.items()
        }
        rows.append(
            {
                "voice": voice.name,
                "seconds": round(len(speech) / DEFAULT_SPEC.sample_rate, 1),
                "p_agent_headset": round(p["headset"], 4),
                "p_agent_phone": round(p["phone"], 4),
                "gap": round(p["headset"] - p["phone"], 4),
            }
        )
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    gaps = np.array([r["gap"] for r in rows])
    return {
        "voices": len(rows),
        "mean_abs_gap": round(float(np.abs(gaps).mean()), 4),
        "median_gap": round(float(np.median(gaps)), 4),
        "max_abs_gap": round(float(np.abs(gaps).max()), 4),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="callroles bench channel")
    p.add_argument(
        "--model", type=Path, action="append", help="an .onnx (repeat; default: shipped)"
    )
    p.add_argument("--per-group", type=int, default=2, help="voices per language and gender")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    voices = probe_voices(args.per_group)
    models: dict[str, Any] = {}
    for path in args.model or [None]:
        scorer = RoleModel.load(path)
        rows = channel_gap(scorer, voices)
        name = f"{scorer.model_name} {scorer.model_version}"
        models[name] = {"path": str(path or "shipped"), "summary": summary(rows), "voices": rows}
        print(f"{name}: {summary(rows)}")
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "channel",
                "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "data": "SYNTHETIC: espeak voices, the same customer lines through each path",
                "question": "P(agent) of the same speech through the agent headset and the phone",
                "models": models,
            },
            indent=2,
        )
        + "\n"
    )
    return 0
