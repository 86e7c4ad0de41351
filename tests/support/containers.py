"""The worker image for end-to-end tests: built with ``deploy/image.sh`` (which starts Docker,
installing Debian's engine where none is there), workers run as containers on the host's network
against a local stack.

A container worker is ready when its ``/ready`` page answers 200 and the broker lists its client
id in the consumer group, Stable (never read from log lines).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from callroles.base.settings import PROJECT_ROOT
from callroles.lab.settings import StackSettings
from tests.support.ports import free_port
from tests.support.workers import group_members

IMAGE_SCRIPT = PROJECT_ROOT / "deploy" / "image.sh"


def docker(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the docker client; a failure fails the test with its output."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"docker {' '.join(args[:3])} ... failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def build_image(tag: str, *options: str, timeout: float = 2400) -> float:
    """``deploy/image.sh build TAG OPTIONS``; the seconds it took. Fails the test (never skips)
    when Docker cannot be installed or started, or the build fails."""
    t0 = time.monotonic()
    proc = subprocess.run(
        [str(IMAGE_SCRIPT), "build", tag, *options],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT_ROOT,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"deploy/image.sh build {tag} {' '.join(options)} failed:\n{proc.stderr[-6000:]}"
        )
    return time.monotonic() - t0


def release_image(tag: str) -> None:
    """Remove ``tag`` and BuildKit's cache (pip's wheels, the stages' layers): a build leaves
    several GB that the rest of a run, on a disk that may be shared, needs more."""
    docker("rmi", "-f", tag, check=False, timeout=300)
    docker("builder", "prune", "-af", check=False, timeout=600)


def http_get(url: str, timeout: float = 3.0) -> tuple[int | None, str]:
    """(status, body) of GET ``url``; (None, reason) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return None, str(exc)


def container_env(settings: StackSettings, **extra: str) -> dict[str, str]:
    """A worker's CALLROLES_* settings for the local stack, as a deployment sets them."""
    return {
        "CALLROLES_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
        "CALLROLES_REDIS_URL": settings.redis_dsn,
        "CALLROLES_TOPIC_PREFIX": settings.topic_prefix,
        "CALLROLES_PARTITIONS": str(settings.partitions),
        "CALLROLES_ALLOWED_ROOTS": '["/recordings"]',
        **extra,
    }


class WorkerContainer:
    """One ``callroles worker`` (or other ``command``) container on the host's network (its own
    web port and client id), recordings mounted read-only at /recordings."""

    def __init__(
        self,
        image: str,
        settings: StackSettings,
        name: str,
        recordings: Path,
        command: str = "worker",
        **env: str,
    ) -> None:
        self.image = image
        self.command = command
        self.settings = settings
        self.name = f"callroles-test-{name}-{uuid.uuid4().hex[:6]}"
        self.worker_id = name
        self.port = free_port()
        self.client_id = f"callroles-{name}"
        self.env = container_env(
            settings,
            CALLROLES_WORKER_ID=name,
            CALLROLES_WORKER_WEB_HOST="127.0.0.1",
            CALLROLES_WORKER_WEB_PORT=str(self.port),
            CALLROLES_KAFKA_CLIENT_ID=self.client_id,
            **env,
        )
        self.recordings = recordings
        self.started_at = 0.0

    def start(self) -> None:
        args = ["run", "-d", "--name", self.name, "--network", "host"]
        args += ["-v", f"{self.recordings}:/recordings:ro"]
        for key, value in self.env.items():
            args += ["-e", f"{key}={value}"]
        self.started_at = time.monotonic()
        docker(*args, self.image, self.command)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def running(self) -> bool:
        proc = docker("inspect", "-f", "{{.State.Running}}", self.name, check=False)
        return proc.stdout.strip() == "true"

    def logs(self) -> str:
        proc = docker("logs", self.name, check=False)
        return proc.stdout + proc.stderr

    def wait_ready(self, timeout: float = 180) -> tuple[float, dict[str, Any]]:
        """Seconds from ``docker run`` to ready, and the ``/ready`` page then."""
        deadline = time.monotonic() + timeout
        status, body, members, state = None, "", [], "unknown"
        while time.monotonic() < deadline:
            if not self.running():
                pytest.fail(f"container {self.name} exited:\n{self.logs()[-4000:]}")
            status, body = http_get(self.url("/ready"))
            if status == 200:
                state, members = group_members(self.settings)
                if state == "Stable" and self.client_id in members:
                    return time.monotonic() - self.started_at, json.loads(body)
            time.sleep(0.25)
        pytest.fail(
            f"{self.name} not ready in {timeout:.0f} s (/ready {status} {body}, group {state} "
            f"{members}):\n{self.logs()[-4000:]}"
        )

    def metric(self, name: str) -> float:
        """The sum of a Prometheus metric's samples on the worker's /metrics page."""
        status, text = http_get(self.url("/metrics"))
        assert status == 200, text
        lines = [x for x in text.splitlines() if x.startswith(name) and not x.startswith("#")]
        return sum(float(x.rsplit(" ", 1)[1]) for x in lines)

    def post(self, path: str, body: dict[str, Any], port: int) -> tuple[int, dict[str, Any]]:
        """POST JSON to the container's ``port`` on the host network: (status, JSON answer)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return int(resp.status), json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def rss_mb(self, field: str = "VmHWM") -> float:
        """PID 1's resident memory in MiB: its peak (VmHWM) by default, or now (VmRSS). What a
        pod's memory request and limit are set from (deploy/README.md)."""
        status = docker("exec", self.name, "cat", "/proc/1/status").stdout
        line = next(x for x in status.splitlines() if x.startswith(f"{field}:"))
        return int(line.split()[1]) / 1024

    def terminate(self, timeout: float = 120) -> tuple[int, float]:
        """SIGTERM, as ``docker stop`` and Kubernetes send; (exit code, seconds to exit)."""
        t0 = time.monotonic()
        docker("kill", "--signal", "TERM", self.name)
        code = docker("wait", self.name, timeout=timeout).stdout.strip()
        return int(code), time.monotonic() - t0

    def remove(self) -> None:
        docker("rm", "-f", self.name, check=False)
