"""End to end on the real stack: two ``callroles worker`` processes, generated calls, results.

One run covers: every call gets exactly one valid result; talk times within 5% of the truth;
a duplicate submission yields one result; an invalid event, a non-JSON message, an undecodable
recording and a path outside the allowed roots each yield one error event while the workers
keep going; the two workers of a 2-partition topic split the calls.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from aiokafka.partitioner import murmur2

from callroles import schemas
from callroles.call.pipeline import Models, front_end
from callroles.lab.settings import StackSettings
from callroles.models.features import stream_windows
from callroles.streaming.submit import event_for_file, publish, publish_raw
from callroles.streaming.tail import collect
from callroles.streaming.topics import create_topics
from tests.support.models import assert_shipped_model
from tests.support.workers import Workers, stack_env

pytestmark = [pytest.mark.services, pytest.mark.slow]

PARTITIONS = 2
TIMEOUT_S = 420.0


def _partition(call_id: str) -> int:

    return (murmur2(call_id.encode()) & 0x7FFFFFFF) % PARTITIONS


def _spread_ids(ids: list[str]) -> dict[str, str]:
    """Corpus id -> call id, suffixed where needed so both partitions get calls."""
    out = {i: i for i in ids}
    if len({_partition(c) for c in out.values()}) < PARTITIONS:
        for n in range(1, 50):
            candidate = f"{ids[-1]}-{n}"
            if _partition(candidate) != _partition(ids[0]):
                out[ids[-1]] = candidate
                break
    return out


@pytest.fixture(scope="module")
def model_path() -> Path:
    """The shipped default model; its files must be there (a packaging loss fails here)."""
    return assert_shipped_model()


@pytest.fixture(scope="module")
def workers(
    stack: StackSettings,
    small_corpus: Path,
    model_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[StackSettings, Path, Workers]]:
    """Two worker processes on a fresh topic prefix; yields settings, a scratch dir, the group."""

    scratch = tmp_path_factory.mktemp("stream-e2e")
    settings = stack.model_copy(
        update={"topic_prefix": f"e2e{uuid.uuid4().hex[:8]}.", "partitions": PARTITIONS}
    )
    asyncio.run(create_topics(settings))
    env = stack_env(
        settings,
        CALLROLES_ALLOWED_ROOTS=json.dumps([str(small_corpus), str(scratch)]),
        CALLROLES_LEASE_TTL_S="20",
        CALLROLES_MODEL_PATH=str(model_path),
        OMP_NUM_THREADS="1",
    )
    with Workers(settings, env, scratch) as group:
        group.start(0)
        group.start(1)
        group.wait_ready(timeout=180)
        yield settings, scratch, group


def _truth(corpus: Path) -> dict[str, dict]:
    with (corpus / "calls.csv").open() as f:
        rows = list(csv.DictReader(f))
    return {
        r["call_id"]: {
            "file": corpus / r["file"],
            **json.loads((corpus / "truth" / f"{r['call_id']}.json").read_text()),
        }
        for r in rows
    }


@dataclass
class Run:
    settings: StackSettings
    ids: dict[str, str]  # corpus id -> submitted call id
    truth: dict[str, dict]
    results: dict[str, dict]  # call id -> result
    errors: list[dict]
    got: list[tuple[str, dict]]
    logs: list[Path]


@pytest.fixture(scope="module")
def run(workers, small_corpus: Path) -> Run:
    """Submit the corpus (one call twice) and four bad inputs; collect what comes out."""

    settings, scratch, group = workers
    logs = group.logs
    truth = _truth(small_corpus)
    ids = _spread_ids(sorted(truth))
    events = [event_for_file(truth[c]["file"], {"call_id": ids[c]}) for c in sorted(truth)]
    bad_audio = scratch / "broken.wav"
    bad_audio.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + os.urandom(2000))
    outside = event_for_file(Path(__file__), {"call_id": "outside"})  # outside allowed roots

    async def submit() -> set[int]:
        metas = await publish(settings, [*events, events[0]])  # the first call twice
        await publish(settings, [event_for_file(bad_audio, {"call_id": "broken"}), outside])
        await publish_raw(
            settings,
            [
                (b"junk", b"\x00not json"),
                (b"bad", json.dumps({"schema_version": 1, "call_id": "bad"}).encode()),
            ],
        )
        return {m.partition for m in metas}

    assert asyncio.run(submit()) == set(range(PARTITIONS))
    expected = len(events) + 1 + 4  # every call, the duplicate's replay, four errors
    got = asyncio.run(collect(settings, expected, TIMEOUT_S))
    if len(got) < expected:
        tails = "\n".join(log.read_text(errors="replace")[-3000:] for log in logs)
        pytest.fail(f"{len(got)}/{expected} events in {TIMEOUT_S}s: {got}\n{tails}")
    # anything more (a second computed result, a second error) would arrive now
    got = asyncio.run(collect(settings, expected + 5, 15.0))
    results = {e["call_id"]: e for k, e in got if k == "call_result" and not e.get("replay")}
    errors = [e for k, e in got if k == "call_error"]
    return Run(settings, ids, truth, results, errors, got, logs)


def test_every_call_once_split_between_workers(run: Run) -> None:
    kinds = Counter(("replay" if e.get("replay") else k) for k, e in run.got)
    assert kinds == {"call_result": len(run.ids), "replay": 1, "call_error": 4}, run.got
    assert set(run.results) == set(run.ids.values())
    # the call submitted twice: computed once, its stored result published again as a replay
    (replay,) = [e for k, e in run.got if k == "call_result" and e.get("replay")]
    first = run.ids[sorted(run.ids)[0]]
    assert replay["call_id"] == first
    schemas.validate("call_result", replay)
    original = run.results[first]
    assert replay["speakers"] == original["speakers"]
    assert replay["produced_at"] == original["produced_at"]
    for r in run.results.values():
        schemas.validate("call_result", r)
        assert len(r["speakers"]) == 2 and r["model"]["classes"] == ["customer", "agent"]
        assert r["latency_s"]["total"] > 0
        assert r["separation_strategy"] in ("gender", "stereo", "embedding")
    assert {r["worker"] for r in run.results.values()} == {"w0", "w1"}
    skipped = sum(
        "already has a result" in log.read_text() or "processed by another" in log.read_text()
        for log in run.logs
    )
    assert skipped >= 1  # the duplicate was recognised, not computed a second time


def test_bad_inputs_give_one_typed_error_each(run: Run) -> None:
    by_id = {e["call_id"]: e for e in run.errors}
    assert len(run.errors) == 4 and len(by_id) == 4, run.errors
    assert by_id["broken"]["code"].startswith("audio_")
    assert by_id["outside"]["code"] == "uri_not_allowed"
    assert by_id["outside"]["stage"] == "fetch"
    assert by_id["bad"]["code"] == "schema_invalid" and by_id["bad"]["stage"] == "ingest"
    assert by_id[None]["code"] == "not_json"
    for e in run.errors:
        schemas.validate("call_error", e)


def test_results_carry_the_front_ends_figures_unchanged(run: Run, model_path: Path) -> None:
    """The worker adds nothing and loses nothing: same call in-process, same talk times."""

    corpus_id = min(run.truth, key=lambda c: run.truth[c]["duration_s"])
    front = front_end(run.truth[corpus_id]["file"], Models(StackSettings()), layout="auto")
    r = run.results[run.ids[corpus_id]]
    assert r["separation_strategy"] == front.strategy
    assert {s["speaker"]: s["talk_time_s"] for s in r["speakers"]} == {
        s.speaker: round(s.talk_time_s, 3) for s in front.speakers
    }
    assert {s["speaker"]: s["windows"] for s in r["speakers"]} == {
        s.speaker: len(stream_windows(s.audio).windows) for s in front.speakers
    }
    assert r["call"]["music_s"] == pytest.approx(front.budget["music_s"], abs=1e-3)
    assert r["call"]["silence_s"] == pytest.approx(front.budget["silence_s"], abs=1e-3)


def test_durations_match_truth(run: Run) -> None:
    for c, call_id in run.ids.items():
        assert run.results[call_id]["duration_s"] == pytest.approx(
            run.truth[c]["duration_s"], abs=0.5
        )


def test_talk_times_within_5_percent_of_truth(run: Run) -> None:
    """Per speaker, matched by talk-time order (synthetic calls): the issue's 5% target, met since
    talk time comes from the speaker-count model (docs/frontend.md, "Talk time")."""
    off: list[str] = []
    for c, call_id in run.ids.items():
        r = run.results[call_id]
        true_times = sorted(s["talk_time_s"] for s in run.truth[c]["speakers"].values())
        got_times = sorted(s["talk_time_s"] for s in r["speakers"])
        for t, g in zip(true_times, got_times, strict=True):
            if abs(g - t) > 0.05 * t:
                off.append(f"{c}: truth {t:.2f} s, result {g:.2f} s ({100 * (g - t) / t:+.1f}%)")
    assert not off, "talk times off by more than 5%:\n" + "\n".join(off)


def test_talk_times_median_within_2_percent_of_truth(run: Run) -> None:
    """A tighter look at the same figures (synthetic calls): the median speaker within 2%."""
    errors = []
    for c, call_id in run.ids.items():
        true_times = sorted(s["talk_time_s"] for s in run.truth[c]["speakers"].values())
        got_times = sorted(s["talk_time_s"] for s in run.results[call_id]["speakers"])
        errors += [abs(g - t) / t for t, g in zip(true_times, got_times, strict=True)]
    assert float(np.median(errors)) <= 0.02, sorted(errors)


def test_roles_match_truth_with_trained_model(run: Run, model_path: Path) -> None:
    """The workers ran the shipped (trained) default model: it finds the agents."""
    right = 0
    for c, call_id in run.ids.items():
        r = run.results[call_id]
        mine = next((s for s in r["speakers"] if s["speaker"] == r["agent_speaker"]), None)
        # the speaker called agent is the true speaker its segments overlap most
        overlap = {"agent": 0.0, "customer": 0.0}
        for seg in run.truth[c]["segments"]:
            for a, b in (mine or {}).get("segments", []):
                overlap[seg["role"]] += max(0.0, min(b, seg["end"]) - max(a, seg["start"]))
        right += mine is not None and overlap["agent"] > overlap["customer"]
    assert right >= 0.8 * len(run.ids), f"{right}/{len(run.ids)} agents found"


def test_metrics_on_the_worker_web_port(workers, run: Run) -> None:
    """Prometheus text on /metrics: calls done and failed by reason, stages, windows, lag."""

    _settings, _scratch, group = workers
    text = ""
    for port in group.ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text += resp.read().decode()

    def total(prefix: str) -> float:
        return sum(float(x.rsplit(" ", 1)[1]) for x in text.splitlines() if x.startswith(prefix))

    assert total("callroles_calls_done_total") == len(run.ids)
    assert total('callroles_calls_failed_total{code="uri_not_allowed",stage="fetch"}') == 1
    assert total('callroles_calls_failed_total{code="not_json"') == 1
    assert total("callroles_windows_scored_total") == sum(
        s["windows"] for r in run.results.values() for s in r["speakers"]
    )
    assert 'callroles_stage_seconds_count{stage="segment"}' in text
    assert "callroles_consumer_lag{" in text


def test_worker_killed_mid_call_still_completes_it_once(workers, run: Run) -> None:
    """SIGKILL the worker working on a call, start it again: the call completes, once."""

    settings, _scratch, group = workers
    corpus_id = sorted(run.truth)[1]
    # letters only: a hex tag that happens to be six digits would be redacted in the worker's
    # log as a phone number (streaming/redact.py), and the wait below would never see it
    call_id = "restart-" + uuid.uuid4().hex[:6].translate(str.maketrans("0123456789", "ghijklmnop"))
    before = [group.text(0), group.text(1)]
    event = event_for_file(run.truth[corpus_id]["file"], {"call_id": call_id})
    asyncio.run(publish(settings, [event]))
    deadline = time.monotonic() + 120
    owner = None
    while owner is None and time.monotonic() < deadline:
        for n in (0, 1):
            if f"call {call_id} started" in group.text(n)[len(before[n]) :]:
                owner = n
        time.sleep(0.2)
    assert owner is not None, "no worker started the call"
    time.sleep(1.0)  # into the front end
    group.kill(owner)
    group.start(owner)
    group.wait_ready(timeout=240)
    asyncio.run(collect(settings, len(run.got) + 1, 240.0))
    got = asyncio.run(collect(settings, len(run.got) + 2, 15.0))  # and nothing more
    mine = [e for k, e in got if e.get("call_id") == call_id]
    assert [k for k, e in got if e.get("call_id") == call_id] == ["call_result"], mine
    assert mine[0]["call"]["turn_count"] >= 1
