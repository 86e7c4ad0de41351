"""``callroles bench voiceprint``: how well a voiceprint tells a known agent from other voices.

Real voices held out of everything we train: LibriSpeech ``test-other`` (10 speakers, 10
utterances each) and ``train-clean-100`` (251 speakers, one utterance each, as impostors), from
``../shared/data/speakers/librispeech``, each sent through a simulated phone line (telephone
band, mu-law, line noise: ``callroles.lab.simulate.channel.phone_line``) and GSM 6.10 at 8 kHz, then
decoded by the front end's decoder. A test-other speaker's voiceprint is made from 2 of their
utterances; each of their other 8 utterances is a target trial, every other speaker's utterance
a non-target trial. Reports the equal error rate and, for the decision the role rule makes (two
voices in a call, the one closer to the print is the agent), how often the agent's utterance
scores higher than an impostor's. Writes ``bench/results/voiceprint.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import librosa
import numpy as np

from callroles.agents.voiceprints import span_embedding
from callroles.base.settings import SHARED_DATA, get_settings
from callroles.bench.paths import RESULTS_DIR
from callroles.frontend.decode import decode
from callroles.lab.simulate.channel import phone_line, write_audio
from callroles.models.embeddings import VoiceEncoder

RESULTS = RESULTS_DIR / "voiceprint.json"
LIBRI = SHARED_DATA / "speakers" / "librispeech"
ENROL = 2  # utterances per voiceprint


def _through_phone(flac: Path, tmp: Path, rng: np.random.Generator) -> np.ndarray:
    """The utterance as a worker would see it after a phone line: 16 kHz 'wide' samples."""
    y, _ = librosa.load(flac, sr=8000, mono=True)
    line = phone_line(y.astype(np.float32), rng, gain_db=rng.uniform(-6, 3), noise_db=-50.0)
    out = tmp / f"{flac.stem}.gsm"
    write_audio(out, np.clip(line, -1.0, 1.0))
    return np.asarray(decode(out).wide.mean(axis=0))


def _eer(target: np.ndarray, nontarget: np.ndarray) -> tuple[float, float]:
    """Equal error rate and the threshold where misses equal false accepts."""
    thresholds = np.unique(np.concatenate([target, nontarget]))
    best = (1.0, 0.0)
    for t in thresholds:
        miss, fa = float(np.mean(target < t)), float(np.mean(nontarget >= t))
        if abs(miss - fa) < abs(best[0] - best[1]) or best == (1.0, 0.0):
            best, at = (miss, fa), float(t)
    return (best[0] + best[1]) / 2, at


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="callroles bench voiceprint")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--impostors", type=int, default=251, help="train-clean-100 speakers used")
    args = p.parse_args(argv)
    if not LIBRI.is_dir():
        print(f"the real voices are not here ({LIBRI}: the project's shared folder); nothing run")
        return 2
    encoder = VoiceEncoder(get_settings())
    rng = np.random.default_rng(2026)
    speakers: dict[str, list[np.ndarray]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for folder in sorted(d for d in (LIBRI / "test-other").iterdir() if d.is_dir()):
            files = sorted(folder.glob("*.flac"))
            speakers[folder.name] = [
                e
                for f in files
                if (e := span_embedding(_through_phone(f, Path(tmp), rng), [(0.0, 1e9)], encoder))
                is not None
            ]
        impostors = [
            e
            for f in sorted((LIBRI / "train-clean-100").glob("*.flac"))[: args.impostors]
            if (e := span_embedding(_through_phone(f, Path(tmp), rng), [(0.0, 1e9)], encoder))
            is not None
        ]
    target, nontarget, pairwise = [], [], []
    for spk, embs in speakers.items():
        mean = np.mean(embs[:ENROL], axis=0)
        vp = mean / np.linalg.norm(mean)
        own = [float(e @ vp) for e in embs[ENROL:]]
        others = [float(e @ vp) for o, es in speakers.items() if o != spk for e in es]
        others += [float(e @ vp) for e in impostors]
        target += own
        nontarget += others
        pairwise += [t > n for t in own for n in others]
    eer, threshold = _eer(np.array(target), np.array(nontarget))
    report: dict[str, Any] = {
        "benchmark": "voiceprint",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": "real read speech (LibriSpeech test-other, train-clean-100) through a simulated "
        "phone line and GSM 6.10 at 8 kHz; voiceprint from 2 utterances (10-20 s each)",
        "embedding": "resemblyzer-ge2e-0.1.4",
        "speakers": len(speakers),
        "target_trials": len(target),
        "nontarget_trials": len(nontarget),
        "eer": round(eer, 4),
        "threshold_at_eer": round(threshold, 4),
        "target_similarity_median": round(float(np.median(target)), 4),
        "nontarget_similarity_median": round(float(np.median(nontarget)), 4),
        "agent_closer_than_other_voice": round(float(np.mean(pairwise)), 4),
    }
    print(json.dumps(report, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0
