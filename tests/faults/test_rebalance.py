"""Rebalances under load (issue "Reliability and scale", item 3): calls submitted while the
worker group goes 1 -> 3 -> 1 through consumer-group rebalances, one of them a kill -9. Every
call must be answered, with exactly one computed result per call (a re-delivered event answered
with its stored result, marked ``replay``, is counted apart and allowed).

Sequence (thresholds are results done, counted from the workers' logs):

1. one worker (w0); the first half of the calls is submitted at once;
2. after N/10 results: w1 and w2 start (rebalance: 6 partitions over 3 members) and a quarter
   of the calls is submitted while the group rebalances;
3. after 40 % of the results, and N/10 more since the group of 3 was Stable: kill -9 of the
   worker with the most calls in flight (its partitions move once the broker's session
   timeout, 10 s, passes; its leases expire after 15 s) and the last quarter is submitted;
4. after 60 % of the results, and N/10 more since the group of 2 was Stable: SIGTERM of the
   busier of the two left (graceful leave); one remains and finishes the backlog.

The calls reuse a few short generated recordings under distinct call ids (generation stays
cheap; the ledger is keyed by call id, so each one is computed on its own).
CALLROLES_REBALANCE_CALLS sets how many calls (100 unless set). The row goes into the session
scratch folder's ``faults.json`` and the table is printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from callroles.lab.settings import StackSettings
from callroles.streaming.topics import create_topics
from tests.faults import harness
from tests.support import calls
from tests.support.workers import Workers, stack_env

N_CALLS = int(os.environ.get("CALLROLES_REBALANCE_CALLS", "100"))
PARTITIONS = 6  # enough for 3 workers (2 each)
RECORDINGS = 3  # distinct recordings behind the N call ids
PHASE_S = 420.0  # most a phase waits for its results before the next fault comes anyway
GATHER_S = max(600.0, 12.0 * N_CALLS)

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(GATHER_S + 4 * PHASE_S)]

Ctx = tuple[StackSettings, Path, Workers]

_STARTED = re.compile(r"call (\S+) started \(attempt (\d+)\)")
_DONE = re.compile(r"call (\S+) done in ")


@pytest.fixture
def rebalance_workers(
    fault_stack: StackSettings, fault_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ctx]:
    """Three worker slots (none started) on a fresh topic prefix with PARTITIONS partitions."""

    scratch = tmp_path_factory.mktemp("rebalance")
    settings = fault_stack.model_copy(
        update={"topic_prefix": f"r{uuid.uuid4().hex[:8]}.", "partitions": PARTITIONS}
    )
    asyncio.run(create_topics(settings))
    env = stack_env(
        settings,
        CALLROLES_ALLOWED_ROOTS=json.dumps([str(scratch)]),
        CALLROLES_LEASE_TTL_S="15",
        CALLROLES_BROKER_SESSION_TIMEOUT_S="10",
        CALLROLES_BROKER_HEARTBEAT_INTERVAL_S="1",
        CALLROLES_MODEL_PATH=str(fault_model),
        OMP_NUM_THREADS="1",
    )
    with Workers(settings, env, scratch, count=3) as group:
        yield settings, scratch, group


def _per_worker(group: Workers, pattern: re.Pattern[str]) -> list[list[Any]]:
    """``pattern``'s matches (call ids, or tuples of groups) in each worker's log, in order."""
    return [pattern.findall(group.text(n)) for n in range(len(group.names))]


def _done(group: Workers) -> int:
    return sum(len(d) for d in _per_worker(group, _DONE))


def _in_flight(group: Workers, n: int) -> int:
    """Calls worker ``n`` started and has not finished, as far as its log tells."""
    started = Counter(cid for cid, _ in _STARTED.findall(group.text(n)))
    started.subtract(_DONE.findall(group.text(n)))
    return sum(v for v in started.values() if v > 0)


def _wait_done(group: Workers, at_least: int, timeout: float = PHASE_S) -> None:
    deadline = time.monotonic() + timeout
    while _done(group) < at_least and time.monotonic() < deadline:
        time.sleep(0.5)


def test_rebalance_1_3_1_under_load(rebalance_workers: Ctx) -> None:
    settings, scratch, group = rebalance_workers
    # letters only: the workers' logs hash digit runs of 6+ (phone numbers), and the test
    # reads call ids back from those logs
    tag = "reb-" + uuid.uuid4().hex[:6].translate(str.maketrans("0123456789", "ghijklmnop"))
    recordings = calls.make_calls(scratch / "calls", RECORDINGS, "reb")
    ids = [f"{tag}-{k:03d}" for k in range(N_CALLS)]
    batches = [ids[: N_CALLS // 2], ids[N_CALLS // 2 : 3 * N_CALLS // 4], ids[3 * N_CALLS // 4 :]]
    timeline: list[str] = []
    t0 = time.monotonic()

    def mark(what: str) -> None:
        line = f"{time.monotonic() - t0:6.0f} s  done {_done(group):3d}  {what}"
        timeline.append(line)
        print(line, flush=True)

    def submit(batch: list[str]) -> None:
        events = [(c, calls.event(c, recordings[k % RECORDINGS])) for k, c in enumerate(batch)]
        calls.submit(settings, events)
        mark(f"submitted {len(batch)} calls")

    group.start(0)
    group.wait_ready([0])
    mark("1 worker (w0) ready")
    submit(batches[0])

    step = max(3, N_CALLS // 10)  # results each phase sees at least
    _wait_done(group, step)
    group.start(1)
    group.start(2)
    mark("w1, w2 started: 1 -> 3")
    submit(batches[1])
    group.wait_ready([0, 1, 2])
    mark("group Stable with 3 members")

    _wait_done(group, max(int(N_CALLS * 0.4), _done(group) + step))
    victim = max((0, 1, 2), key=lambda n: (_in_flight(group, n), -n))
    in_flight = _in_flight(group, victim)
    group.kill9(victim)
    mark(f"kill -9 {group.names[victim]} ({in_flight} calls in flight): 3 -> 2")
    submit(batches[2])
    rest = [n for n in (0, 1, 2) if n != victim]
    group.wait_ready(rest)
    mark(f"group Stable with {', '.join(group.names[n] for n in rest)}")

    _wait_done(group, max(int(N_CALLS * 0.6), _done(group) + step))
    leaving = max(rest, key=lambda n: (_in_flight(group, n), -n))
    last = next(n for n in rest if n != leaving)
    mark(f"SIGTERM {group.names[leaving]} ({_in_flight(group, leaving)} calls in flight): 2 -> 1")
    group.stop(leaving, grace_s=120)
    code = group.procs[leaving].returncode  # type: ignore[union-attr]
    mark(f"{group.names[leaving]} exited {code}" + (" (SIGKILL after 120 s)" if code == -9 else ""))
    group.wait_ready([last])
    mark(f"group Stable with {group.names[last]} alone")

    got = calls.gather(settings, set(ids), GATHER_S, linger_s=20)
    mark("gathered")
    wall = time.monotonic() - t0
    print("\n".join(["timeline:", *timeline]))

    row = harness.tally(
        "rebalance 1 -> 3 -> 1 (kill -9, SIGTERM)",
        set(ids),
        got,
        f"{N_CALLS} calls, {PARTITIONS} partitions, {wall:.0f} s",
    )
    harness.record(row, scratch / "faults.json")
    report = _recomputed(group, got)
    print(report)
    assert group.alive()[last], f"{group.names[last]}, the last worker, went down"
    assert row.calls_missing == 0, row
    assert row.distinct_call_ids == row.calls_submitted, row
    assert row.raw_duplicates == 0, f"{row}\n{report}"


def _recomputed(group: Workers, got: list) -> str:
    """Which calls were started more than once (by which workers), and, for every call with
    more than one computed result, the result events' workers and the log lines about it."""
    started: dict[str, list[str]] = {}
    for name, found in zip(group.names, _per_worker(group, _STARTED), strict=True):
        for cid, attempt in found:
            started.setdefault(cid, []).append(f"{name}#{attempt}")
    again = {cid: who for cid, who in started.items() if len(who) > 1}
    results = Counter(e["call_id"] for k, e in got if k == "call_result" and not e.get("replay"))
    lines = [f"calls started more than once: {len(again)}"]
    lines += [f"  {cid}: {' '.join(who)}" for cid, who in sorted(again.items())]
    for cid, n in sorted(results.items()):
        if n < 2:
            continue
        workers = [e.get("worker") for k, e in got if k == "call_result" and e["call_id"] == cid]
        lines.append(f"DUPLICATE {cid}: {n} results from {workers}")
        for w, name in enumerate(group.names):
            lines += [f"  {name}: {ln}" for ln in group.text(w).splitlines() if cid in ln]
    return "\n".join(lines)
