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
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from callroles import schemas
from callroles.settings import Settings

pytestmark = [pytest.mark.services, pytest.mark.slow]

PARTITIONS = 2
TIMEOUT_S = 420.0


def _partition(call_id: str) -> int:
    from aiokafka.partitioner import murmur2

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
def model_path(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bool]:
    """(ONNX model, trained?): the shipped default model, or an untrained CRNN exported here."""
    from callroles.export.scorer import DEFAULT_MODEL

    if DEFAULT_MODEL.is_file():
        return DEFAULT_MODEL, True
    import keras
    import numpy as np

    from callroles.audio.features import DEFAULT_SPEC
    from callroles.export.metadata import ModelMetadata
    from callroles.export.onnx_export import export_model
    from callroles.export.runs import windows_from_audio
    from callroles.settings import PROJECT_ROOT
    from callroles.training.model import build_crnn

    keras.utils.set_random_seed(7)
    model = build_crnn(2, "gru")
    windows = windows_from_audio(PROJECT_ROOT / "tests/data/reference/lamartine.wav", limit=4)
    out = tmp_path_factory.mktemp("stream-model") / "model.onnx"
    meta = ModelMetadata(
        feature_spec=DEFAULT_SPEC.to_dict(),
        classes=("customer", "agent"),
        rnn="gru",
        param_count=int(model.count_params()),
        model_name="untrained-test-crnn",
    )
    export_model(model, out, meta, windows, labels=np.zeros(len(windows), dtype=int))
    return out, False


