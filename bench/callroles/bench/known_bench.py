"""``callroles bench known``: find the call centre's own sounds (``callroles.frontend.known``).

The library is what an Asterisk call centre plays: Debian's hold music
(``/usr/share/asterisk/moh``) and English prompts (``sounds/en_US_f_Allison``). The calls are
generated with exactly those sounds (``simulate --sounds debian --lines varied --voices
mbrola --random-paths``, SYNTHETIC): the fingerprint's threshold (``min_hits``) is chosen on
seed 5353 and measured on seed 4343 (the held-out set of ``bench eval``), never the other way;
so is ``company`` (how many other hits within 1.5 s make a hit more than chance).
Per set: seconds of each kind found, seconds of a speaker's speech wrongly taken for a known
sound, and the search time. The real recordings (Callytics, pyAudioAnalysis, ina's reference)
hold none of these sounds: anything found there is a false alarm. Writes
``bench/results/known.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from callroles.base.settings import get_settings
from callroles.bench.eval_bench import SHARED, held_out_sources_corpus
from callroles.bench.paths import REFERENCE_DIR, RESULTS_DIR
from callroles.frontend.decode import decode
from callroles.frontend.known import KnownSounds, KnownSpec
from callroles.lab.simulate.sounds import PROMPT_VOICE, ROOT

RESULTS = RESULTS_DIR / "known.json"
MIN_HITS = (16, 24, 32, 40, 48, 64)
COMPANY = (0, 2)
LIBRARY = (ROOT / "moh", ROOT / "sounds" / PROMPT_VOICE["en"])


def _truth(corpus: Path, call_id: str, n: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-frame masks of each background kind, and of speakers' speech outside them."""
    truth = json.loads((corpus / "truth" / f"{call_id}.json").read_text())
    kinds = {k: np.zeros(n, bool) for k in ("music", "announcement")}
    events = np.zeros(n, bool)
    for e in truth["events"]:
        a, b = int(e["start"] * 100), int(e["end"] * 100)
        events[a:b] = True
        if e.get("kind") in kinds:
            kinds[e["kind"]][a:b] = True
    speech = np.zeros(n, bool)
    for s in truth["segments"]:
        speech[int(s["start"] * 100) : int(s["end"] * 100)] = True
    return kinds, speech & ~events


def measure(index: KnownSounds, corpus: Path, specs: list[KnownSpec]) -> list[dict[str, Any]]:
    """Found and falsely found seconds per spec over a generated corpus."""
    out: list[dict[str, Any]] = [
        {"min_hits": s.min_hits, "company": s.company, "found_s": {}, "truth_s": {},
         "false_on_speech_s": 0.0, "speech_s": 0.0, "search_s": 0.0}
        for s in specs
    ]  # fmt: skip
    for audio_path in sorted((corpus / "audio").iterdir()):
        audio = decode(audio_path)
        signal = audio.channels.mean(axis=0)
        n = int(len(signal) / 80)
        kinds, speech = _truth(corpus, audio_path.stem, n)
        for spec, row in zip(specs, out, strict=True):
            index.spec = spec
            t0 = time.perf_counter()
            found = np.zeros(n, bool)
            for m in index.find(signal):
                found[int(m.start * 100) : int(m.end * 100)] = True
            row["search_s"] += time.perf_counter() - t0
            for k, mask in kinds.items():
                row["truth_s"][k] = row["truth_s"].get(k, 0.0) + mask.sum() / 100
                row["found_s"][k] = row["found_s"].get(k, 0.0) + (mask & found).sum() / 100
            row["false_on_speech_s"] += (speech & found).sum() / 100
            row["speech_s"] += speech.sum() / 100
    for row in out:
        row["recall"] = {k: round(row["found_s"][k] / max(v, 1e-9), 3)
                         for k, v in row["truth_s"].items()}  # fmt: skip
        for key in ("found_s", "truth_s"):
            row[key] = {k: round(v, 1) for k, v in row[key].items()}
        row["false_on_speech_s"] = round(row["false_on_speech_s"], 2)
        row["speech_s"], row["search_s"] = round(row["speech_s"], 1), round(row["search_s"], 2)
    return out


def real_false_alarms(index: KnownSounds) -> dict[str, float]:
    """Seconds found in real recordings that hold none of the library's sounds."""
    folders = [SHARED / "real-calls" / "callytics", SHARED / "diarization" / "pyaudioanalysis",
               REFERENCE_DIR]  # fmt: skip
    out = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for f in sorted(p for p in folder.iterdir() if p.suffix in (".wav", ".mp3")):
            found = index.find(decode(f).channels.mean(axis=0))
            out[f.name] = round(sum(m.end - m.start for m in found), 2)
    return out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="callroles bench known")
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if not all(f.is_dir() for f in LIBRARY):
        print(f"the Debian sounds are not installed ({LIBRARY}): run make setup")
        return 2
    settings = get_settings()
    t0 = time.perf_counter()
    index = KnownSounds.load(os.pathsep.join(map(str, LIBRARY)), settings.home / "cache")
    build_s = time.perf_counter() - t0
    shipped = index.spec
    specs = [replace(shipped, min_hits=h, company=c) for c in COMPANY for h in MIN_HITS]
    tune = held_out_sources_corpus(settings, args.calls, seed=5353)
    test = held_out_sources_corpus(settings, args.calls)
    tuned = measure(index, tune, specs)
    held = measure(index, test, [shipped])
    index.spec = shipped
    report = {
        "benchmark": "known",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": f"SYNTHETIC: {args.calls} generated calls each (MBROLA voices, varied codecs, "
        "Debian hold music and prompts, random paths); threshold chosen on seed 5353, "
        "measured on seed 4343",
        "library": {
            "folders": [str(f) for f in LIBRARY],
            "files": len(index.names),
            "landmarks": int(len(index.table)),
            "load_s": round(build_s, 2),
        },  # fmt: skip
        "shipped_min_hits": shipped.min_hits,
        "tuning_seed5353": tuned,
        "held_out_seed4343": held[0],
        "real_recordings_found_s": real_false_alarms(index),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    print(f"wrote {args.out}")
    return 0
