"""``callroles bench archive_stream``: a mono archive through a real worker, as a call centre
would stream it, with nothing enrolled.

The archive of ``callroles bench archive`` (its cached corpus: calls, agent ids and the truth of
who spoke when) goes to the call-finished topic in time order, on one partition, with each
call's ``agent_id``; one ``callroles worker`` with a Redis voiceprint store (automatic
enrolment, the default ``stereo,recurring``) answers. Every event on the result and error topics
is read until the revisions stop coming. Per call: the first result and the latest revision,
right or wrong against the truth. Nothing lost (every call has a result or an error), nothing
duplicated (one event per call id and revision). Writes bench/results/archive-stream.json.
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
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from callroles.bench.paths import RESULTS_DIR
from callroles.bench.stream_bench import Group
from callroles.export.calibrate import true_agent
from callroles.lab import stack
from callroles.lab.settings import stack_settings
from callroles.streaming.submit import event_for_file, publish
from callroles.streaming.tail import events
from callroles.streaming.topics import create_topics

RESULTS = RESULTS_DIR / "archive-stream.json"
#: the archive bench's mono archive of real voices, seed 5150 (``callroles bench archive``)
DEFAULT_CORPUS = "archive-real-voices-mono-rc2-200-seed5150-st0.0-"


def _default_corpus(home: Path) -> Path | None:
    found = sorted((home / "bench-cache").glob(DEFAULT_CORPUS + "*/calls.csv"))
    return found[-1].parent if found else None


async def _stream(
    settings: Any, corpus: Path, calls: list[dict[str, str]], linger: float, timeout: float
) -> list[tuple[str, dict[str, Any], float]]:
    """Submit the calls in order; every (kind, event, arrival) until ``linger`` s pass with no
    event once each call has its first answer (or ``timeout``)."""
    got: list[tuple[str, dict[str, Any], float]] = []
    want = {c["call_id"] for c in calls}

    async def consume() -> None:
        async for kind, event in events(settings, from_beginning=True):
            if event.get("call_id") in want:
                got.append((kind, event, time.time()))

    reader = asyncio.create_task(consume())
    await asyncio.sleep(3)  # the reader is assigned before the first result
    await publish(
        settings,
        [
            event_for_file(corpus / c["file"], {"call_id": c["call_id"], "agent_id": c["agent_id"]})
            for c in calls
        ],
    )
    started = time.time()
    while time.time() - started < timeout:
        await asyncio.sleep(5)
        answered = {e["call_id"] for _, e, _ in got}
        if answered >= want and got and time.time() - got[-1][2] > linger:
            break
        print(f"[archive_stream] {len(answered)}/{len(want)} calls answered, {len(got)} events",
              flush=True)  # fmt: skip
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    return got


def _right(result: dict[str, Any], truth: dict[str, Any], agent_id: str) -> bool:
    spans = [(g["start"], g["end"]) for g in truth["segments"] if g["speaker"] == agent_id]
    return bool(result.get("agent_speaker")) and result["agent_speaker"] == true_agent(
        result, spans
    )


def score(
    corpus: Path, calls: list[dict[str, str]], got: list[tuple[str, dict[str, Any], float]]
) -> dict[str, Any]:
    """First publication and latest revision of every call against the truth."""
    seen: dict[tuple[str, int], int] = {}
    by_call: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    for kind, event, _ in got:
        key = (event["call_id"], int(event.get("revision") or 0))
        seen[key] = seen.get(key, 0) + 1
        if kind == "call_error":
            errors[event["call_id"]] = str(event.get("code"))
        elif seen[key] == 1:
            by_call.setdefault(event["call_id"], []).append(event)
    rows: list[dict[str, Any]] = []
    nth: dict[str, int] = {}
    for c in calls:
        nth[c["agent_id"]] = nth.get(c["agent_id"], 0) + 1
        results = sorted(by_call.get(c["call_id"], []), key=lambda e: int(e.get("revision") or 0))
        if not results:
            continue
        truth = json.loads((corpus / "truth" / f"{c['call_id']}.json").read_text())
        first, last = results[0], results[-1]
        rows.append({
            "call_id": c["call_id"], "agent_id": c["agent_id"], "agent_call": nth[c["agent_id"]],
            "revisions": len(results) - 1,
            "first_right": _right(first, truth, c["agent_id"]),
            "latest_right": _right(last, truth, c["agent_id"]),
            "first_source": "+".join(sorted({s["role_source"] for s in first["speakers"]})),
            "latest_source": "+".join(sorted({s["role_source"] for s in last["speakers"]})),
            "enrolment": (first.get("enrolment") or {}).get("action"),
        })  # fmt: skip

    def count(subset: list[dict[str, Any]], key: str) -> dict[str, Any]:
        right = sum(r[key] for r in subset)
        return {"calls": len(subset), "right": right,
                "accuracy": round(right / len(subset), 4) if subset else None}  # fmt: skip

    later = [r for r in rows if r["agent_call"] > 3]
    return {
        "calls": len(calls),
        "answered": len(by_call.keys() | errors.keys()),
        "missing": sorted({c["call_id"] for c in calls} - by_call.keys() - errors.keys()),
        "errors": errors,
        "events": len(got),
        "duplicates": sum(n - 1 for n in seen.values()),
        "revised_calls": sum(r["revisions"] > 0 for r in rows),
        "first_publication": count(rows, "first_right"),
        "latest_revision": count(rows, "latest_right"),
        "after_agents_first_three_calls_first_publication": count(later, "first_right"),
        "prints_learnt": sum(r["enrolment"] == "enrolled" for r in rows),
        "rows": rows,
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="callroles bench archive_stream")
    p.add_argument("--corpus", type=Path, help="a corpus of `bench archive` (default: its "
                   "cached mono archive of real voices, seed 5150)")  # fmt: skip
    p.add_argument("--limit", type=int, help="the first LIMIT calls only")
    p.add_argument("--linger", type=float, default=90.0, help="quiet seconds that end the run")
    p.add_argument("--timeout", type=float, default=3600.0)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    base = stack_settings()
    corpus = args.corpus or _default_corpus(base.home)
    if corpus is None or not (corpus / "calls.csv").is_file():
        print("no archive to stream: run `callroles bench archive --real-voices "
              "../shared/data/speakers/librispeech --calls 200 --stereo-fraction 0 "
              "--repeat-customers 2` first, or give --corpus")  # fmt: skip
        return 0
    with (corpus / "calls.csv").open(newline="") as fh:
        calls = sorted(csv.DictReader(fh), key=lambda r: r["started_at"])[: args.limit]
    stack.start(base)
    settings = base.model_copy(
        update={"topic_prefix": f"archive{uuid.uuid4().hex[:6]}.", "partitions": 1}
    )
    asyncio.run(create_topics(settings))
    os.environ["CALLROLES_VOICEPRINT_STORE"] = settings.redis_dsn  # the worker's store, in Redis
    group = Group(settings, 1, corpus, base.home / "bench-cache" / "logs")
    t0 = time.time()
    try:
        group.wait_ready()
        got = asyncio.run(_stream(settings, corpus, calls, args.linger, args.timeout))
    finally:
        group.stop()
    report = {
        "benchmark": "archive_stream",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "data": f"{corpus.name}: {len(calls)} mono calls of real voices (LibriSpeech readers) in "
        "generated calls, nothing enrolled; one worker, one partition, a Redis voiceprint store",
        "wall_s": round(time.time() - t0, 1),
        **score(corpus, calls, got),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