@pytest.fixture(scope="module")
def workers(
    stack: Settings,
    small_corpus: Path,
    model_path: tuple[Path, bool],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Settings, Path, list[Path]]]:
    """Two worker processes on a fresh topic prefix; yields settings, a scratch dir, logs."""
    from callroles.streaming.topics import create_topics

    scratch = tmp_path_factory.mktemp("stream-e2e")
    settings = stack.model_copy(
        update={"topic_prefix": f"e2e{uuid.uuid4().hex[:8]}.", "partitions": PARTITIONS}
    )
    asyncio.run(create_topics(settings))
    env = {
        **os.environ,
        "CALLROLES_KAFKA_PORT": str(settings.kafka_port),
        "CALLROLES_REDIS_PORT": str(settings.redis_port),
        "CALLROLES_TOPIC_PREFIX": settings.topic_prefix,
        "CALLROLES_PARTITIONS": str(PARTITIONS),
        "CALLROLES_ALLOWED_ROOTS": json.dumps([str(small_corpus), str(scratch)]),
        "CALLROLES_LEASE_TTL_S": "20",
        "CALLROLES_MODEL_PATH": str(model_path[0]),
        "OMP_NUM_THREADS": "1",
    }
    env.pop("CALLROLES_KAFKA_BOOTSTRAP", None)
    env.pop("CALLROLES_REDIS_URL", None)
    group = Workers(env, scratch)
    try:
        group.start(0)
        group.start(1)
        group.wait_ready()
        yield settings, scratch, group
    finally:
        group.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Workers:
    """``callroles worker`` subprocesses: ids w0, w1 on their own web ports, logs appended."""

    def __init__(self, env: dict[str, str], scratch: Path) -> None:
        self.env = env
        self.ports = (_free_port(), _free_port())
        self.logs = [scratch / f"worker{n}.log" for n in range(len(self.ports))]
        self.procs: list[subprocess.Popen | None] = [None] * len(self.ports)

    def start(self, n: int) -> None:
        cmd = [sys.executable, "-m", "callroles", "worker", "--web-port", str(self.ports[n])]
        self.procs[n] = subprocess.Popen(
            cmd,
            env={**self.env, "CALLROLES_WORKER_ID": f"w{n}"},
            stdout=self.logs[n].open("ab"),
            stderr=subprocess.STDOUT,
        )

    def kill(self, n: int) -> None:
        proc = self.procs[n]
        assert proc is not None
        proc.kill()  # SIGKILL: no goodbye to the group, no lease release
        proc.wait()

    def stop(self) -> None:
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            if p is None:
                continue
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def text(self, n: int) -> str:
        return self.logs[n].read_text(errors="replace")

    def wait_ready(self, timeout: float = 180) -> None:
        """All workers ready, and all in the same (latest) consumer-group generation."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for n, p in enumerate(self.procs):
                if p is not None and p.poll() is not None:
                    pytest.fail(f"worker {n} exited ({p.returncode}):\n{self.text(n)[-3000:]}")
            gens = []
            for n in range(len(self.procs)):
                lines = self.text(n).splitlines()
                last_start = max(
                    (i for i, x in enumerate(lines) if "Worker]: Starting" in x), default=0
                )
                lines = lines[last_start:]
                ready = any("Worker]: Ready" in x for x in lines)
                found = [
                    int(x.split("generation id ")[1].split()[0])
                    for x in lines
                    if "generation id " in x
                ]
                gens.append(found[-1] if ready and found else None)
            if None not in gens and len(set(gens)) == 1:
                time.sleep(2)
                return
            time.sleep(1)
        pytest.fail("workers not ready:\n" + "\n".join(self.text(n)[-2000:] for n in (0, 1)))


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
    settings: Settings
    ids: dict[str, str]  # corpus id -> submitted call id
    truth: dict[str, dict]
    results: dict[str, dict]  # call id -> result
    errors: list[dict]
    got: list[tuple[str, dict]]
    logs: list[Path]


@pytest.fixture(scope="module")
def run(workers, small_corpus: Path) -> Run:
    """Submit the corpus (one call twice) and four bad inputs; collect what comes out."""
    from callroles.streaming.submit import event_for_file, publish, publish_raw
    from callroles.streaming.tail import collect

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
    expected = len(events) + 4
    got = asyncio.run(collect(settings, expected, TIMEOUT_S))
    if len(got) < expected:
        tails = "\n".join(log.read_text(errors="replace")[-3000:] for log in logs)
        pytest.fail(f"{len(got)}/{expected} events in {TIMEOUT_S}s: {got}\n{tails}")
    # anything more (a second result for the duplicate, a second error) would arrive now
    got = asyncio.run(collect(settings, expected + 5, 15.0))
    results = {e["call_id"]: e for k, e in got if k == "call_result"}
    errors = [e for k, e in got if k == "call_error"]
    return Run(settings, ids, truth, results, errors, got, logs)


def test_every_call_once_split_between_workers(run: Run) -> None:
    kinds = Counter(k for k, _ in run.got)
    assert kinds == {"call_result": len(run.ids), "call_error": 4}, run.got
    assert set(run.results) == set(run.ids.values())
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
    assert skipped >= 1  # the duplicate was recognised, not turned into a second result


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


def test_results_carry_the_front_ends_figures_unchanged(run: Run, model_path) -> None:
    """The worker adds nothing and loses nothing: same call in-process, same talk times."""
    from callroles.audio.pipeline import FrontEnd

    corpus_id = min(run.truth, key=lambda c: run.truth[c]["duration_s"])
    front = FrontEnd().process(run.truth[corpus_id]["file"], layout="auto")
    r = run.results[run.ids[corpus_id]]
    assert r["separation_strategy"] == front.strategy
    assert {s["speaker"]: s["talk_time_s"] for s in r["speakers"]} == {
        s.speaker: round(s.talk_time_s, 3) for s in front.speakers
    }
    assert {s["speaker"]: s["windows"] for s in r["speakers"]} == {
        s.speaker: len(s.windows) for s in front.speakers
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


def test_roles_match_truth_with_trained_model(run: Run, model_path: tuple[Path, bool]) -> None:
    if not model_path[1]:
        pytest.skip("no trained default model shipped yet (export/default_model/model.onnx)")
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
    import urllib.request

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
    from callroles.streaming.submit import event_for_file, publish
    from callroles.streaming.tail import collect

    settings, _scratch, group = workers
    corpus_id = sorted(run.truth)[1]
    call_id = f"restart-{uuid.uuid4().hex[:6]}"
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
