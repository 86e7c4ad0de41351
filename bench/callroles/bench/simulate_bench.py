"""Benchmark of `callroles simulate`: generation speed and inaSpeechSegmenter gender agreement.

Speed: audio-seconds generated per wall-second with the default preset on this machine (target
>= 20x real time). Gender: share of ground-truth single-speaker speech time that
inaSpeechSegmenter labels with the intended gender, per voice family (target >= 90%), measured on
calls of the small preset, which covers every family. Writes bench/results/simulate.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from callroles.base.settings import get_settings
from callroles.bench.paths import RESULTS_DIR
from callroles.lab.simulate import channel, generate_corpus, scripts
from callroles.lab.simulate.dialogue import utterance_regions
from callroles.lab.simulate.gender_check import agreement, segmenter
from callroles.lab.simulate.tts import SR, synthesize
from callroles.lab.simulate.voices import catalog

RESULTS = RESULTS_DIR / "simulate.json"


def _speed(calls: int, seed: int, workers: int) -> dict:

    with tempfile.TemporaryDirectory(prefix="callroles-simbench-") as tmp:
        load_before = os.getloadavg()[0]
        summary = generate_corpus(Path(tmp) / "c", calls=calls, seed=seed, workers=workers)
        return {
            "preset": "default",
            "calls": calls,
            "seed": seed,
            "workers": workers,
            "audio_s": round(summary.audio_s, 1),
            "wall_s": round(summary.wall_s, 1),
            "speed_x_realtime": round(summary.speed, 1),
            "load_average_1min_before": round(load_before, 2),
            "summary": summary.to_dict(),
        }


def _gender(calls: int, seed: int) -> dict:

    families = {v.name: v.family for v in catalog()}
    per_family: dict[str, list[float]] = {}
    per_voice: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="callroles-simbench-") as tmp:
        out = Path(tmp) / "c"
        generate_corpus(out, calls=calls, seed=seed, preset="small")
        seg = segmenter(get_settings())
        for truth_path in sorted((out / "truth").glob("*.json")):
            truth = json.loads(truth_path.read_text())
            audio = next((out / "audio").glob(truth_path.stem + ".*"))
            if truth["channels"] == 2:  # inaSpeechSegmenter reads one channel: downmix
                stereo, sr = sf.read(str(audio), dtype="float32")
                audio = Path(tmp) / f"{truth_path.stem}-mono.wav"
                sf.write(str(audio), stereo.mean(axis=1), sr)
            for sid, (speech, right) in agreement(seg, audio, truth_path).items():
                voice = truth["speakers"][sid]["voice"]
                for table, key in ((per_family, families[voice]), (per_voice, voice)):
                    acc = table.setdefault(key, [0.0, 0.0])
                    acc[0] += speech
                    acc[1] += right

    def _fmt(table: dict[str, list[float]]) -> dict:
        return {
            k: {"speech_s": round(s, 1), "agreement": round(r / s, 4) if s else None}
            for k, (s, r) in sorted(table.items())
        }

    total = sum(v[0] for v in per_family.values())
    right = sum(v[1] for v in per_family.values())
    return {
        "data": f"synthetic: small preset, {calls} calls, seed {seed}, GSM files"
        " (the stereo call downmixed)",
        "overall_agreement": round(right / total, 4) if total else None,
        "speech_s": round(total, 1),
        "per_family": _fmt(per_family),
        "per_voice": _fmt(per_voice),
    }


def _probe(seed: int, engines: tuple[str, ...] | None = None) -> dict:
    """Every voice identity alone: ~20 s of its speech through a headset or the phone line, GSM."""

    rng = np.random.default_rng(seed)
    parts, spans, t = [], [], 0
    for v in catalog(None, engines):
        lines = scripts.LINES[v.language]
        texts = [
            scripts.fill(x, v.language, rng, company="X", name="Y")
            for x in lines.customer_turns[:4] + lines.agent_turns[:2]
        ]
        pause = np.zeros(int(0.3 * SR), np.float32)
        speech = np.concatenate([a for x in texts for a in (synthesize(v, x), pause)])
        line = bool(rng.random() < 0.5)
        y = channel.phone_line(speech, rng, -6, -50) if line else channel.headset(speech, rng, -3)
        t += int(1.5 * SR)
        parts += [np.zeros(int(1.5 * SR), np.float32), y]
        spans.append((v, [(t + a, t + b) for a, b in utterance_regions(speech)], line))
        t += len(y)
    with tempfile.TemporaryDirectory(prefix="callroles-simprobe-") as tmp:
        wav, gsm = Path(tmp) / "all.wav", Path(tmp) / "all.gsm"
        sf.write(str(wav), np.concatenate(parts), SR)
        subprocess.run(["sox", "-D", str(wav), str(gsm)], check=True)
        subprocess.run(["sox", str(gsm), str(wav)], check=True)
        labels = np.full(t // 80 + 1, "", dtype=object)
        for label, a, b in segmenter(get_settings())(str(wav)):
            labels[int(a * 100) : int(b * 100)] = label
    per_voice: dict[str, dict] = {}
    per_family: dict[str, list[float]] = {}
    for v, regs, line in spans:
        frames = np.concatenate([labels[a // 80 : b // 80] for a, b in regs])
        ok, tot = float((frames == v.gender).sum()) / 100, len(frames) / 100
        per_voice[v.name] = {
            "path": "phone line" if line else "headset",
            "speech_s": tot,
            "agreement": round(ok / tot, 4),
        }
        acc = per_family.setdefault(v.family, [0.0, 0.0])
        acc[0], acc[1] = acc[0] + tot, acc[1] + ok
    return {
        "data": "synthetic: every voice identity alone, ~20 s each, GSM round trip",
        "per_family": {
            f: {"speech_s": round(a, 1), "agreement": round(b / a, 4)}
            for f, (a, b) in sorted(per_family.items())
        },
        "per_voice": per_voice,
    }


def _merge_probe(old: dict, new: dict) -> dict:
    """Probes of some engines update the stored probe of all voices instead of replacing it."""
    merged = dict(old)
    merged["per_family"] = {**old.get("per_family", {}), **new["per_family"]}
    merged["per_voice"] = {**old.get("per_voice", {}), **new["per_voice"]}
    merged["data"] = new["data"]
    return merged


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="callroles bench simulate")
    parser.add_argument("--calls", type=int, default=12, help="calls for the speed run, 0: skip")
    parser.add_argument("--gender-calls", type=int, default=5, help="small-preset calls, 0: skip")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--probe",
        action="store_true",
        help="also label every voice identity alone (about 25 min on 2 cores)",
    )
    parser.add_argument(
        "--probe-engines",
        default=None,
        help="comma list of engines to probe (default: the default catalogue); merged into "
        "the stored probe",
    )
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    result: dict = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    if args.calls > 0:
        result["speed"] = _speed(args.calls, args.seed, args.workers)
        print(json.dumps(result["speed"], indent=1))
    if args.gender_calls > 0:
        result["gender"] = _gender(args.gender_calls, args.seed)
        print(json.dumps({k: v for k, v in result["gender"].items() if k != "per_voice"}, indent=1))
    if args.probe:
        engines = tuple(args.probe_engines.split(",")) if args.probe_engines else None
        probe = _probe(0, engines)
        print(json.dumps(probe["per_family"], indent=1))
        result["gender_voice_probe"] = _merge_probe(result.get("gender_voice_probe", {}), probe)
    result["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
