"""Front-end speed and diarization quality on generated calls, beside plain inaSpeechSegmenter.

Same calls, same run: the whole front end (decode, segment, separate) and
plain inaSpeechSegmenter 0.8.0 (TensorFlow, its own ffmpeg decode), real-time factors and
their ratio; DER against the generator's truth (synthetic data) and on ina's lamartine.wav;
frame agreement of our segmenter with plain ina; peak memory (ru_maxrss) of the front-end
phase, measured before TensorFlow is imported. Writes bench/results/frontend.json.

    callroles bench frontend [--corpus DIR] [--calls N] [--seed S] [--skip-ina]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

from callroles.base.settings import Settings, get_settings
from callroles.bench.evaluation import der, read_rttm
from callroles.bench.paths import REFERENCE_DIR, RESULTS_DIR
from callroles.call.pipeline import Models, front_end
from callroles.deploy.provision import ina_segmenter
from callroles.frontend.decode import decode
from callroles.frontend.segmentation import raw_to_grid
from callroles.lab.simulate import generate_corpus

RESULTS = RESULTS_DIR / "frontend.json"
LAMARTINE = REFERENCE_DIR / "lamartine.wav"


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _corpus(args: argparse.Namespace) -> Path:
    if args.corpus:
        return Path(args.corpus)

    out = get_settings().home / "bench-cache" / f"frontend-{args.calls}-seed{args.seed}"
    if not (out / ".complete").exists():
        print(f"generating {args.calls} calls into {out} ...")
        generate_corpus(out, calls=args.calls, seed=args.seed, preset="small", stereo_fraction=0.25)
        (out / ".complete").write_text("ok\n")
    return out


def _grid(raw: list[tuple[str, float, float]], n: int) -> np.ndarray:

    return raw_to_grid(raw, n)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="callroles bench frontend")
    p.add_argument("--corpus", help="a corpus folder (default: generate one, cached)")
    p.add_argument("--calls", type=int, default=8)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--skip-ina", action="store_true", help="no plain inaSpeechSegmenter run")
    args = p.parse_args(argv)
    corpus = _corpus(args)
    rows = list(csv.DictReader((corpus / "calls.csv").open()))

    t0 = time.perf_counter()
    fe = Models(get_settings())
    load_s = time.perf_counter() - t0
    calls: list[dict[str, Any]] = []
    for row in rows:
        path = corpus / row["file"]
        truth = json.loads((corpus / "truth" / f"{row['call_id']}.json").read_text())
        ref = read_rttm(corpus / "truth" / f"{row['call_id']}.rttm")
        t = time.perf_counter()
        res = front_end(path, models=fe)
        wall = time.perf_counter() - t
        item: dict[str, Any] = {
            "call_id": row["call_id"],
            "duration_s": res.facts.duration_s,
            "channels": res.facts.channels,
            "same_gender": truth["same_gender"],
            "strategy": res.strategy,
            "frontend_s": round(wall, 3),
            "timings": res.timings,
            "der_auto": der(ref, res.segmentation.to_annotation()),
        }
        if res.facts.channels == 1:
            emb = front_end(path, strategy="embedding", models=fe)
            item["der_embedding"] = der(ref, emb.segmentation.to_annotation())
        calls.append(item)
        print(
            f"{row['call_id']}: {item['duration_s']:.1f} s {item['strategy']:9s} "
            f"front end {wall:.2f} s ({item['duration_s'] / wall:.1f}x) "
            f"DER {item['der_auto']:.3f} emb {item.get('der_embedding', float('nan')):.3f}"
        )
    lam_g = front_end(LAMARTINE, strategy="gender", models=fe)
    lam_e = front_end(LAMARTINE, strategy="embedding", models=fe)
    lamartine = der(lam_g.segmentation.to_annotation(), lam_e.segmentation.to_annotation())
    frontend_peak = _maxrss_mb()

    audio_s = sum(c["duration_s"] for c in calls)
    fe_s = sum(c["frontend_s"] for c in calls)
    result: dict[str, Any] = {
        "corpus": str(corpus),
        "calls": len(calls),
        "audio_s": round(audio_s, 2),
        "data": "synthetic calls from callroles simulate (espeak-ng/Festival voices, GSM)",
        "frontend": {
            "load_s": round(load_s, 2),
            "wall_s": round(fe_s, 2),
            "realtime_factor": round(audio_s / fe_s, 2),
            "peak_rss_mb": round(frontend_peak, 1),
            "segmenter": {
                "engine": "onnxruntime",
                "precision": fe.segmenter.precision,
                "vad_stride": fe.segmenter.vad_stride,
                "gender_stride": fe.segmenter.gender_stride,
            },
        },
        "der": {
            "auto_mean": round(float(np.mean([c["der_auto"] for c in calls])), 4),
            "same_gender_auto": [round(c["der_auto"], 4) for c in calls if c["same_gender"]],
            "embedding_forced_mono_mean": round(
                float(
                    np.mean([c["der_embedding"] for c in calls if "der_embedding" in c] or [np.nan])
                ),
                4,
            ),
            "lamartine_embedding_vs_gender_turns": round(lamartine, 4),
        },
        "per_call": calls,
    }
    if not args.skip_ina:
        t0 = time.perf_counter()
        ina = _plain_segmenter(get_settings())
        ina_load = time.perf_counter() - t0
        ina_s, agree = 0.0, []
        for row, item in zip(rows, calls, strict=True):
            path = corpus / row["file"]
            t = time.perf_counter()
            raw = ina(str(path))
            dt = time.perf_counter() - t
            ina_s += dt
            item["ina_s"] = round(dt, 3)
            if item["channels"] == 1:
                wide = decode(path).wide.mean(axis=0)
                n = int(item["duration_s"] / 0.01)
                agree.append(float(np.mean(_grid(raw, n) == _grid(fe.segmenter(wide), n))))
                item["ina_frame_agreement"] = round(agree[-1], 4)
        result["ina"] = {
            "load_s": round(ina_load, 2),
            "wall_s": round(ina_s, 2),
            "realtime_factor": round(audio_s / ina_s, 2),
            "peak_rss_mb_with_tf": round(_maxrss_mb(), 1),
            "frame_agreement_mono": round(float(np.mean(agree)), 4) if agree else None,
        }
        result["speedup_vs_ina"] = round(ina_s / fe_s, 2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    fe_rtf = result["frontend"]["realtime_factor"]
    print(f"front end: {fe_rtf}x real time, peak RSS {frontend_peak:.0f} MB")
    if "ina" in result:
        print(
            f"plain inaSpeechSegmenter: {result['ina']['realtime_factor']}x real time; "
            f"front end is {result['speedup_vs_ina']}x faster; frame agreement "
            f"{result['ina']['frame_agreement_mono']}"
        )
    print(
        f"DER (synthetic): auto mean {result['der']['auto_mean']}, same-gender "
        f"{result['der']['same_gender_auto']}, embedding on mono "
        f"{result['der']['embedding_forced_mono_mean']}; lamartine {lamartine:.4f}"
    )
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def _plain_segmenter(settings: Settings) -> Any:
    """inaSpeechSegmenter's own Segmenter (TensorFlow), for comparisons and the benchmark."""
    return ina_segmenter(settings, vad_engine="smn", detect_gender=True, batch_size=1024)
