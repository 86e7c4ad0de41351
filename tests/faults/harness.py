"""The fault harness: its own Kafka+Redis, two ``callroles worker`` processes, short generated
calls, and the per-fault tally (submitted, results, distinct, errors, missing, duplicates).

The fault suite runs its own stack on ports 29292/29293 (Kafka) and 26579 (Redis), so that
restarting a broker or Redis here never disturbs other tests using the shared test stack.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from callroles.settings import PROJECT_ROOT, Settings

RESULTS_FILE = PROJECT_ROOT / "bench" / "results" / "faults.json"
LINES = [
    ("en+m3", "Hello, thank you for calling, this is Mark from support. How can I help?"),
    ("en+f2", "Hi Mark, my internet has been down since this morning and I need it for work."),
    ("en+m3", "I am sorry to hear that. Let me check your line, one moment please."),
    ("en+f2", "Thank you. I already restarted the modem twice and nothing changed."),
]


def fault_settings() -> Settings:
    """Settings of the fault suite's own stack (ports from CALLROLES_FAULT_* if set)."""
    env = os.environ.get
    return Settings(
        kafka_port=int(env("CALLROLES_FAULT_KAFKA_PORT", "29292")),
        kafka_controller_port=int(env("CALLROLES_FAULT_KAFKA_CONTROLLER_PORT", "29293")),
        redis_port=int(env("CALLROLES_FAULT_REDIS_PORT", "26579")),
        kafka_bootstrap=None,
        redis_url=None,
        partitions=2,
    )


def make_calls(out: Path, n: int, tag: str) -> list[Path]:
    """``n`` short two-voice GSM calls (~9 s each; espeak-ng male agent, female customer).

    The lines are rotated per call so the recordings differ.
    """
    out.mkdir(parents=True, exist_ok=True)
    parts = []
    for i, (voice, text) in enumerate(LINES):
        wav = out / f"_line{i}.wav"
        if not wav.exists():
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", "165", "-w", str(wav), text],
                check=True,
                capture_output=True,
            )
        parts.append(wav)
    calls = []
    for k in range(n):
        order = parts[k % 2 :] + parts[: k % 2] if k % 3 else parts
        path = out / f"{tag}-{k:03d}.gsm"
        subprocess.run(
            ["sox", *map(str, order), "-r", "8000", "-c", "1", str(path)],
            check=True,
            capture_output=True,
        )
        calls.append(path)
    return calls


def event(call_id: str, path: Path | str, **extra: Any) -> bytes:
    return json.dumps(
        {"schema_version": 1, "call_id": call_id, "recording_uri": str(path), **extra}
    ).encode()


def submit(settings: Settings, messages: Iterable[tuple[str | None, bytes]]) -> None:
    from callroles.streaming.submit import publish_raw

    asyncio.run(publish_raw(settings, [(k.encode() if k else None, v) for k, v in messages]))


def gather(
    settings: Settings,
    call_ids: set[str],
    timeout_s: float,
    *,
    linger_s: float = 8.0,
    extra: int = 0,
) -> list[tuple[str, dict[str, Any]]]:
    """Every result/error event for ``call_ids`` (plus up to ``extra`` id-less errors), read from
    the start of the topics until each id has an event or ``timeout_s`` passes; then
    ``linger_s`` more seconds, so late duplicates are counted too."""
    from aiokafka import AIOKafkaConsumer

    from callroles.schemas import topic_name
    from callroles.streaming.clients import kafka_kwargs

    topics = {topic_name(k, settings.topic_prefix): k for k in ("call_result", "call_error")}
    got: list[tuple[str, dict[str, Any]]] = []

    async def run() -> None:
        consumer = AIOKafkaConsumer(
            *topics, **kafka_kwargs(settings), group_id=None,
            auto_offset_reset="earliest", enable_auto_commit=False,
        )  # fmt: skip
        await consumer.start()
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        try:
            while loop.time() < end:
                batch = await consumer.getmany(timeout_ms=1000)
                for tp, msgs in batch.items():
                    for msg in msgs:
                        try:
                            ev = json.loads(msg.value or b"")
                        except ValueError:
                            continue
                        cid = ev.get("call_id")
                        if cid in call_ids or cid is None and extra:
                            got.append((topics[tp.topic], ev))
                seen = {e.get("call_id") for _, e in got}
                nulls = sum(1 for _, e in got if e.get("call_id") is None)
                if call_ids <= seen and nulls >= extra:
                    end = min(end, loop.time() + linger_s)
        finally:
            await consumer.stop()

    asyncio.run(run())
    return got


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
    raw_duplicates: int
    note: str = ""


