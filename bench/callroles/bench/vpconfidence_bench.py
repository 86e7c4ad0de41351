"""``callroles bench vpconfidence``: does a voiceprint decision's confidence mean a rate?

The voiceprint decides a call whose agent is enrolled: the speaker closer to the print is the
agent, with a confidence from the similarity margin (``voiceprint.calibration.json``, fitted by
``callroles calibrate --voiceprints`` on other generated calls). Evaluated on calls the fit did
not see: real LibriSpeech voices in generated calls (seed 7, the ``bench eval`` set; each agent
enrolled from the utterances the generator keeps out of mono calls) and the real Callytics calls
(CSR01 enrolled from her sample; evaluation only). Per set: accuracy, expected calibration error
of the uncalibrated reading (0.5 plus the margin) and of the fitted one, and wrong decisions at
0.9 or more. Writes bench/results/vpconfidence.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from callroles.agents.store import FileStore
from callroles.base.settings import get_settings
from callroles.bench.eval_bench import SHARED, real_voice_corpus
from callroles.bench.evaluation import score_real
from callroles.bench.paths import RESULTS_DIR
from callroles.call.enrol import enrol
from callroles.call.pipeline import load_models
from callroles.call.roles import voiceprint_scale
from callroles.export.calibrate import PairScore, score_corpus, summary
from callroles.lab.simulate.real_voices import ENROL_UTTERANCES, read_speakers

RESULTS = RESULTS_DIR / "vpconfidence.json"


def _uncalibrated_ece(margins: np.ndarray, bins: int = 10) -> float:
    conf = np.minimum(0.5 + np.abs(margins), 1.0)
    right = margins > 0
    idx = np.clip(((conf - 0.5) / 0.5 * bins).astype(int), 0, bins - 1)
    return float(
        sum(abs(right[idx == b].mean() - conf[idx == b].mean()) * np.mean(idx == b)
            for b in range(bins) if np.any(idx == b))
    )  # fmt: skip


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="callroles bench vpconfidence")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    settings = get_settings()
    models = load_models(settings)
    scale = voiceprint_scale()
    voices = SHARED / "speakers" / "librispeech"
    sets: dict[str, list[PairScore]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = FileStore(Path(tmp) / "voiceprints.json")
        real = real_voice_corpus(settings)
        if real is not None:
            agents, _ = read_speakers(voices)
            for a in agents:
                store.put(enrol(models, f"R{a.speaker}", list(a.files[:ENROL_UTTERANCES])))
            name = "real voices in generated calls (LibriSpeech, seed 7)"
            sets[name] = list(score_corpus(real, models, None, store))
        else:
            print(f"real voices: absent ({voices}); skipped")
        callytics = SHARED / "real-calls" / "callytics"
        if callytics.is_dir():
            store.put(enrol(models, "CSR01", [callytics / "CSR01.wav"]))
            name = "real calls (Callytics), CSR01 enrolled"
            sets[name] = score_real(callytics, models, store, "CSR01")
        else:
            print(f"real calls: absent ({callytics}); skipped")
    report: dict[str, Any] = {
        "benchmark": "vpconfidence",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "scale": scale.scale,
        "ceiling": scale.ceiling,
        "note": "ece_uncalibrated: the uncalibrated reading 0.5 + margin; ece: sigmoid(margin / "
        "scale), at most the ceiling",
        "sets": {},
    }
    for name, scores in sets.items():
        m = np.array([s.margin for s in scores])
        fitted = summary(scores, scale.scale or 1.0, scale.ceiling)
        entry = {
            **fitted,
            "ece_uncalibrated": round(_uncalibrated_ece(m), 4) if len(m) else None,  # 0.5 + m
        }
        report["sets"][name] = {**entry, "calls": [s.__dict__ for s in scores]}
        print(f"[vpconfidence] {name}: {json.dumps(entry)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0
