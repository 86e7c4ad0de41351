"""Scoring speed: ONNX Runtime vs Keras ``model(x)`` vs Keras ``predict``, FLOPs, a 5-min call.

Run: ``callroles bench scoring [--run RUN_DIR] [--quick]``; writes bench/results/scoring.json.
Targets (issue 6): ONNX >= 2x the faster Keras path; all windows of a 5-minute two-speaker call
(~580) scored in < 1 s on the 2-core CPU. Speed does not depend on the weights, so without a
trained run the architecture is built with seeded weights; the trunk-once experiment's accuracy
does depend on them and says which weights it used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from callroles.bench.paths import REFERENCE_DIR, RESULTS_DIR
from callroles.export.onnx_export import keras_to_onnx, op_counts
from callroles.export.runs import read_run, windows_from_audio
from callroles.export.stream_trunk import StreamScorer, compare
from callroles.frontend.decode import decode
from callroles.models.crnn import MAX_BATCH
from callroles.models.features import log_mel
from callroles.training.model import build_crnn

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RESULTS = RESULTS_DIR / "scoring.json"
REFERENCE = REFERENCE_DIR / "musanmix.wav"
CALL_WINDOWS = 580  # 5-minute two-speaker call: ~(290 s of speech - 9) windows per speaker x 2


def _timed(fn: Any, n_windows: int, min_seconds: float, reps: int = 3) -> float:
    """Best windows/s over ``reps`` rounds, each repeating ``fn`` for at least ``min_seconds``."""
    fn()  # warm-up
    best = 0.0
    for _ in range(reps):
        done, t0 = 0, time.perf_counter()
        while True:
            fn()
            done += n_windows
            if time.perf_counter() - t0 >= min_seconds:
                break
        best = max(best, done / (time.perf_counter() - t0))
    return best


def flops_per_window(model: Any) -> dict[str, float]:
    """Multiply-adds x 2 of each conv, recurrent and dense layer (BN folded, activations free)."""
    out: dict[str, float] = {}
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            _, h, w, f = layer.output.shape
            kh, kw = layer.kernel_size
            cin = layer.input.shape[-1]
            out[layer.name] = 2.0 * h * w * f * kh * kw * cin
        elif kind in ("Bidirectional", "GRU", "LSTM"):
            inner = layer.forward_layer if kind == "Bidirectional" else layer
            steps, feats = layer.input.shape[1], layer.input.shape[2]
            gates = 3 if type(inner).__name__ == "GRU" else 4
            u = inner.units
            dirs = 2 if kind == "Bidirectional" else 1
            out[layer.name] = 2.0 * steps * dirs * gates * u * (feats + u)
        elif kind == "Dense":
            out[layer.name] = 2.0 * layer.input.shape[-1] * layer.units
    out["total"] = sum(out.values())
    return out


def peak_gflops(seconds: float = 2.0) -> dict[str, float]:
    """Nominal AVX2/FMA peak from the clock, and what numpy's sgemm reaches here."""
    mhz = 0.0
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                mhz = float(line.split(":")[1])
                break
    cores = os.cpu_count() or 1
    nominal = cores * mhz / 1000 * 32  # 2 FMA pipes x 8 fp32 lanes x 2 flops per cycle
    a = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)
    a @ a
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ a
        n += 1
    sgemm = n * 2 * 1024**3 / (time.perf_counter() - t0) / 1e9
    return {"cpu_mhz": mhz, "cores": cores, "nominal_gflops": nominal, "sgemm_gflops": sgemm}


