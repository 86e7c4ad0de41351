"""``callroles bench count``: choose and measure the speaker count (``callroles.frontend.count``).

The count's numbers (how alike two groups of partials, and two groups' centroids, must be to
be one voice, and how much speech a voice needs) are chosen here, on recordings generated from
real LibriSpeech readers (``--real-voices``, default ``../shared/data/speakers/librispeech``):
1 to 4 voices taking turns of 2-6 s, each on a headset or a telephone line with GSM 6.10, seed
6161. Never on the real evaluation recordings (pyAudioAnalysis, Callytics): those are measured
by ``bench eval``.

Each recording's voice samples (``count.voice_samples``: partials with at least 0.9 or 0.5 of
speech) are embedded once and cached, then every point of the grid (speech share, stage-1
``same_voice``, stage-2 ``same_centroid``, ``min_speaker_s``) is scored: the share of
recordings whose count is right, per number of voices, and the balanced mean over 1-4. The
shipped point is reported beside the best. Writes ``bench/results/count.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from callroles.agents.voiceprints import EMBEDDING_MODEL
from callroles.base.settings import SHARED_DATA, get_settings
from callroles.bench.paths import RESULTS_DIR
from callroles.call.pipeline import Models
from callroles.frontend.count import DEFAULT_COUNT, SPEECH_SHARE, count_speakers, voice_samples
from callroles.frontend.decode import decode
from callroles.frontend.segmentation import raw_to_grid
from callroles.frontend.separate import SPEECH
from callroles.frontend.speech import SAMPLES_PER_FRAME
from callroles.lab.simulate import channel
from callroles.lab.simulate.real_voices import _load, _turns, read_speakers

RESULTS = RESULTS_DIR / "count.json"
SHARED = SHARED_DATA / "speakers" / "librispeech"
SPEECH_SHARES = (0.9, 0.5)
SAME_VOICE = (0.6, 0.65, 0.7, 0.75, 0.8)
SAME_CENTROID = (0.75, 0.8, 0.85, 0.9, 0.95)
MIN_SPEAKER_S = (1.0, 2.0, 3.0, 5.0)


def group_recording(
    k: int, rng: np.random.Generator, readers: list[Any]
) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """k readers taking turns on one mono line (GSM 6.10): the audio, and each turn's
    (first sample, end sample, reader index)."""
    chosen = [readers[int(i)] for i in rng.choice(len(readers), size=k, replace=False)]
    turns: list[list[np.ndarray]] = []
    for r in chosen:
        files = [r.files[int(i)] for i in rng.permutation(len(r.files))[: 6 if k <= 2 else 4]]
        turns.append([t for f in files for t in _turns(_load(f), rng)])
    order = [(j, t) for j in range(k) for t in turns[j]]
    order = [order[int(i)] for i in rng.permutation(len(order))]
    sides = ["headset" if rng.random() < 0.5 else "phone" for _ in range(k)]
    spans, t = [], 0
    total = sum(len(x) for _, x in order) + int(len(order) * 0.9 * channel.SR) + channel.SR
    stems = np.zeros((k, total), np.float32)
    for j, x in order:
        t += int(rng.uniform(0.2, 0.9) * channel.SR)
        stems[j, t : t + len(x)] += x
        spans.append((t, t + len(x), j))
        t += len(x)
    stems = stems[:, : t + channel.SR // 2]
    for j in range(k):
        if sides[j] == "phone":
            stems[j] = channel.phone_line(stems[j], rng, float(rng.uniform(-6, 0)), -50.0)
        else:
            stems[j] = channel.headset(stems[j], rng, 0.0)
    audio = stems.sum(0)
    scale = min(1.0, 0.89 / (float(np.max(np.abs(audio))) or 1.0))
    return (audio * scale).astype(np.float32), spans


def build_set(folder: Path, root: Path, per_k: int, seed: int) -> list[tuple[Path, int]]:
    """``per_k`` recordings of 1, 2, 3 and 4 voices (cached in ``folder``)."""
    agents, customers = read_speakers(root)
    readers = agents + [c for c in customers if len(c.files) >= 3]
    out = []
    folder.mkdir(parents=True, exist_ok=True)
    for k in (1, 2, 3, 4):
        for i in range(per_k):
            path = folder / f"voices{k}-{i:02d}.gsm"
            if not path.is_file():
                audio, _ = group_recording(k, np.random.default_rng([seed, k, i]), readers)
                channel.write_audio(path, audio)
            out.append((path, k))
    return out


Found = tuple[np.ndarray, np.ndarray]


def embed(frontend: Models, path: Path, least: float) -> Found:
    """The recording's voice samples, as the front end's count computes them with partials of
    at least ``least`` speech (cached beside the recording, per embedding model)."""
    cache = path.with_name(f"{path.stem}.{EMBEDDING_MODEL}.{least}.npz")
    if cache.is_file():
        with np.load(cache) as z:
            return z["emb"], z["seconds"]
    audio = decode(path, frontend.limits)
    n = int(audio.channels.shape[1] // SAMPLES_PER_FRAME)
    wide = audio.wide.mean(axis=0)
    speech = np.isin(raw_to_grid(frontend.segmenter(wide), n), SPEECH)
    emb, seconds = voice_samples(speech, wide, frontend.encoder, least)
    np.savez(cache, emb=emb, seconds=seconds)
    return emb, seconds


def sweep(found: list[tuple[Found, int]], share: float) -> list[dict[str, Any]]:
    """Count accuracy per number of voices for every grid point."""
    rows = []
    for same, centroid, least in itertools.product(SAME_VOICE, SAME_CENTROID, MIN_SPEAKER_S):
        spec = replace(DEFAULT_COUNT, same_voice=same, same_centroid=centroid, min_speaker_s=least)
        got = [(count_speakers(emb, sec, spec).n, k) for (emb, sec), k in found]
        per_k = {
            str(k): round(float(np.mean([g == k for g, kk in got if kk == k])), 3)
            for k in (1, 2, 3, 4)
        }
        rows.append({
            "speech_share": share, "same_voice": same, "same_centroid": centroid,
            "min_speaker_s": least,
            "right_by_voices": per_k,
            "balanced": round(float(np.mean(list(per_k.values()))), 3),
        })  # fmt: skip
    return rows


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="callroles bench count")
    p.add_argument("--real-voices", type=Path, default=SHARED)
    p.add_argument("--per-voices", type=int, default=12, help="recordings per number of voices")
    p.add_argument("--seed", type=int, default=6161)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if not args.real_voices.is_dir():
        print(f"no real voices at {args.real_voices} (../shared is the project's, not a user's)")
        return 2
    settings = get_settings()
    frontend = Models(settings)
    folder = settings.home / "bench-cache" / f"count-v2-{args.per_voices}-seed{args.seed}"
    files = build_set(folder, args.real_voices, args.per_voices, args.seed)
    rows = []
    for share in SPEECH_SHARES:
        found = []
        for i, (path, k) in enumerate(files, 1):
            found.append((embed(frontend, path, share), k))
            counted = count_speakers(*found[-1][0]).n
            print(f"[count] speech share {share} {i}/{len(files)} {path.name}: {k} voices, "
                  f"counted {counted}", flush=True)  # fmt: skip
        rows += sweep(found, share)
    best = max(rows, key=lambda r: (r["balanced"], r["right_by_voices"]["2"]))
    shipped = next(
        r
        for r in rows
        if r["speech_share"] == SPEECH_SHARE
        and r["same_voice"] == DEFAULT_COUNT.same_voice
        and r["same_centroid"] == DEFAULT_COUNT.same_centroid
        and r["min_speaker_s"] == DEFAULT_COUNT.min_speaker_s
    )
    report = {
        "benchmark": "count",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": f"real LibriSpeech readers ({args.real_voices}) in generated recordings of 1-4 "
        f"voices, {args.per_voices} per count, seed {args.seed}; mono, GSM 6.10",
        "best": best,
        "shipped": shipped,
        "grid": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "grid"}, indent=1))
    print(f"wrote {args.out}")
    return 0
