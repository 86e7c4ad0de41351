"""``callroles bench stream``: throughput and end-to-end latency of 1 and then 2 workers.

On the local stack: for each worker count, a fresh topic prefix, N generated calls submitted at
once (throughput: calls per minute, audio hours per hour; latency from ``submitted_at`` to the
result's ``produced_at``, p50/p95), then optionally a steady phase (one call every
``--interval`` seconds: the latency a live call center would see). Writes
bench/results/stream.json. Calls come from the simulator's "default" preset (cached).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from aiokafka.partitioner import murmur2

from callroles.bench.paths import RESULTS_DIR
from callroles.lab import stack
from callroles.lab.settings import stack_settings
from callroles.lab.simulate import generate_corpus
from callroles.streaming.submit import event_for_file, publish
from callroles.streaming.tail import events
from callroles.streaming.topics import create_topics

RESULTS = RESULTS_DIR / "stream.json"


def _ts(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def corpus(calls: int, seed: int, home: Path) -> Path:
    """A cached default-preset corpus."""

    out = home / "bench-cache" / f"stream-default-{calls}-seed{seed}"
    if not (out / "calls.csv").exists():
        partial = out.with_name(out.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        generate_corpus(partial, calls=calls, seed=seed, preset="default")
        partial.rename(out)  # whole or absent
    return out


def _recordings(folder: Path) -> list[tuple[Path, float]]:

    with (folder / "calls.csv").open() as f:
        return [(folder / r["file"], float(r["duration_s"])) for r in csv.DictReader(f)]


def _free_port() -> int:

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Group:
    """N ``callroles worker`` processes on one topic prefix."""

    def __init__(self, settings: Any, n: int, folder: Path, logs: Path, pin: bool = False) -> None:
        self.env = {
            **os.environ,
            "CALLROLES_KAFKA_PORT": str(settings.kafka_port),
            "CALLROLES_REDIS_PORT": str(settings.redis_port),
            "CALLROLES_TOPIC_PREFIX": settings.topic_prefix,
            "CALLROLES_PARTITIONS": str(settings.partitions),
            "CALLROLES_ALLOWED_ROOTS": json.dumps([str(folder)]),
        }
        if settings.model_path:
            self.env["CALLROLES_MODEL_PATH"] = str(settings.model_path)
        logs.mkdir(parents=True, exist_ok=True)
        self.logs = [logs / f"{settings.topic_prefix}w{i}.log" for i in range(n)]
        cores = sorted(os.sched_getaffinity(0))
        self.cores: list[int | None] = [cores[i % len(cores)] if pin else None for i in range(n)]
        self.procs = []
        for i, log in enumerate(self.logs):
            cmd = [sys.executable, "-m", "callroles", "worker", "--web-port", str(_free_port())]
            env = {**self.env, "CALLROLES_WORKER_ID": f"bench-w{i}"}
            if self.cores[i] is not None:  # one core each, and thread pools sized to it
                cmd = ["taskset", "-c", str(self.cores[i]), *cmd]
                env |= {
                    "CALLROLES_ONNX_THREADS": "1",
                    "CALLROLES_FRONTEND_THREADS": "1",
                    "OMP_NUM_THREADS": "1",
                    "OPENBLAS_NUM_THREADS": "1",
                    "NUMBA_NUM_THREADS": "1",
                }
            self.procs.append(
                subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
            )

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            texts = [log.read_text(errors="replace") for log in self.logs]
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError("a worker exited:\n" + "\n".join(t[-2000:] for t in texts))
            gens = [
                [
                    int(x.split("generation id ")[1].split()[0])
                    for x in t.splitlines()
                    if "generation id " in x
                ]
                for t in texts
            ]
            if (
                all(g for g in gens)
                and len({g[-1] for g in gens}) == 1
                and all("Worker]: Ready" in t for t in texts)
            ):
                time.sleep(2)
                return
            time.sleep(1)
        raise RuntimeError("workers not ready")

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def _id_on_partition(base: str, partition: int, partitions: int) -> str:
    """A call id that Kafka's default partitioner puts on ``partition`` (round-robin load)."""

    for n in range(10_000):
        candidate = f"{base}-{n}"
        if (murmur2(candidate.encode()) & 0x7FFFFFFF) % partitions == partition:
            return candidate
    return base


async def _submit_and_wait(
    settings: Any, files: list[tuple[Path, float]], interval: float, timeout: float
) -> list[dict[str, Any]]:

    tag = uuid.uuid4().hex[:6]
    ids = [
        _id_on_partition(f"{tag}-{i}", i % settings.partitions, settings.partitions)
        for i in range(len(files))
    ]
    want = dict(zip(ids, (dur for _, dur in files), strict=True))
    out: list[dict[str, Any]] = []

    async def consume() -> None:
        async for kind, event in events(settings, from_beginning=True):
            if event.get("call_id") in want:
                out.append({"kind": kind, "received": time.time(), **event})
                if len(out) == len(want):
                    return

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(3)  # the consumer is assigned before the first event
    for i, (path, _dur) in enumerate(files):
        await publish(settings, [event_for_file(path, {"call_id": ids[i]})])
        if interval and i < len(files) - 1:
            await asyncio.sleep(interval)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(consumer, timeout)
    return out