def _windows(n: int) -> np.ndarray:
    """Real log-mel windows (MUSAN mix: speech, music, noise), tiled to ``n``."""

    base = windows_from_audio(REFERENCE, limit=64)
    reps = -(-n // len(base))
    return np.ascontiguousarray(np.tile(base, (reps, 1, 1))[:n])


def _model(run: Path | None) -> tuple[Any, str]:
    import keras  # noqa: PLC0415 (Keras: loaded only to train or export)

    if run is not None:
        path, _ = read_run(run)
        return keras.saving.load_model(path, compile=False), f"trained run {run.name}"

    keras.utils.set_random_seed(0)
    return build_crnn(2, "gru"), "build_crnn(2, 'gru') with seeded, untrained weights"


def throughput(model: Any, batches: list[int], min_seconds: float) -> dict[str, Any]:
    """windows/s per path and batch size, all in this one process."""

    sessions = {}
    graphs = {
        "onnx_native": keras_to_onnx(model),
        "onnx_native_unoptimized": keras_to_onnx(model, optimize=False),
        "onnx_tf2onnx_loop": keras_to_onnx(model, rnn_export="loop", optimize=False),
    }
    for name, proto in graphs.items():
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        sessions[name] = ort.InferenceSession(
            proto.SerializeToString(), so, providers=["CPUExecutionProvider"]
        )
    x_all = _windows(max(batches))
    table: dict[str, dict[str, float]] = {}
    for b in batches:
        x = x_all[:b]
        row: dict[str, float] = {}
        for name, sess in sessions.items():
            row[name] = _timed(lambda s=sess, x=x: s.run(None, {"windows": x}), b, min_seconds)
        row["keras_call"] = _timed(lambda x=x: model(x, training=False), b, min_seconds)
        row["keras_predict"] = _timed(
            lambda x=x, b=b: model.predict(x, batch_size=b, verbose=0), b, min_seconds
        )
        row["onnx_over_best_keras"] = row["onnx_native"] / max(
            row["keras_call"], row["keras_predict"]
        )
        table[str(b)] = {k: round(v, 2) for k, v in row.items()}
        print(
            f"batch {b}: " + ", ".join(f"{k} {v:.1f}" for k, v in table[str(b)].items()), flush=True
        )
    return {
        "windows_per_s": table,
        "ops": {k: op_counts(g) for k, g in graphs.items()},
        "graphs": graphs,
    }


def call_latency(proto: Any, n: int = CALL_WINDOWS) -> dict[str, float]:
    """Seconds to score all windows of a 5-minute two-speaker call through RoleModel-like
    batching."""

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    sess = ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
    x = _windows(n)
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(0, n, MAX_BATCH):
            sess.run(None, {"windows": x[i : i + MAX_BATCH]})
        runs.append(time.perf_counter() - t0)
    return {"windows": n, "best_s": round(min(runs), 3), "median_s": round(sorted(runs)[1], 3)}


def stream_call_latency(model: Any, logmel: np.ndarray) -> dict[str, Any]:
    """A 5-minute two-speaker call with the trunk once per speaker: 2 streams of 290 windows."""

    scorer = StreamScorer(model)
    per_speaker = CALL_WINDOWS // 2
    frames = 1000 + 100 * (per_speaker - 1)
    stream = np.ascontiguousarray(np.tile(logmel, (1, -(-frames // logmel.shape[1])))[:, :frames])
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _speaker in range(2):
            scorer.score_stream(stream, per_speaker)
        runs.append(time.perf_counter() - t0)
    return {
        "windows": 2 * per_speaker,
        "best_s": round(min(runs), 3),
        "median_s": round(sorted(runs)[1], 3),
    }


def trunk_once(model: Any, proto: Any, weights: str) -> dict[str, Any]:
    """Conv trunk once per stream vs once per window, on real recordings' log-mels."""

    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])

    def per_window(x: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [sess.run(None, {"windows": x[i : i + 64]})[0] for i in range(0, len(x), 64)]
        )

    names = ["musanmix.wav", "lamartine.wav"]
    streams = [log_mel(decode(REFERENCE.parent / n).channels[0]) for n in names]
    out = compare(model, streams, per_window)
    out["five_minute_call"] = stream_call_latency(model, streams[0])
    out["data"] = f"whole-signal log-mel of {', '.join(names)} (tests/data/reference)"
    out["weights"] = weights
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callroles bench scoring")
    parser.add_argument("--run", type=Path, help="trained run folder (default: seeded weights)")
    parser.add_argument("--quick", action="store_true", help="shorter timing rounds")
    parser.add_argument("--no-trunk-experiment", action="store_true")
    args = parser.parse_args(argv or [])
    model, weights = _model(args.run)
    min_s = 0.5 if args.quick else 2.0
    peak = peak_gflops(1.0 if args.quick else 3.0)
    flops = flops_per_window(model)
    tp = throughput(model, [1, 32, 256], min_s)
    graphs = tp.pop("graphs")
    best_onnx = max(r["onnx_native"] for r in tp["windows_per_s"].values())
    achieved = best_onnx * flops["total"] / 1e9
    result: dict[str, Any] = {
        "what": "CRNN scoring speed on this machine, one process, CPU only",
        "machine": {"platform": platform.platform(), **peak, "load_avg_1m": os.getloadavg()[0]},
        "weights": weights,
        "params": int(model.count_params()),
        "flops_per_window": {k: round(v) for k, v in flops.items()},
        **tp,
        "best_onnx_windows_per_s": best_onnx,
        "achieved_gflops": round(achieved, 2),
        "share_of_nominal_peak": round(achieved / peak["nominal_gflops"], 4),
        "share_of_sgemm": round(achieved / peak["sgemm_gflops"], 4),
        "five_minute_call": call_latency(graphs["onnx_native"]),
        "targets": {"onnx_over_best_keras": ">= 2", "five_minute_call_s": "< 1"},
    }
    if not args.no_trunk_experiment:
        result["trunk_once"] = trunk_once(model, graphs["onnx_native"], weights)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("achieved_gflops", "five_minute_call")}, indent=2))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
