"""The fault suite's tally: per fault, calls submitted, result and error events, distinct call
ids, missing calls and duplicates, kept in a table the tests print.

The stack (its own Kafka+Redis, restarted by the tests), the workers and the generated calls
come from ``tests.support`` (``stacks.local_stack("CALLROLES_FAULT_")``, ``workers.Workers``,
``calls``). Tests never write the project's tracked files: the table lives in the session's
scratch folder (``faults.json``); ``bench/results`` is written by benchmark commands only.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from callroles.lab.settings import StackSettings
from tests.support.workers import Workers, stack_env

#: what every fault suite's workers share: short leases and sessions so faults show quickly
FAULT_TIMINGS = {
    "CALLROLES_DECODE_TIMEOUT_S": "30",
    "CALLROLES_LEASE_TTL_S": "15",
    "CALLROLES_BROKER_SESSION_TIMEOUT_S": "10",
    "CALLROLES_BROKER_HEARTBEAT_INTERVAL_S": "1",
    "OMP_NUM_THREADS": "1",
}


def fault_env(settings: StackSettings, model: Path, **extra: str) -> dict[str, str]:
    """The environment of a fault suite's workers: the stack, the timings, the model."""
    return stack_env(settings, **FAULT_TIMINGS, CALLROLES_MODEL_PATH=str(model), **extra)


def done_lines(group: Workers, which: tuple[int, ...] = (0, 1)) -> int:
    """Calls the workers have finished so far (their ``done in`` log lines)."""
    return sum(group.text(n).count(" done in ") for n in which)


def wait_done(group: Workers, at_least: int, timeout: float = 240) -> None:
    """Wait until the workers have finished ``at_least`` calls (or ``timeout`` passes)."""
    deadline = time.monotonic() + timeout
    while done_lines(group) < at_least and time.monotonic() < deadline:
        time.sleep(0.5)


@dataclass
class Tally:
    """The counts the issue asks for, per fault."""

    fault: str
    calls_submitted: int
    result_events: int
    distinct_call_ids: int
    error_events: int
    calls_missing: int  # neither a result nor an error event
    calls_without_result: int  # for good calls this must be 0 too
    raw_duplicates: int  # results computed more than once for one (call_id, model version)
    replays: int = 0  # stored results published again for a re-delivered or re-sent event
    note: str = ""


def tally(
    fault: str, call_ids: set[str], got: list[tuple[str, dict[str, Any]]], note: str = ""
) -> Tally:
    """Count results per (call_id, model version): exactly one is required after dedup."""
    every = [e for k, e in got if k == "call_result"]
    results = [e for e in every if not e.get("replay")]
    keys = Counter((e["call_id"], e.get("model", {}).get("version")) for e in results)
    distinct = {cid for cid, _ in keys}
    answered = distinct | {e.get("call_id") for k, e in got if k == "call_error"}
    return Tally(
        fault=fault,
        calls_submitted=len(call_ids),
        result_events=len(results),
        distinct_call_ids=len(distinct & call_ids),
        error_events=sum(1 for k, _ in got if k == "call_error"),
        calls_missing=len(call_ids - answered),
        calls_without_result=len(call_ids - distinct),
        raw_duplicates=sum(n - 1 for n in keys.values()),
        replays=len(every) - len(results),
        note=note,
    )


def record(row: Tally, table: Path) -> None:
    """Merge one fault's row into the JSON table ``table`` (a scratch file) and print it."""
    table.parent.mkdir(parents=True, exist_ok=True)
    try:
        rows = json.loads(table.read_text())["faults"]
    except (OSError, ValueError, KeyError):
        rows = []
    rows = [r for r in rows if r["fault"] != row.fault] + [asdict(row)]
    table.write_text(
        json.dumps({"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "machine": "2 cores, shared", "faults": rows}, indent=2) + "\n"
    )  # fmt: skip
    print(f"fault table ({table}):\n{format_table(rows)}")


def format_table(rows: list[dict[str, Any]]) -> str:
    cols = ["fault", "calls_submitted", "result_events", "distinct_call_ids", "error_events",
            "calls_missing", "calls_without_result", "raw_duplicates", "replays"]  # fmt: skip
    heads = ["fault", "submitted", "results", "distinct", "errors", "missing", "no result",
             "dups", "replays"]  # fmt: skip
    lines = [" | ".join(f"{h:>9}" if i else f"{h:28}" for i, h in enumerate(heads))]
    for r in rows:
        lines.append(" | ".join(
            f"{r.get(c, '')!s:>9}" if i else f"{r[c]:28}" for i, c in enumerate(cols)
        ))  # fmt: skip
    return "\n".join(lines)
