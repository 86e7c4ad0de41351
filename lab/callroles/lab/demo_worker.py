"""The demo's worker process: how to start it, where it may read, how to stop it.

The demo runs the real ``callroles worker`` as a child process on the demo's own stack, exactly
as a user would; these helpers keep that plumbing out of the demo's steps (``demo.py``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from callroles.lab.settings import StackSettings
from callroles.models.shipped import ROLE_MODEL as DEFAULT_MODEL


def available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def worker_command() -> list[str]:
    """How to start a worker: the ``callroles worker`` command of this interpreter."""
    return [sys.executable, "-m", "callroles", "worker"]


def worker_available() -> str | None:
    """None when ``callroles worker`` exists, else why not."""
    if available("callroles.streaming.cli") and available("callroles.streaming.app"):
        return None
    return "the `callroles worker` command is not installed yet (callroles.streaming.cli)"


def model_missing(settings: StackSettings) -> str | None:
    """None when the worker has a model to load, else why not (the default is built by export)."""
    if settings.model_path is not None:
        return None if Path(settings.model_path).is_file() else f"no model at {settings.model_path}"
    if not DEFAULT_MODEL.is_file():
        return (
            f"the default model {DEFAULT_MODEL} is not there yet "
            "(callroles default-model rebuild builds it)"
        )
    return None


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 20.0) -> str:
    """SIGTERM the worker's process group, then SIGKILL after ``grace_s``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return f"worker stopped (pid {proc.pid}, exit {proc.returncode})"


def settings_env(settings: StackSettings) -> dict[str, str]:
    """The connection settings a worker subprocess needs to reach the same stack."""
    env = {
        "CALLROLES_KAFKA_PORT": str(settings.kafka_port),
        "CALLROLES_REDIS_PORT": str(settings.redis_port),
        "CALLROLES_TOPIC_PREFIX": settings.topic_prefix,
        "CALLROLES_HOME": str(settings.home),
    }
    if settings.kafka_bootstrap:
        env["CALLROLES_KAFKA_BOOTSTRAP"] = settings.kafka_bootstrap
    return env


def free_port() -> int:
    """A free local port for the demo worker's web page (a user's worker may hold 6066)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text("utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
