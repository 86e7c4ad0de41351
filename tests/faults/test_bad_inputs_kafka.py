"""The bad-input corpus through Kafka and two real workers: every input yields exactly one typed
error event or one valid result, a duplicate call_id yields one result, the workers stay up,
and a phone number in a recording's name or metadata never reaches the workers' logs.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from callroles import schemas
from callroles.lab.settings import StackSettings
from tests.faults import corpus, harness
from tests.support import calls
from tests.support.workers import Workers

pytestmark = [pytest.mark.services]

PHONE = "+905321234567"


@pytest.fixture(scope="module")
def kafka_run(
    fault_workers: tuple[StackSettings, Path, Workers],
    bad_inputs: list[corpus.BadInput],
    corpus_root: Path,
) -> dict[str, Any]:
    settings, scratch, group = fault_workers
    allowed = corpus_root / "allowed"
    named = allowed / f"in-A017-{PHONE}-20261123-101500-c1.gsm"  # Asterisk-style file name
    shutil.copy(allowed / "one_speaker.gsm", named)
    first, second = corpus.duplicate_pair(corpus_root, "bad-duplicate")
    messages = [(i.call_id, i.message) for i in bad_inputs]
    messages += [
        ("bad-duplicate", first),
        ("bad-duplicate", second),
        ("bad-phone", calls.event("bad-phone", named, metadata={"customer": PHONE})),
    ]
    calls.submit(settings, messages)
    ids = {i.call_id for i in bad_inputs if i.event and i.event.get("call_id") == i.call_id}
    ids |= {"bad-duplicate", "bad-phone"}
    null_ids = sum(1 for i in bad_inputs if i.event is None)
    got = calls.gather(settings, ids, timeout_s=300, linger_s=10, extra=null_ids)
    row = harness.tally("bad inputs (corpus)", ids, got, note=f"{len(messages)} messages")
    harness.record(row, scratch / "faults.json")
    assert row.calls_missing == 0, row
    by_id: dict[str | None, list[tuple[str, dict[str, Any]]]] = {}
    for kind, ev in got:
        by_id.setdefault(ev.get("call_id"), []).append((kind, ev))
    return {"got": got, "by_id": by_id, "group": group, "ids": ids}


def _outcome(events: list[tuple[str, dict[str, Any]]]) -> str:
    kind, ev = events[0]
    return corpus.RESULT if kind == "call_result" else str(ev["code"])


def _kinds() -> list[Any]:
    return [
        pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=corpus.KNOWN_DEFECTS[k]))
        if k in corpus.KNOWN_DEFECTS
        else k
        for k in corpus.ALL_KINDS
        if k not in ("invalid_json", "not_utf8")
    ]


@pytest.mark.parametrize("kind", _kinds())
def test_each_bad_input_one_typed_outcome(
    kind: str, kafka_run: dict[str, Any], bad_inputs: list[corpus.BadInput]
) -> None:
    item = next(i for i in bad_inputs if i.kind == kind)
    events = kafka_run["by_id"].get(item.call_id, [])
    assert len(events) == 1, f"{kind}: {len(events)} events: {[e for _, e in events]}"
    kind_, ev = events[0]
    schemas.validate(kind_, ev)
    code = _outcome(events)
    shown = ev.get("message", "")[:200] if kind_ == "call_error" else "result"
    assert code in item.expect, f"{kind}: got {code} ({shown}), expected {sorted(item.expect)}"


def test_non_json_messages_give_not_json_errors(kafka_run: dict[str, Any]) -> None:
    nulls = kafka_run["by_id"].get(None, [])
    assert [(k, e["code"]) for k, e in nulls] == [("call_error", "not_json")] * 2


def test_duplicate_call_id_one_result(kafka_run: dict[str, Any]) -> None:
    """The same call id with another recording: one result, then call_id_conflict."""
    events = kafka_run["by_id"].get("bad-duplicate", [])
    kinds = Counter(k for k, _ in events)
    assert kinds == {"call_result": 1, "call_error": 1}, events
    (error,) = [e for k, e in events if k == "call_error"]
    assert error["code"] == "call_id_conflict", error


def test_workers_stay_up(kafka_run: dict[str, Any]) -> None:
    assert kafka_run["group"].alive() == [True, True]


def test_phone_numbers_not_in_worker_logs(kafka_run: dict[str, Any]) -> None:
    assert [k for k, _ in kafka_run["by_id"].get("bad-phone", [])] == ["call_result"]
    group = kafka_run["group"]
    digits = PHONE.lstrip("+")
    leaks = [line for n in (0, 1) for line in group.text(n).splitlines() if digits in line]
    assert not leaks, f"{len(leaks)} log lines carry the phone number, e.g. {leaks[0][:200]}"
