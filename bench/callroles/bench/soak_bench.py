"""``callroles bench soak --minutes M``: steady load on real workers; does memory grow?

Starts its own Kafka+Redis on 127.0.0.1 (ports 29392/29393/26679, so tests are never
disturbed), one or more ``callroles worker`` processes, and submits short generated calls at a
fixed rate for M minutes. Every ``--sample-s`` it records each worker's RSS (from /proc) and
the lag (calls submitted but not yet answered by a result or error event). Then it drains and
writes bench/results/soak.json with the samples and the verdict: the baseline RSS (lowest in
each of six time buckets, so per-call peaks do not count) and its growth in MB per hour
(least squares over the second half, after warm-up). Not part of CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from callroles.bench.paths import REFERENCE_DIR, RESULTS_DIR
from callroles.export.onnx_export import export_model
from callroles.export.runs import windows_from_audio
from callroles.lab import stack as stack_mod
from callroles.lab.settings import StackSettings
from callroles.models.crnn import DEFAULT_MODEL
from callroles.models.features import DEFAULT_SPEC
from callroles.models.metadata import ModelMetadata
from callroles.schemas import topic_name
from callroles.streaming.clients import kafka_kwargs
from callroles.streaming.topics import create_topics
from callroles.training.model import build_crnn

RESULTS = RESULTS_DIR / "soak.json"
LINES = [
    ("en+m3", "Hello, thank you for calling, this is Mark from support. How can I help?"),
    ("en+f2", "Hi Mark, my internet has been down since this morning and I need it for work."),
    ("en+m3", "I am sorry to hear that. Let me check your line, one moment please."),
    ("en+f2", "Thank you. I already restarted the modem twice and nothing changed."),
]
GROWTH_LIMIT_MB_PER_H = 20.0  # above this over the second half, memory is said to grow


def _calls(out: Path, n: int) -> list[Path]:
    """A few distinct ~9 s two-voice GSM calls (espeak-ng, sox)."""
    parts = []
    for i, (voice, text) in enumerate(LINES):
        wav = out / f"line{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True,
                       capture_output=True)  # fmt: skip
        parts.append(wav)
    calls = []
    for k in range(n):
        order = parts[k % 4 :] + parts[: k % 4]
        path = out / f"soak-{k}.gsm"
        subprocess.run(["sox", *map(str, order), "-r", "8000", "-c", "1", str(path)],
                       check=True, capture_output=True)  # fmt: skip
        calls.append(path)
    return calls


def _model(settings: StackSettings) -> Path:
    """The configured model, the shipped default, or an untrained CRNN cached for benches."""

    if settings.model_path:
        return settings.model_path
    if DEFAULT_MODEL.is_file():
        return DEFAULT_MODEL
    cached = settings.home / "test-cache" / "faults-untrained-crnn.onnx"
    if not cached.is_file():
        import keras  # noqa: PLC0415 (Keras: loaded only to train or export)

        keras.utils.set_random_seed(7)
        model = build_crnn(2, "gru")
        wav = REFERENCE_DIR / "lamartine.wav"
        windows = windows_from_audio(wav, limit=4)
        meta = ModelMetadata(feature_spec=DEFAULT_SPEC.to_dict(), classes=("customer", "agent"),
                             rnn="gru", param_count=int(model.count_params()),
                             model_name="untrained-fault-crnn")  # fmt: skip
        tmp = cached.with_suffix(".partial.onnx")
        export_model(model, tmp, meta, windows, labels=np.zeros(len(windows), dtype=int))
        tmp.rename(cached)
    return cached


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process (MB), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def baseline(
    samples: list[dict[str, Any]], key: str, buckets: int = 6
) -> list[tuple[float, float]]:
    """(mid time s, lowest RSS) per time bucket: RSS between calls, without per-call peaks."""
    vals = [(s["t_s"], s[key]) for s in samples if s.get(key) is not None]
    if len(vals) < buckets:
        return []
    span = vals[-1][0] - vals[0][0] or 1.0
    out: dict[int, list[tuple[float, float]]] = {}
    for t, v in vals:
        out.setdefault(min(buckets - 1, int(buckets * (t - vals[0][0]) / span)), []).append((t, v))
    return [(float(np.mean([t for t, _ in b])), min(v for _, v in b)) for b in out.values()]


def growth_mb_per_h(samples: list[dict[str, Any]], key: str) -> float | None:
    """Slope (MB per hour, least squares) of the baseline RSS over the second half of the run."""
    base = baseline(samples, key)
    half = base[len(base) // 2 :]
    if len(half) < 3:
        return None
    t = np.array([x for x, _ in half]) / 3600.0
    y = np.array([v for _, v in half])
    return float(np.polyfit(t, y, 1)[0])


async def _load(
    settings: StackSettings,
    calls: list[Path],
    pids: list[int],
    minutes: float,
    per_min: float,
    sample_s: float,
    drain_s: float,
) -> dict[str, Any]:

    submitted: set[str] = set()
    answered: dict[str, str] = {}
    raw_results = 0
    consumer = AIOKafkaConsumer(
        topic_name("call_result", settings.topic_prefix),
        topic_name("call_error", settings.topic_prefix),
        **kafka_kwargs(settings), group_id=None, auto_offset_reset="earliest",
    )  # fmt: skip
    producer = AIOKafkaProducer(**kafka_kwargs(settings), acks="all")
    await consumer.start()
    await producer.start()

    async def collect() -> None:
        nonlocal raw_results
        async for msg in consumer:
            ev = json.loads(msg.value or b"{}")
            kind = "result" if "speakers" in ev else "error"
            raw_results += kind == "result"
            if ev.get("call_id"):
                answered.setdefault(ev["call_id"], kind)

    collector = asyncio.create_task(collect())
    samples: list[dict[str, Any]] = []
    t0 = time.monotonic()
    next_call, next_sample, k = t0, t0, 0
    end = t0 + minutes * 60
    try:
        while True:
            now = time.monotonic()
            if now >= end and (set(answered) >= submitted or now >= end + drain_s):
                break
            if now < end and now >= next_call:
                cid = f"soak-{uuid.uuid4().hex[:10]}"
                event = {"schema_version": 1, "call_id": cid,
                         "recording_uri": str(calls[k % len(calls)])}  # fmt: skip
                await producer.send_and_wait(
                    topic_name("call_finished", settings.topic_prefix),
                    json.dumps(event).encode(), key=cid.encode(),
                )  # fmt: skip
                submitted.add(cid)
                k += 1
                next_call += 60.0 / per_min
            if now >= next_sample:
                row: dict[str, Any] = {"t_s": round(now - t0, 1), "submitted": len(submitted),
                                       "answered": len(set(answered) & submitted)}  # fmt: skip
                row["lag"] = row["submitted"] - row["answered"]
                for n, pid in enumerate(pids):
                    row[f"rss_mb_w{n}"] = rss_mb(pid)
                samples.append(row)
                print(json.dumps(row), flush=True)
                next_sample += sample_s
            await asyncio.sleep(0.2)
    finally:
        collector.cancel()
        await producer.stop()
        await consumer.stop()
    return {
        "samples": samples,
        "calls_submitted": len(submitted),
        "results": sum(1 for c in submitted if answered.get(c) == "result"),
        "errors": sum(1 for c in submitted if answered.get(c) == "error"),
        "missing": len(submitted - set(answered)),
        "raw_result_events": raw_results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callroles bench soak")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--per-min", type=float, default=3.0, help="calls submitted per minute")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--sample-s", type=float, default=15.0)
    parser.add_argument("--drain-s", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    settings = StackSettings(kafka_port=29392, kafka_controller_port=29393, redis_port=26679,
                        kafka_bootstrap=None, redis_url=None, partitions=2,
                        topic_prefix=f"soak{uuid.uuid4().hex[:6]}.")  # fmt: skip
    before = stack_mod.status(settings)
    stack_mod.start(settings)
    procs: list[subprocess.Popen[bytes]] = []
    work = Path(tempfile.mkdtemp(prefix="callroles-soak-"))
    try:
        asyncio.run(create_topics(settings))
        calls = _calls(work, 4)
        env = {**os.environ, "CALLROLES_KAFKA_PORT": str(settings.kafka_port),
               "CALLROLES_REDIS_PORT": str(settings.redis_port),
               "CALLROLES_TOPIC_PREFIX": settings.topic_prefix, "CALLROLES_PARTITIONS": "2",
               "CALLROLES_ALLOWED_ROOTS": json.dumps([str(work)]),
               "CALLROLES_MODEL_PATH": str(_model(settings)), "OMP_NUM_THREADS": "1"}  # fmt: skip
        for key in ("CALLROLES_KAFKA_BOOTSTRAP", "CALLROLES_REDIS_URL"):
            env.pop(key, None)
        for n in range(args.workers):
            with (work / f"worker{n}.log").open("ab") as log:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "callroles", "worker", "--web-port", str(26366 + n)],
                    env={**env, "CALLROLES_WORKER_ID": f"soak{n}"}, stdout=log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                ))  # fmt: skip
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not all(
            "Worker]: Ready" in (work / f"worker{n}.log").read_text(errors="replace")
            for n in range(args.workers)
        ):
            time.sleep(1)
        run = asyncio.run(_load(settings, calls, [p.pid for p in procs], args.minutes,
                                args.per_min, args.sample_s, args.drain_s))  # fmt: skip
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        if not before["kafka"]["answers"]:
            stack_mod.stop_kafka(settings)
        if not before["redis"]["answers"]:
            stack_mod.stop_redis(settings)
    growth = {f"w{n}": growth_mb_per_h(run["samples"], f"rss_mb_w{n}") for n in range(len(procs))}
    first = run["samples"][0] if run["samples"] else {}
    last = run["samples"][-1] if run["samples"] else {}
    report = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": "2 cores, shared with other jobs",
        "minutes": args.minutes, "calls_per_min": args.per_min, "workers": args.workers,
        "call_audio_s": "~9 (synthetic espeak-ng, GSM 8 kHz)",
        **{k: v for k, v in run.items() if k != "samples"},
        "rss_mb_first": {f"w{n}": first.get(f"rss_mb_w{n}") for n in range(len(procs))},
        "rss_mb_last": {f"w{n}": last.get(f"rss_mb_w{n}") for n in range(len(procs))},
        "rss_mb_peak": {
            f"w{n}": max((s.get(f"rss_mb_w{n}") or 0 for s in run["samples"]), default=None)
            for n in range(len(procs))
        },
        "rss_mb_baseline": {
            f"w{n}": [round(v, 1) for _, v in baseline(run["samples"], f"rss_mb_w{n}")]
            for n in range(len(procs))
        },
        "rss_growth_mb_per_h_second_half": growth,
        "max_lag": max((s["lag"] for s in run["samples"]), default=None),
        "memory_grows": any(g is not None and g > GROWTH_LIMIT_MB_PER_H for g in growth.values()),
        "growth_limit_mb_per_h": GROWTH_LIMIT_MB_PER_H,
        "samples": run["samples"],
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2))
    return 0 if report["missing"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
