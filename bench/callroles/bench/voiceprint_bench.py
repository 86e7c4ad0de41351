"""``callroles bench voiceprint``: how well a voiceprint tells a known agent from other voices.

Real voices held out of everything we train: LibriSpeech ``test-other`` (10 speakers, 10
utterances each) and ``train-clean-100`` (251 speakers, one utterance each, as impostors), from
``../shared/data/speakers/librispeech``, each sent through a simulated phone line (telephone
band, mu-law, line noise: ``callroles.lab.simulate.channel.phone_line``) and GSM 6.10 at 8 kHz, then
decoded by the front end's decoder. A test-other speaker's voiceprint is made from 2 of their
utterances; each of their other 8 utterances is a target trial, every other speaker's utterance
a non-target trial. Reports the equal error rate and, for the decision the role rule makes (two
voices in a call, the one closer to the print is the agent), how often the agent's utterance
scores higher than an impostor's. Then the real calls (Callytics, evaluation only): the agent's
own enrolment recording (``CSR01.wav``) as the print, against each speaker of each call in the
reference's turns (the agent's and the customer's speech, whole and turn by turn). Both
embeddings run on the same decoded audio in one run: GE2E (the one the voiceprints use) and CAM++
(``callroles.models.campplus``), each on whole utterances and on 2 s pieces (a short turn),
so the two can be compared. Writes ``bench/results/voiceprint.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import librosa
import numpy as np

from callroles.agents.voiceprints import span_embedding
from callroles.base.settings import SHARED_DATA, get_settings
from callroles.bench.evaluation import read_reference
from callroles.bench.paths import RESULTS_DIR
from callroles.frontend.decode import decode
from callroles.lab.simulate.channel import phone_line, write_audio
from callroles.models.campplus import VoiceEmbedding
from callroles.models.embeddings import VoiceEncoder

RESULTS = RESULTS_DIR / "voiceprint.json"
LIBRI = SHARED_DATA / "speakers" / "librispeech"
CALLYTICS = SHARED_DATA / "real-calls" / "callytics"
ENROL = 2  # utterances per voiceprint
PIECE_S = 2.0  # a short turn: each trial utterance's first PIECE_S seconds


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


def _scores(
    speakers: dict[str, list[np.ndarray]],
    trials: dict[str, list[np.ndarray]],
    impostors: list[np.ndarray],
) -> dict[str, Any]:
    """EER and pairwise agent-closer rate of prints (``speakers``' first utterances) against the
    other utterances of ``trials``, every other speaker's and the impostors'."""
    target, nontarget, pairwise = [], [], []
    for spk, embs in speakers.items():
        mean = np.mean(embs[:ENROL], axis=0)
        vp = mean / np.linalg.norm(mean)
        own = [float(e @ vp) for e in trials[spk][ENROL:]]
        others = [float(e @ vp) for o, es in trials.items() if o != spk for e in es]
        others += [float(e @ vp) for e in impostors]
        target += own
        nontarget += others
        pairwise += [t > n for t in own for n in others]
    eer, threshold = _eer(np.array(target), np.array(nontarget))
    return {
        "target_trials": len(target),
        "nontarget_trials": len(nontarget),
        "eer": round(eer, 4),
        "threshold_at_eer": round(threshold, 4),
        "target_similarity_median": round(float(np.median(target)), 4),
        "nontarget_similarity_median": round(float(np.median(nontarget)), 4),
        "agent_closer_than_other_voice": round(float(np.mean(pairwise)), 4),
    }


def _real_calls(embed: dict[str, Callable[[np.ndarray], np.ndarray]]) -> dict[str, Any]:
    """Per call and reference speaker (``agent_CSR01``, ``customer_Call01``), the cosine of its
    speech to the agent's enrolment print, whole and the lowest and highest of its turns."""
    out: dict[str, Any] = {}
    for audio in sorted(CALLYTICS.glob("Call*.wav")):
        ref = read_reference(audio)
        if ref is None:
            continue
        wide = decode(audio).wide.mean(axis=0)
        agent = next(w for w in ref.speech.labels() if w.startswith("agent_"))
        enrolled = decode(CALLYTICS / f"{agent.split('_', 1)[1]}.wav").wide.mean(axis=0)
        for name, fn in embed.items():
            vp = fn(enrolled)
            for who in ref.speech.labels():
                turns = [wide[int(s.start * 16000) : int(s.end * 16000)]
                         for s in ref.speech.label_timeline(who).support()]  # fmt: skip
                per_turn = [float(fn(t) @ vp) for t in turns if len(t) >= 16000]
                out.setdefault(name, {})[f"{audio.stem} {who}"] = {
                    "speech_s": round(sum(len(t) for t in turns) / 16000, 1),
                    "cosine": round(float(fn(np.concatenate(turns)) @ vp), 3),
                    "turns_from_to": [round(min(per_turn), 3), round(max(per_turn), 3)],
                }
    return out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="callroles bench voiceprint")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--impostors", type=int, default=251, help="train-clean-100 speakers used")
    args = p.parse_args(argv)
    if not LIBRI.is_dir():
        print(f"the real voices are not here ({LIBRI}: the project's shared folder); nothing run")
        return 2
    settings = get_settings()
    ge2e, campplus = VoiceEncoder(settings), VoiceEmbedding.load(settings)

    def whole(w: np.ndarray) -> np.ndarray:
        e = span_embedding(w, [(0.0, 1e9)], ge2e)
        if e is None:  # under GE2E's shortest piece: no trial here is
            raise ValueError("a trial too short for GE2E")
        return e

    embed: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "resemblyzer-ge2e-0.1.4": whole,
        "campplus-3dspeaker": campplus,
    }
    rng = np.random.default_rng(2026)
    with tempfile.TemporaryDirectory() as tmp:
        folders = sorted(d for d in (LIBRI / "test-other").iterdir() if d.is_dir())
        voices = {d.name: [_through_phone(f, Path(tmp), rng) for f in sorted(d.glob("*.flac"))]
                  for d in folders}  # fmt: skip
        others = [
            _through_phone(f, Path(tmp), rng)
            for f in sorted((LIBRI / "train-clean-100").glob("*.flac"))[: args.impostors]
        ]
    piece = int(PIECE_S * 16000)
    results: dict[str, Any] = {}
    for name, fn in embed.items():
        full = {s: [fn(w) for w in ws] for s, ws in voices.items()}
        short = {s: [fn(w[:piece]) for w in ws] for s, ws in voices.items()}
        results[name] = {
            "whole_utterances": _scores(full, full, [fn(w) for w in others]),
            f"pieces_of_{PIECE_S:g}_s": _scores(full, short, [fn(w[:piece]) for w in others]),
        }
    report: dict[str, Any] = {
        "benchmark": "voiceprint",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": "real read speech (LibriSpeech test-other, train-clean-100) through a simulated "
        "phone line and GSM 6.10 at 8 kHz; voiceprint from 2 whole utterances (10-20 s each); "
        f"trials whole or their first {PIECE_S:g} s",
        "speakers": len(voices),
        "embeddings": results,
        "real_calls": _real_calls(embed) if CALLYTICS.is_dir() else "absent (../shared)",
    }
    print(json.dumps(report, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0
