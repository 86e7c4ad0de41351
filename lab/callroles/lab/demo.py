"""``callroles demo``: the whole job on a fresh machine, end to end, on real services.

Starts the local Kafka and Redis, a worker process, generates a handful of synthetic calls
(one same-gender, one stereo) plus any files the user names, submits them, waits for the result
events, prints a table per call and writes the HTML report. It stops what it started. A step
whose package is not there yet is reported as unavailable with the reason; nothing is faked.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from callroles.agents.store import FileStore
from callroles.base.errors import CallrolesError
from callroles.call.enrol import enrol
from callroles.call.pipeline import Models
from callroles.lab import stack
from callroles.lab.demo_worker import (
    available,
    free_port,
    model_missing,
    settings_env,
    stop_process,
    tail,
    worker_available,
    worker_command,
)
from callroles.lab.settings import StackSettings
from callroles.lab.simulate import generate_corpus
from callroles.report import tables
from callroles.report.html import build_report
from callroles.streaming.ingest import call_id_for_file
from callroles.streaming.results import EventWatcher
from callroles.streaming.submit import event_for_file, publish
from callroles.streaming.topics import create_topics_sync

Echo = Callable[[str], None]


class DemoError(CallrolesError):
    """A demo step failed; the message says which and where its log is."""

    code = "demo"
    stage = "demo"


@dataclass
class Step:
    name: str
    status: str = "pending"  # ok, unavailable, failed, skipped
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Submitted:
    call_id: str  # fresh per run: a second demo must not meet the first one's results
    path: Path
    truth: bool
    truth_id: str = ""  # the generated call's id in the corpus (its truth file's name)


@dataclass
class DemoRun:
    """What one demo run did, for the caller (and the end-to-end test) to check."""

    out: Path
    steps: list[Step] = field(default_factory=list)
    submitted: list[Submitted] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    report: Path | None = None
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return bool(self.submitted) and len(self.results) == len(self.submitted)


def corpus_calls(corpus: Path) -> list[dict[str, str]]:
    """Rows of the generated corpus's calls.csv."""
    with (corpus / "calls.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class Demo:
    """One demo run; ``run()`` returns the exit code and fills ``self.run_info``."""

    def __init__(
        self,
        settings: StackSettings,
        out: Path,
        files: Sequence[Path] = (),
        *,
        calls: int = 5,
        seed: int = 11,
        timeout_s: float | None = None,
        echo: Echo = print,
        progress: bool = True,
    ) -> None:
        self.settings = settings
        self.out = Path(out)
        self.files = [Path(f) for f in files]
        self.calls = calls
        self.seed = seed
        self.timeout_s = timeout_s
        self.echo = echo
        self.progress = progress
        self.info = DemoRun(out=self.out)
        self.run_id = uuid.uuid4().hex[:6]  # call ids of this run: <corpus id>-<run id>
        self._stack_before: dict[str, dict[str, object]] | None = None
        self._worker: subprocess.Popen[bytes] | None = None
        self._worker_log: Path = self.out / "worker.log"
        self.voiceprints = self.out / "voiceprints.json"  # the demo's own agents, not yours

    # -- steps ---------------------------------------------------------------------------------

    def _step(self, name: str, fn: Callable[[], str]) -> bool:
        step = Step(name)
        self.info.steps.append(step)
        self.echo(f"==> {name}")
        start = time.perf_counter()
        try:
            step.detail = fn()
            step.status = "ok"
        except _Unavailable as exc:
            step.status, step.detail = "unavailable", str(exc)
        except CallrolesError as exc:
            step.status, step.detail = "failed", f"[{exc.code}] {exc}"
        step.seconds = time.perf_counter() - start
        mark = {"ok": "ok", "unavailable": "NOT AVAILABLE YET", "failed": "FAILED"}.get(
            step.status, step.status
        )
        self.echo(f"    {mark} ({step.seconds:.1f} s): {step.detail}")
        return step.status == "ok"

    def _skip(self, name: str, why: str) -> None:
        self.info.steps.append(Step(name, "skipped", why))
        self.echo(f"==> {name}\n    SKIPPED: {why}")

    def _start_stack(self) -> str:
        self._stack_before = stack.status(self.settings)
        return "; ".join(stack.start(self.settings))

    def _topics(self) -> str:
        if not available("callroles.streaming.topics"):
            raise _Unavailable("callroles.streaming.topics is not installed yet")
        made = create_topics_sync(self.settings)
        return ", ".join(f"{t} ({s})" for t, s in made.items())

    def _corpus(self) -> str:
        corpus = self.out / "corpus"
        if (corpus / "corpus.json").is_file():  # our own output of an earlier run
            shutil.rmtree(corpus)
        summary = generate_corpus(
            corpus,
            calls=self.calls,
            seed=self.seed,
            preset="small",
            progress=self.progress,
            agent_samples=True,
        )
        for row in corpus_calls(corpus):
            call_id = f"{row['call_id']}-{self.run_id}"
            path = corpus / row["file"]
            self.info.submitted.append(Submitted(call_id, path, True, row["call_id"]))
        return (
            f"{summary.calls} calls, {summary.audio_s:.0f} s of audio "
            f"({summary.same_gender_calls} same-gender, {summary.stereo_calls} stereo) in {corpus}"
        )

    def _enrol(self) -> str:
        """Each generated agent's voice sample into the demo's voiceprint store, which the
        worker reads: a call whose event names an enrolled agent gets roles by voice."""
        models = Models(self.settings, frame_models=False)
        store = FileStore(self.voiceprints)
        names = []
        for sample in sorted((self.out / "corpus" / "agents").glob("*.wav")):
            store.put(enrol(models, sample.stem, [sample]))
            names.append(sample.stem)
        return f"{len(names)} agents ({', '.join(names)}) in {self.voiceprints}"

    def _user_files(self) -> str:
        for path in self.files:
            if not path.is_file():
                raise DemoError(f"no such recording: {path}")
            self.info.submitted.append(Submitted(call_id_for_file(path), path.resolve(), False))
        return f"{len(self.files)} file(s): " + ", ".join(str(p) for p in self.files)

    def _start_worker(self) -> str:
        why = worker_available() or model_missing(self.settings)
        if why:
            raise _Unavailable(why)
        self.out.mkdir(parents=True, exist_ok=True)
        log = self._worker_log.open("wb")
        env = dict(os.environ)
        for name, value in settings_env(self.settings).items():
            env.setdefault(name, value)
        if not self.settings.allowed_roots:  # the worker reads only what the demo submits
            roots = [(self.out / "corpus").resolve()] + [f.resolve().parent for f in self.files]
            env["CALLROLES_ALLOWED_ROOTS"] = json.dumps(sorted({str(r) for r in roots}))
        env.setdefault("CALLROLES_WORKER_WEB_PORT", str(free_port()))
        env["CALLROLES_VOICEPRINT_STORE"] = str(self.voiceprints)
        # results copy no metadata by default (privacy); the report finds its truth through these
        env.setdefault("CALLROLES_RESULT_METADATA", json.dumps(["source", "generated", "truth_id"]))
        self._worker = subprocess.Popen(
            worker_command(), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        return f"pid {self._worker.pid}, log {self._worker_log}"

    def _submit_and_wait(self) -> str:
        if not available("callroles.streaming.submit"):
            raise _Unavailable("callroles.streaming.submit is not installed yet")
        return asyncio.run(self._submit_and_wait_async())

    async def _submit_and_wait_async(self) -> str:
        rows = {}
        corpus = self.out / "corpus"
        if (corpus / "calls.csv").is_file():
            rows = {r["call_id"]: r for r in corpus_calls(corpus)}
        events = []
        for sub in self.info.submitted:
            row = rows.get(sub.truth_id, {}) if sub.truth else {}
            overrides = {
                "call_id": sub.call_id,
                "agent_id": row.get("agent_id") or None,
                "language": row.get("language") or None,
                # the simulator records stereo calls agent left, as a telephony system would say
                **({"layout": "stereo-agent-left"} if row.get("channels") == "2" else {}),
                "metadata": {"source": "callroles demo", "generated": sub.truth}
                | ({"truth_id": sub.truth_id} if sub.truth_id else {}),
            }
            events.append(event_for_file(sub.path, overrides))
        watcher = EventWatcher(self.settings)
        await watcher.start()
        want = {s.call_id for s in self.info.submitted}
        audio_s = sum(float(r.get("duration_s") or 60.0) for r in rows.values())
        audio_s += 120.0 * len(self.files)
        timeout = self.timeout_s or 240.0 + 2.0 * audio_s
        bar = tqdm(total=len(want), desc="results", unit="call", disable=not self.progress)
        got: dict[str, tuple[str, dict[str, Any]]] = {}
        try:
            await publish(self.settings, events)
            deadline = time.monotonic() + timeout
            while set(want) - set(got) and time.monotonic() < deadline:
                self._check_worker()
                chunk = await watcher.collect(set(want) - set(got), 5.0, lambda *_: bar.update())
                got.update(chunk)
        finally:
            bar.close()
            await watcher.stop()
        for _, (kind, event) in sorted(got.items()):
            (self.info.results if kind == "call_result" else self.info.errors).append(event)
        missing = sorted(want - set(got))
        if missing:
            raise DemoError(
                f"no result within {timeout:.0f} s for {', '.join(missing)}; "
                f"see the worker log {self._worker_log}"
            )
        return f"{len(self.info.results)} results, {len(self.info.errors)} errors"

    def _check_worker(self) -> None:
        if self._worker is not None and self._worker.poll() is not None:
            log_tail = tail(self._worker_log)
            raise DemoError(f"the worker exited with code {self._worker.returncode}:\n{log_tail}")

    def _report(self) -> str:
        results = self.info.results
        with (self.out / "results.jsonl").open("w", encoding="utf-8") as fh:
            for res in results:
                fh.write(json.dumps(res) + "\n")
        notes = [
            f"error for call {e.get('call_id')}: {e.get('code')}: {e.get('message')}"
            for e in self.info.errors
        ]
        self.info.report = build_report(
            results,
            self.out,
            truth_dir=self.out / "corpus" / "truth",
            title="callroles demo",
            notes=[
                "Generated calls are synthetic (TTS voices); accuracy here is on synthetic data."
            ]
            + notes,
        )
        return f"{self.info.report} (open it in a browser)"

    # -- orchestration -------------------------------------------------------------------------

    def run(self) -> int:
        """All steps in order; stops what it started whatever happens."""
        start = time.perf_counter()
        self.out.mkdir(parents=True, exist_ok=True)
        logging.getLogger("aiokafka").setLevel(logging.WARNING)
        try:
            ok = self._step("start the local Kafka and Redis", self._start_stack)
            ok = ok and self._step("create the topics", self._topics)
            # the worker loads its models while the calls are generated
            ok = ok and self._step("start a worker (callroles worker)", self._start_worker)
            if self._step("generate example calls (callroles simulate)", self._corpus):
                self._step("enrol the agents' voices (callroles agents enroll)", self._enrol)
            if self.files:
                self._step("add your files", self._user_files)
            if ok and self.info.submitted:
                self._step("submit the calls and wait for the results", self._submit_and_wait)
            else:
                self._skip(
                    "submit the calls and wait for the results", "an earlier step did not run"
                )
            self._print_tables()
            if self.info.results:
                self._step("write the HTML report and timelines", self._report)
        finally:
            self._step("stop what the demo started", self._cleanup)
            self.info.seconds = time.perf_counter() - start
        self._summary()
        return 0 if self.info.complete and not self.info.errors else 1

    def _print_tables(self) -> None:
        truth_dir = self.out / "corpus" / "truth"
        for res in self.info.results:
            self.echo("")
            self.echo(tables.call_table(res))
            truth = _load_json(truth_dir / f"{tables.truth_id(res)}.json")
            if truth:
                self.echo(_truth_line(res, truth))
        for err in self.info.errors:
            self.echo(f"\ncall {err.get('call_id')}: ERROR {err.get('code')}: {err.get('message')}")

    def _summary(self) -> None:
        self.echo("")
        for step in self.info.steps:
            self.echo(f"  {step.status:12} {step.seconds:6.1f} s  {step.name}")
        done = f"{len(self.info.results)}/{len(self.info.submitted)} calls"
        self.echo(f"demo finished in {self.info.seconds:.0f} s: {done}")
        if self.info.report:
            self.echo(f"report: {self.info.report}")

    def _cleanup(self) -> str:
        said = []
        if self._worker is not None:
            said.append(stop_process(self._worker))
            self._worker = None
        before = self._stack_before
        if before is not None:
            if not before["kafka"]["answers"]:
                said.append(stack.stop_kafka(self.settings))
            if not before["redis"]["answers"]:
                said.append(stack.stop_redis(self.settings))
        return "; ".join(said) or "nothing to stop"


class _Unavailable(Exception):
    """A step whose package has not landed yet."""


def _load_json(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data


def _truth_line(result: dict[str, Any], truth: dict[str, Any]) -> str:
    roles = tables.truth_roles(result, truth)
    right = sum(1 for s in result["speakers"] if roles.get(str(s["speaker"])) == s["role"])
    talk = ", ".join(
        f"{info['role']} {spk} {float(info['talk_time_s']):.1f} s"
        for spk, info in sorted(truth["speakers"].items(), key=lambda kv: kv[1]["role"] != "agent")
    )
    same = "same-gender, " if truth.get("same_gender") else ""
    return (
        f"truth ({same}{truth.get('channels', 1)} ch): {talk}; "
        f"roles right for {right}/{len(result['speakers'])} speakers"
    )
