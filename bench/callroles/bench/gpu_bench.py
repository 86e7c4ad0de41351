"""GPU check: every ONNX model callroles runs, on CUDA and on CPU, on the same real inputs.

Run on a machine with an NVIDIA GPU: ``bench/gpu.sh`` (installs the CUDA extra, then runs
``callroles bench gpu``). For the role CRNN (per-window and trunk-once graphs), the activity model,
inaSpeechSegmenter's two CNNs and the GE2E voice encoder it checks that the session really runs on
``CUDAExecutionProvider``, and measures inputs per second on each provider (median of timed rounds)
and the largest absolute difference between CUDA and CPU outputs. Then one whole call through
:func:`callroles.call.pipeline.run_call` with ``execution_provider=cuda`` (the role model on CUDA;
the front end's own sessions run on CPU in this version). Writes ``bench/results/gpu.json``. Without
a CUDA provider it says so and exits 2: nothing is measured on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import onnxruntime as ort

from callroles.base.settings import get_settings
from callroles.bench.paths import REFERENCE_DIR, RESULTS_DIR
from callroles.models.activity import ACTIVITY_SPEC, activity_features
from callroles.models.embeddings import _onnx_graph, partial_mels, weights_path
from callroles.models.features import log_mel
from callroles.models.ina import onnx_paths
from callroles.models.shipped import ACTIVITY_MODEL, ROLE_MODEL
from callroles.models.trunk import stream_path, window_offsets

RESULTS = RESULTS_DIR / "gpu.json"
REFERENCE = REFERENCE_DIR / "musanmix.wav"
CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"


def _sessions(model: str | bytes) -> dict[str, ort.InferenceSession]:
    opts = ort.SessionOptions()
    return {
        "cuda": ort.InferenceSession(model, opts, providers=[CUDA, CPU]),
        "cpu": ort.InferenceSession(model, opts, providers=[CPU]),
    }


def _rate(run: Callable[[], Any], items: int, rounds: int) -> float:
    run()  # warm-up: CUDA kernels and cuDNN choose their algorithms on the first run
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return items / statistics.median(times)


def _check(name: str, model: str | bytes, feed: dict[str, np.ndarray], items: int, rounds: int):
    sess = _sessions(model)
    running = sess["cuda"].get_providers()[0]
    outs = {k: s.run(None, feed) for k, s in sess.items()}
    diff = max(
        float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
        for a, b in zip(outs["cuda"], outs["cpu"], strict=True)
    )
    row = {
        "model": name,
        "provider": running,
        "on_cuda": running == CUDA,
        "items": items,
        "per_s_cuda": round(_rate(lambda: sess["cuda"].run(None, feed), items, rounds), 1),
        "per_s_cpu": round(_rate(lambda: sess["cpu"].run(None, feed), items, rounds), 1),
        "max_abs_diff_vs_cpu": diff,
    }
    row["speedup"] = round(row["per_s_cuda"] / max(row["per_s_cpu"], 1e-9), 2)
    print(json.dumps(row), flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callroles bench gpu")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--windows", type=int, default=256, help="role-model batch size")
    args = parser.parse_args(argv)
    if CUDA not in ort.get_available_providers():
        print(
            f"no CUDA provider in this onnxruntime ({ort.get_available_providers()}): "
            "run bench/gpu.sh on a machine with an NVIDIA GPU; nothing measured"
        )
        return 2
    settings = get_settings()
    from callroles.frontend.decode import decode  # noqa: PLC0415 (ffmpeg-backed; only once a GPU is confirmed)

    audio = decode(REFERENCE)
    mel = log_mel(audio.channels.mean(axis=0))
    reps = int(np.ceil((1000 + args.windows * 100) / mel.shape[1]))
    stream = np.tile(mel, (1, reps))[:, : 1000 + (args.windows - 1) * 100]
    windows = np.stack([stream[:, i * 100 : i * 100 + 1000] for i in range(args.windows)])
    n, rounds = len(windows), args.rounds
    rows = [_check("role CRNN (per window)", str(ROLE_MODEL), {"windows": windows}, n, rounds)]
    if not rows[0]["on_cuda"]:
        print(
            "onnxruntime lists CUDA but could not start it (see its log above: driver, CUDA or "
            "cuDNN libraries missing); run bench/gpu.sh, which installs the CUDA wheels"
        )
        return 2
    info = json.loads(
        ort.InferenceSession(str(stream_path(ROLE_MODEL)), providers=[CPU])
        .get_modelmeta()
        .custom_metadata_map["callroles.stream"]
    )
    stride, steps = info["frames_per_step"], info["steps"]
    offsets = window_offsets(n, stride, steps, stream.shape[1] // stride)
    feed = {"stream": stream[None].astype(np.float32), "offsets": offsets}
    rows.append(_check("role CRNN (trunk-once)", str(stream_path(ROLE_MODEL)), feed, n, rounds))
    feats = activity_features(np.tile(audio.channels.mean(axis=0), 4), ACTIVITY_SPEC)
    feed = {"logmel": feats[None]}
    rows.append(_check("activity", str(ACTIVITY_MODEL), feed, len(feats), rounds))
    rng = np.random.default_rng(0)
    for key, path in onnx_paths(settings, "float").items():
        shape = ort.InferenceSession(str(path), providers=[CPU]).get_inputs()[0].shape
        x = rng.standard_normal((1024, *[int(d) for d in shape[1:]])).astype(np.float32)
        name = ort.InferenceSession(str(path), providers=[CPU]).get_inputs()[0].name
        rows.append(_check(f"inaSpeechSegmenter {key}", str(path), {name: x}, len(x), rounds))
    mels = partial_mels(audio.wide.mean(axis=0), np.arange(0.0, 40.0, 0.5))
    graph = _onnx_graph(dict(np.load(weights_path(settings))))
    rows.append(_check("GE2E voice encoder", graph, {"mels": mels}, len(mels), rounds))

    from callroles.call.pipeline import load_models, run_call  # noqa: PLC0415 (loads every model on CUDA)

    cuda = settings.model_copy(update={"execution_provider": "cuda"})
    models = load_models(cuda)
    t0 = time.perf_counter()
    outcome = run_call(REFERENCE, None, models)
    call = {
        "file": REFERENCE.name,
        "seconds": round(time.perf_counter() - t0, 3),
        "scorer_provider": models.role_model.provider,
        "ok": isinstance(outcome, dict),
    }
    print(json.dumps(call))
    result = {
        "benchmark": "gpu",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "onnxruntime": ort.__version__},
        "data": f"{REFERENCE.name} (real MUSAN speech, music, noise), tiled; ina: random patches",
        "models": rows,
        "all_on_cuda": all(r["on_cuda"] for r in rows),
        "max_abs_diff_vs_cpu": max(r["max_abs_diff_vs_cpu"] for r in rows),
        "run_call": call,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0 if result["all_on_cuda"] and call["ok"] else 1
