"""Faults with calls in flight, against two real workers on the fault suite's own stack:
kill -9 of a worker, a Redis restart, a Kafka broker restart, and recordings that are slow to
read or never finish. Each counts submitted calls, result and error events, distinct call ids,
missing calls and raw duplicates (printed, and kept as faults.json in the session's scratch
folder). Required: no call missing and
exactly one result per call after deduplication on call_id.

Traffic is bounded: CALLROLES_FAULT_CALLS short (~9 s) generated calls per fault, 10 unless
set (the issue asks for 50; this machine has 2 shared cores).
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from callroles.lab import stack as stack_mod
from callroles.lab.settings import StackSettings
from tests.faults import harness
from tests.support import calls
from tests.support.workers import Workers

pytestmark = [pytest.mark.services]

N_CALLS = int(os.environ.get("CALLROLES_FAULT_CALLS", "10"))
GATHER_S = max(480.0, 20.0 * N_CALLS)

Ctx = tuple[StackSettings, Path, Workers]


def _submit_calls(ctx: Ctx, tag: str, n: int = N_CALLS) -> set[str]:
    settings, scratch, _group = ctx
    recordings = calls.make_calls(scratch / tag, n, tag)
    ids = {f"{tag}-{uuid.uuid4().hex[:6]}-{k:03d}" for k in range(n)}
    calls.submit(
        settings, [(c, calls.event(c, p)) for c, p in zip(sorted(ids), recordings, strict=True)]
    )
    return ids


def _check(ctx: Ctx, row: harness.Tally, ids: set[str], got: list) -> None:
    _settings, scratch, group = ctx
    harness.record(row, scratch / "faults.json")
    assert row.calls_missing == 0, row  # every call answered by a result or an error
    assert group.alive() == [True, True], "a worker went down"
    assert row.calls_without_result == 0, row
    assert row.distinct_call_ids == row.calls_submitted, row


def test_kill9_one_of_two_workers(fault_workers: Ctx) -> None:
    settings, _scratch, group = fault_workers
    before = harness.done_lines(group)
    ids = _submit_calls(fault_workers, "kill")
    harness.wait_done(group, before + 2)
    group.kill9(1)  # mid-run: w1 holds leases and uncommitted offsets
    time.sleep(12)  # w0 takes the partition over (session timeout 10 s) while w1 is down
    group.start(1)
    group.wait_ready([1])
    got = calls.gather(settings, ids, GATHER_S)
    row = harness.tally("kill -9 one of two workers", ids, got, f"{N_CALLS} calls")
    _check(fault_workers, row, ids, got)


def test_redis_restart_mid_run(fault_workers: Ctx) -> None:
    """Restart Redis with calls in flight, then send a second batch: the pooled connections
    of both workers are stale after the restart, and every call must still get its result."""
    settings, _scratch, group = fault_workers
    before = harness.done_lines(group)
    ids = _submit_calls(fault_workers, "redis")
    harness.wait_done(group, before + 2)
    stack_mod.stop_redis(settings)
    time.sleep(3)
    stack_mod.start_redis(settings)  # appendonly yes: sums, markers and leases survive
    time.sleep(5)
    ids |= _submit_calls(fault_workers, "redis2", 4)
    got = calls.gather(settings, ids, GATHER_S)
    note = f"{N_CALLS} calls + 4 after the restart"
    _check(fault_workers, harness.tally("restart Redis mid-run", ids, got, note), ids, got)


def test_kafka_restart_mid_run(fault_workers: Ctx) -> None:
    settings, _scratch, group = fault_workers
    before = harness.done_lines(group)
    ids = _submit_calls(fault_workers, "kafka")
    harness.wait_done(group, before + 2)
    stack_mod.stop_kafka(settings)
    time.sleep(3)
    stack_mod.start_kafka(settings)
    got = calls.gather(settings, ids, GATHER_S)
    row = harness.tally("restart Kafka broker mid-run", ids, got, f"{N_CALLS} calls")
    _check(fault_workers, row, ids, got)


def test_slow_and_never_finishing_reads(fault_workers: Ctx, http_base: str) -> None:
    """A slow download (4 s, under fetch_timeout_s=8) gives a result; one that never finishes
    and a FIFO nobody writes give typed errors, and the workers keep going."""
    settings, scratch, group = fault_workers
    fifo = scratch / "never.gsm"
    if not fifo.exists():
        os.mkfifo(fifo)
    tag = uuid.uuid4().hex[:6]
    cases = {
        f"slow-http-{tag}": (f"{http_base}/slow/one_speaker.gsm", {"result"}),
        f"never-http-{tag}": (f"{http_base}/never", {"fetch_failed", "fetch_timeout"}),
        f"fifo-{tag}": (str(fifo), {"recording_missing", "audio_timeout", "fetch_timeout"}),
    }
    calls.submit(settings, [(c, calls.event(c, uri)) for c, (uri, _) in cases.items()])
    got = calls.gather(settings, set(cases), 180)
    row = harness.tally("slow / never-ending reads", set(cases), got, "3 calls")
    harness.record(row, scratch / "faults.json")
    outcome = {e["call_id"]: ("result" if k == "call_result" else e["code"]) for k, e in got}
    for cid, (_uri, ok) in cases.items():
        assert outcome.get(cid) in ok, f"{cid}: {outcome.get(cid)}, expected {sorted(ok)}"
    assert row.calls_missing == 0 and row.raw_duplicates == 0
    assert group.alive() == [True, True]
