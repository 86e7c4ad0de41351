"""``callroles bench review``: the review page's list with many results in Redis.

Stores N results (default 10,000; the schema's full example with its call id, time, agent,
flags and role sources varied) in a local Redis through the ledger's own ``mark_sent``, as a
worker stores them, then times ``GET /review`` (the first page of 50, rendered by the real
handlers over HTTP) several times, unfiltered and with filters that match 1 result in 50 and
1 in 10. Writes bench/results/review.json; the target is a first page under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import time
import uuid
from importlib import resources
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callroles.base.redis import redis_client
from callroles.lab import stack
from callroles.lab.settings import stack_settings
from callroles.streaming.http_common import ServeState
from callroles.streaming.ledger import Ledger
from callroles.streaming.review.routes import add_review_routes, logged

from .paths import RESULTS_DIR

TARGET_S = 1.0


def _results(n: int) -> list[dict[str, Any]]:
    example = json.loads(
        resources.files("callroles.schemas")
        .joinpath("examples/call_result.full.v1.json")
        .read_text()
    )
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=37 * n)  # all within the TTL
    out = []
    for i in range(n):
        r = json.loads(json.dumps(example))
        r["call_id"] = f"bench-{i:06d}"
        r["agent_id"] = f"A{i % 10:03d}"
        r["produced_at"] = (start + dt.timedelta(seconds=37 * i)).isoformat().replace("+00:00", "Z")
        r["flags"] = ["model_disagrees_with_voiceprint"] if i % 50 == 0 else []
        for s in r["speakers"]:
            s["role_source"] = "correction" if i % 10 == 0 else "model"
        out.append(r)
    return out


async def _fill(ledger: Ledger, results: list[dict[str, Any]]) -> float:
    t0 = time.perf_counter()
    for at in range(0, len(results), 16):
        batch = results[at : at + 16]
        await asyncio.gather(*(
            ledger.mark_sent(r["call_id"], r["model"]["version"], r, "0" * 64, "", {"x": 1})
            for r in batch
        ))  # fmt: skip
    return time.perf_counter() - t0


async def _time(client: TestClient, url: str, runs: int) -> dict[str, Any]:
    times = []
    rows = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        resp = await client.get(url)
        text = await resp.text()
        times.append(time.perf_counter() - t0)
        assert resp.status == 200, text[:500]
        rows = text.count("<tr class='call'")
    return {"url": url, "rows": rows, "runs_s": [round(t, 4) for t in times],
            "median_s": round(statistics.median(times), 4)}  # fmt: skip


async def _bench(n: int, runs: int) -> dict[str, Any]:
    settings = stack_settings()
    redis = redis_client(settings, asyncio=True)
    prefix = f"reviewbench{uuid.uuid4().hex[:6]}:"
    ledger = Ledger(redis, prefix=prefix, ttl_s=7 * 86400)
    try:
        fill_s = await _fill(ledger, _results(n))
        state = ServeState(settings, ledger=ledger)
        app = web.Application(middlewares=[logged()])
        add_review_routes(app, state, None)
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            pages = {
                "first page": await _time(client, "/review", runs),
                "flag filter (1 in 50)": await _time(
                    client, "/review?flag=model_disagrees_with_voiceprint", runs
                ),
                "role source filter (1 in 10)": await _time(
                    client, "/review?source=correction", runs
                ),
            }
        finally:
            await client.close()
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
        for at in range(0, len(keys), 1000):
            await redis.delete(*keys[at : at + 1000])
        await redis.aclose()
    return {"results_stored": n, "fill_s": round(fill_s, 2), "pages": pages}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="callroles bench review", description=__doc__)
    p.add_argument("--results", type=int, default=10_000)
    p.add_argument("--runs", type=int, default=7)
    args = p.parse_args(argv)
    stack.start_redis(stack_settings())
    report: dict[str, Any] = {
        "benchmark": "review",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_before": os.getloadavg(),
        },  # fmt: skip
        "target_first_page_s": TARGET_S,
        **asyncio.run(_bench(args.results, args.runs)),
    }
    first = report["pages"]["first page"]["median_s"]
    report["meets_target"] = first < TARGET_S
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "review.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["pages"], indent=2))
    print(f"first page with {args.results} results: median {first:.3f} s (target < {TARGET_S} s)")
    return 0
