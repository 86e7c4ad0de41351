"""``callroles worker`` subprocesses for end-to-end tests.

Each worker gets a free web port (``CALLROLES_WORKER_WEB_PORT``), an id ``w<n>`` (or the names
given), a Kafka client id of its own and a log file it appends to across restarts. A worker is
ready when its process is alive, its Faust web server answers ``GET /metrics``, and the broker
lists it in the consumer group ``<topic_prefix>callroles-worker``, whose members are exactly
the live workers and whose state is Stable (one generation, partitions assigned). Readiness is
never read from log lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from callroles.lab.settings import StackSettings
from callroles.streaming.clients import kafka_kwargs
from tests.support.ports import free_port


def stack_env(settings: StackSettings, **extra: str) -> dict[str, str]:
    """This process's environment pointed at a local stack: its ports, topic prefix and
    partitions, without variables that would send a worker elsewhere; plus ``extra``."""
    env = {
        **os.environ,
        "CALLROLES_KAFKA_PORT": str(settings.kafka_port),
        "CALLROLES_REDIS_PORT": str(settings.redis_port),
        "CALLROLES_TOPIC_PREFIX": settings.topic_prefix,
        "CALLROLES_PARTITIONS": str(settings.partitions),
    }
    for key in ("CALLROLES_KAFKA_BOOTSTRAP", "CALLROLES_REDIS_URL", "CALLROLES_SETTINGS_FILE"):
        env.pop(key, None)
    env.update(extra)
    return env


def group_id(settings: StackSettings) -> str:
    """The workers' consumer group (Faust's app id, see ``streaming/app.py``)."""
    return f"{settings.topic_prefix}callroles-worker"


def group_members(settings: StackSettings, timeout: float = 10.0) -> tuple[str, list[str]]:
    """(state, member client ids) of the workers' consumer group, as the broker reports them;
    ("unknown", []) when the broker does not answer."""

    group = group_id(settings)

    async def describe() -> tuple[str, list[str]]:
        admin = AIOKafkaAdminClient(
            **{**kafka_kwargs(settings), "client_id": "callroles-tests-probe"},
            request_timeout_ms=int(timeout * 1000),
        )
        try:
            await asyncio.wait_for(admin.start(), timeout)
            responses = await asyncio.wait_for(admin.describe_consumer_groups([group]), timeout)
        finally:
            with contextlib.suppress(Exception):
                await admin.close()
        for response in responses:
            for desc in response.to_object()["groups"]:
                if desc["group"] == group and desc["error_code"] == 0:
                    return desc["state"], [m["client_id"] for m in desc["members"]]
        return "unknown", []

    try:
        return asyncio.run(describe())
    except Exception:  # the broker is starting, restarting or unreachable: not ready
        return "unknown", []


class Workers:
    """A group of ``callroles worker`` processes on one stack (start, kill -9, stop, logs).

    ``settings`` tells where the broker is and the topic prefix (hence the consumer group);
    ``env`` is the workers' environment (see :func:`stack_env`); logs go to ``logs_dir``.
    """

    def __init__(
        self,
        settings: StackSettings,
        env: dict[str, str],
        logs_dir: Path,
        count: int = 2,
        *,
        names: Sequence[str] | None = None,
    ) -> None:
        self.settings = settings
        self.env = env
        self.names = list(names) if names is not None else [f"w{n}" for n in range(count)]
        self.ports = [free_port() for _ in self.names]
        self.logs = [logs_dir / f"worker{n}.log" for n in range(len(self.names))]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * len(self.names)
        base = env.get("CALLROLES_KAFKA_CLIENT_ID", settings.kafka_client_id)
        # one client id per worker, so the group's members can be told apart on the broker
        self.client_ids = [f"{base}-{name}" for name in self.names]

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, n: int) -> None:
        """Start worker ``n`` (again, after a kill: same id, web port and log file)."""
        env = {
            **self.env,
            "CALLROLES_WORKER_ID": self.names[n],
            "CALLROLES_WORKER_WEB_PORT": str(self.ports[n]),
            "CALLROLES_KAFKA_CLIENT_ID": self.client_ids[n],
        }
        with self.logs[n].open("ab") as log:
            self.procs[n] = subprocess.Popen(
                [sys.executable, "-m", "callroles", "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def kill(self, n: int) -> None:
        """SIGKILL worker ``n``: no goodbye to the group, no lease release."""
        proc = self.procs[n]
        assert proc is not None, f"worker {n} was never started"
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    kill9 = kill

    def alive(self) -> list[bool]:
        return [p is not None and p.poll() is None for p in self.procs]

    def stop(self, n: int | None = None, grace_s: float = 30.0) -> None:
        """SIGTERM worker ``n`` (default: every live worker), wait up to ``grace_s`` each,
        SIGKILL what is left (its ``returncode`` is then -9)."""
        chosen = self.procs if n is None else [self.procs[n]]
        for p in chosen:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in chosen:
            if p is None:
                continue
            try:
                p.wait(grace_s)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def text(self, n: int) -> str:
        """Worker ``n``'s log so far (every start appended)."""
        try:
            return self.logs[n].read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def web_answers(self, n: int) -> bool:
        """True when worker ``n``'s Faust web server answers GET /metrics with 200."""
        url = f"http://127.0.0.1:{self.ports[n]}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def wait_ready(self, which: Iterable[int] | None = None, timeout: float = 240) -> None:
        """Wait until the named workers (default: all started) answer on their web port and the
        consumer group is Stable with exactly the live workers as members; fail the test if a
        named worker exits or ``timeout`` passes."""
        chosen = (
            [n for n, p in enumerate(self.procs) if p is not None] if which is None else list(which)
        )
        deadline = time.monotonic() + timeout
        state, web = "unknown", [False] * len(chosen)
        members: list[str] = []
        while time.monotonic() < deadline:
            for n in chosen:
                p = self.procs[n]
                if p is None or p.poll() is not None:
                    code = None if p is None else p.returncode
                    pytest.fail(f"worker {n} is not running ({code}):\n{self.text(n)[-3000:]}")
            web = [self.web_answers(n) for n in chosen]
            if all(web):
                state, members = group_members(self.settings)
                live = [cid for cid, up in zip(self.client_ids, self.alive(), strict=True) if up]
                if state == "Stable" and Counter(members) == Counter(live):
                    return
            time.sleep(1)
        tails = "\n".join(f"--- worker {n}\n{self.text(n)[-2000:]}" for n in chosen)
        pytest.fail(
            f"workers {chosen} not ready in {timeout:.0f} s (web answers {web}, group "
            f"{group_id(self.settings)} {state} with members {members}):\n{tails}"
        )