def tally(
    fault: str, call_ids: set[str], got: list[tuple[str, dict[str, Any]]], note: str = ""
) -> Tally:
    """Count results per (call_id, model version): exactly one is required after dedup."""
    results = [e for k, e in got if k == "call_result"]
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
        note=note,
    )


def record(row: Tally) -> None:
    """Merge one fault's row into bench/results/faults.json and print the table."""
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    try:
        rows = json.loads(RESULTS_FILE.read_text())["faults"]
    except (OSError, ValueError, KeyError):
        rows = []
    rows = [r for r in rows if r["fault"] != row.fault] + [asdict(row)]
    RESULTS_FILE.write_text(
        json.dumps({"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "machine": "2 cores, shared", "faults": rows}, indent=2) + "\n"
    )  # fmt: skip
    print(format_table(rows))


def format_table(rows: list[dict[str, Any]]) -> str:
    cols = ["fault", "calls_submitted", "result_events", "distinct_call_ids", "error_events",
            "calls_missing", "calls_without_result", "raw_duplicates"]  # fmt: skip
    heads = ["fault", "submitted", "results", "distinct", "errors", "missing", "no result",
             "dups"]  # fmt: skip
    lines = [" | ".join(f"{h:>9}" if i else f"{h:28}" for i, h in enumerate(heads))]
    for r in rows:
        lines.append(" | ".join(
            f"{r.get(c, '')!s:>9}" if i else f"{r[c]:28}" for i, c in enumerate(cols)
        ))  # fmt: skip
    return "\n".join(lines)


class Workers:
    """``callroles worker`` subprocesses w0, w1 (own web ports), logs appended to files."""

    PORTS = (26266, 26267)

    def __init__(self, env: dict[str, str], scratch: Path) -> None:
        self.env = env
        self.logs = [scratch / f"worker{n}.log" for n in range(len(self.PORTS))]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * len(self.PORTS)

    def start(self, n: int) -> None:
        cmd = [sys.executable, "-m", "callroles", "worker", "--web-port", str(self.PORTS[n])]
        with self.logs[n].open("ab") as log:
            self.procs[n] = subprocess.Popen(
                cmd,
                env={**self.env, "CALLROLES_WORKER_ID": f"w{n}"},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def kill9(self, n: int) -> None:
        proc = self.procs[n]
        assert proc is not None
        proc.send_signal(signal.SIGKILL)  # no goodbye to the group, no lease release
        proc.wait()

    def alive(self) -> list[bool]:
        return [p is not None and p.poll() is None for p in self.procs]

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

    def wait_ready(self, which: Iterable[int] = (0, 1), timeout: float = 240) -> None:
        """Each named worker has logged Faust's "Ready" since its latest start."""
        deadline = time.monotonic() + timeout
        which = list(which)
        while time.monotonic() < deadline:
            states = []
            for n in which:
                p = self.procs[n]
                if p is not None and p.poll() is not None:
                    raise RuntimeError(
                        f"worker {n} exited ({p.returncode}):\n{self.text(n)[-3000:]}"
                    )
                text = self.text(n)
                last = text.rfind("Worker]: Starting")
                states.append("Worker]: Ready" in text[max(0, last) :])
            if all(states):
                time.sleep(2)
                return
            time.sleep(1)
        raise RuntimeError("workers not ready:\n" + "\n".join(self.text(n)[-2000:] for n in which))


def untrained_model() -> Path:
    """An untrained CRNN exported to ONNX once and cached under <home>/test-cache: fault and
    security tests count events and check integrity, they do not judge roles."""
    cached = Settings().home / "test-cache" / "faults-untrained-crnn.onnx"
    if cached.is_file():
        return cached
    import keras
    import numpy as np

    from callroles.audio.features import DEFAULT_SPEC
    from callroles.export.metadata import ModelMetadata
    from callroles.export.onnx_export import export_model
    from callroles.export.runs import windows_from_audio
    from callroles.training.model import build_crnn

    keras.utils.set_random_seed(7)
    model = build_crnn(2, "gru")
    windows = windows_from_audio(PROJECT_ROOT / "tests/data/reference/lamartine.wav", limit=4)
    meta = ModelMetadata(
        feature_spec=DEFAULT_SPEC.to_dict(),
        classes=("customer", "agent"),
        rnn="gru",
        param_count=int(model.count_params()),
        model_name="untrained-fault-crnn",
    )
    tmp = cached.with_suffix(".partial.onnx")
    export_model(model, tmp, meta, windows, labels=np.zeros(len(windows), dtype=int))
    tmp.rename(cached)
    return cached