def _figures(got: list[dict[str, Any]], files: list[tuple[Path, float]]) -> dict[str, Any]:
    results = [g for g in got if g["kind"] == "call_result"]
    lat = [g["received"] - _ts(g["event_time"]) for g in results if g.get("event_time")]
    audio = sum(d for _, d in files)
    first = min((_ts(g["event_time"]) for g in results), default=0.0)
    wall = max((g["received"] for g in results), default=0.0) - first
    per_worker: dict[str, int] = {}
    for g in results:
        per_worker[g["worker"]] = per_worker.get(g["worker"], 0) + 1
    return {
        "calls": len(files),
        "results": len(results),
        "errors": len(got) - len(results),
        "audio_s": round(audio, 1),
        "wall_s": round(wall, 1),
        "calls_per_min": round(60 * len(results) / wall, 2) if wall > 0 else None,
        "audio_hours_per_hour": round(audio / wall, 2) if wall > 0 else None,
        "latency_p50_s": round(float(np.percentile(lat, 50)), 1) if lat else None,
        "latency_p95_s": round(float(np.percentile(lat, 95)), 1) if lat else None,
        "frontend_s_mean": round(
            float(np.mean([g["latency_s"].get("frontend", 0) for g in results])), 2
        )
        if results
        else None,
        "per_worker": per_worker,
    }


def main(argv: list[str]) -> int:

    p = argparse.ArgumentParser(prog="callroles bench stream")
    p.add_argument("--calls", type=int, default=6, help="calls in the burst phase")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--limit", type=int, help="use only the first LIMIT calls of the corpus")
    p.add_argument("--workers", default="1,2", help="worker counts to compare")
    p.add_argument("--steady", type=int, default=0, help="calls in the steady phase (0: skip)")
    p.add_argument("--interval", type=float, default=30.0, help="seconds between steady calls")
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--corpus", type=Path, help="an existing simulate corpus (default: generate)")
    p.add_argument("--min-duration", type=float, default=0.0, help="only calls at least this long")
    p.add_argument("--max-duration", type=float, default=1e9, help="only calls at most this long")
    p.add_argument(
        "--pin",
        action="store_true",
        help="pin worker i to core i (taskset) with one ONNX Runtime thread: N workers on N cores",
    )
    args = p.parse_args(argv)

    base = stack_settings()
    stack.start(base)
    folder = args.corpus.resolve() if args.corpus else corpus(args.calls, args.seed, base.home)
    files = [
        (f, d)
        for f, d in _recordings(folder)
        if args.min_duration <= d <= args.max_duration and f.is_file()
    ][: args.limit]
    report: dict[str, Any] = {
        "benchmark": "stream",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_before": os.getloadavg(),
        },
        "data": f"simulator default preset ({folder.name if args.corpus else f'seed {args.seed}'})"
        f", {len(files)} calls of {args.min_duration:.0f}-{min(args.max_duration, 1e4):.0f} s, "
        f"{sum(d for _, d in files) / 60:.1f} min of audio (synthetic)",
        "pinned": args.pin,
        "runs": {},
    }
    for n in [int(x) for x in args.workers.split(",")]:
        settings = base.model_copy(
            update={"topic_prefix": f"bench{uuid.uuid4().hex[:6]}.", "partitions": max(2, n)}
        )
        asyncio.run(create_topics(settings))
        group = Group(settings, n, folder, base.home / "bench-cache" / "logs", pin=args.pin)
        try:
            group.wait_ready()
            print(f"{n} worker(s): burst of {len(files)} calls", flush=True)
            burst = _figures(asyncio.run(_submit_and_wait(settings, files, 0, args.timeout)), files)
            run: dict[str, Any] = {"burst": burst, "cores": group.cores if args.pin else "all"}
            if args.steady:
                steady_files = (files * (args.steady // len(files) + 1))[: args.steady]
                print(f"{n} worker(s): steady, 1 call / {args.interval:.0f} s", flush=True)
                got = asyncio.run(
                    _submit_and_wait(settings, steady_files, args.interval, args.timeout)
                )
                run["steady"] = {**_figures(got, steady_files), "interval_s": args.interval}
            report["runs"][str(n)] = run
            print(json.dumps(run, indent=1), flush=True)
        finally:
            group.stop()
    runs = report["runs"]
    if "1" in runs and "2" in runs:
        one, two = runs["1"]["burst"]["calls_per_min"], runs["2"]["burst"]["calls_per_min"]
        report["speedup_2_vs_1"] = round(two / one, 2) if one and two else None
    report["machine"]["load_avg_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
