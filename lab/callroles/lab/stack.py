"""The local stack: a real single-node Apache Kafka broker (KRaft) and Redis, on 127.0.0.1.

Kafka comes from Maven Central (``deploy/kafka/pom.xml`` resolved by Maven, run by Java 17),
Redis from Debian's ``redis-server``. All state lives under ``<home>/stack`` (an ignored project
folder). ``start`` is idempotent: a service that already answers on its port is left alone.
A start that fails never leaves a half-started broker behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from aiokafka.admin import AIOKafkaAdminClient

from callroles.base.errors import StackError
from callroles.lab.install import (
    ensure_kafka_jars,
    ensure_redis_server,
    java_cmd,
    kafka_cluster_id,
    kafka_libs_dir,
)
from callroles.lab.settings import StackSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StackPaths:
    """Where the stack keeps its jars, data, logs and pid files."""

    root: Path
    kafka_libs: Path
    kafka_port: int
    redis_port: int

    @property
    def kafka_dir(self) -> Path:
        return self.root / f"kafka-{self.kafka_port}"

    @property
    def kafka_data(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def kafka_config(self) -> Path:
        return self.kafka_dir / "server.properties"

    @property
    def kafka_log(self) -> Path:
        return self.kafka_dir / "kafka.log"

    @property
    def kafka_pid(self) -> Path:
        return self.kafka_dir / "kafka.pid"

    @property
    def redis_dir(self) -> Path:
        return self.root / f"redis-{self.redis_port}"

    @property
    def redis_pid(self) -> Path:
        return self.redis_dir / "redis.pid"

    @property
    def redis_log(self) -> Path:
        return self.redis_dir / "redis.log"


def stack_paths(settings: StackSettings) -> StackPaths:
    """One folder per port, so a test stack and a user's stack never share data."""
    return StackPaths(
        settings.home / "stack", kafka_libs_dir(settings), settings.kafka_port, settings.redis_port
    )


# --------------------------------------------------------------------------- probes


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def _pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    # a zombie child of ours is not alive
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        if state == "Z":
            return None
    return pid


def redis_ping(port: int) -> bool:
    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def kafka_ready(bootstrap: str, timeout: float = 5.0, **client: Any) -> bool:
    """True when the broker answers a metadata request (not just an open port).

    ``client`` goes to aiokafka's admin client (security protocol, SSL context, SASL ...).
    """

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000), **client
        )
        try:
            await asyncio.wait_for(admin.start(), timeout)
            await asyncio.wait_for(admin.list_topics(), timeout)
            return True
        except Exception:  # any failure means "not ready yet"
            return False
        finally:
            with contextlib.suppress(Exception):
                await admin.close()

    return asyncio.run(probe())


# --------------------------------------------------------------------------- kafka


def _kafka_properties(settings: StackSettings, paths: StackPaths) -> str:
    port, cport = settings.kafka_port, settings.kafka_controller_port
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.bootstrap.servers=127.0.0.1:{cport}",
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        f"log.dirs={paths.kafka_data}",
        f"num.partitions={settings.partitions}",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=8",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=true",
        "message.max.bytes=1048576",
        "log.retention.hours=168",
        "",
    ])  # fmt: skip


def start_kafka(settings: StackSettings, timeout: float = 90.0) -> str:
    paths = stack_paths(settings)
    if _pid_alive(paths.kafka_pid) and kafka_ready(settings.bootstrap_servers):
        return f"kafka already running on 127.0.0.1:{settings.kafka_port}"
    for port in (settings.kafka_port, settings.kafka_controller_port):
        if port_answers(port):
            raise StackError(
                f"port {port} on 127.0.0.1 is taken by another program; choose free ports with "
                "CALLROLES_KAFKA_PORT / CALLROLES_KAFKA_CONTROLLER_PORT, or stop that program."
            )
    libs = ensure_kafka_jars(settings)
    paths.kafka_dir.mkdir(parents=True, exist_ok=True)
    paths.kafka_config.write_text(_kafka_properties(settings, paths))
    if not (paths.kafka_data / "meta.properties").exists():
        shutil.rmtree(paths.kafka_data, ignore_errors=True)
        cluster_id = kafka_cluster_id()
        fmt = java_cmd(
            libs,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(paths.kafka_config),
            "--standalone",
            heap="256m",
        )
        proc = subprocess.run(fmt, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{proc.stdout}{proc.stderr}")
    with paths.kafka_log.open("ab") as out:
        proc_ = subprocess.Popen(
            java_cmd(libs, "kafka.Kafka", str(paths.kafka_config)),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    paths.kafka_pid.write_text(str(proc_.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc_.poll() is not None:
            break
        if port_answers(settings.kafka_port) and kafka_ready(settings.bootstrap_servers):
            return f"kafka started on 127.0.0.1:{settings.kafka_port} (pid {proc_.pid})"
        time.sleep(1.0)
    terminate(proc_.pid)
    paths.kafka_pid.unlink(missing_ok=True)
    tail = "\n".join(paths.kafka_log.read_text(errors="replace").splitlines()[-15:])
    raise StackError(f"Kafka did not become ready within {timeout:.0f} s; its log ends:\n{tail}")


# --------------------------------------------------------------------------- redis


def start_redis(settings: StackSettings, timeout: float = 20.0) -> str:
    paths = stack_paths(settings)
    if _pid_alive(paths.redis_pid) and redis_ping(settings.redis_port):
        return f"redis already running on 127.0.0.1:{settings.redis_port}"
    if port_answers(settings.redis_port):
        raise StackError(
            f"port {settings.redis_port} on 127.0.0.1 is taken by another program; choose a free "
            "port with CALLROLES_REDIS_PORT, or stop that program."
        )
    server = ensure_redis_server()
    paths.redis_dir.mkdir(parents=True, exist_ok=True)
    # Append-only file on: per-call aggregates survive a Redis restart (see docs/reliability).
    cmd = [
        server, "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(settings.redis_port),
        "--dir", str(paths.redis_dir), "--save", "", "--appendonly", "yes",
        "--appendfsync", "everysec", "--pidfile", str(paths.redis_pid),
        "--logfile", str(paths.redis_log), "--protected-mode", "yes",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StackError(f"redis-server failed to start: {proc.stderr or proc.stdout}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if redis_ping(settings.redis_port):
            return f"redis started on 127.0.0.1:{settings.redis_port}"
        time.sleep(0.2)
    stop_redis(settings)
    raise StackError(f"Redis did not answer within {timeout:.0f} s; see {paths.redis_log}")


# --------------------------------------------------------------------------- lifecycle


def terminate(pid: int, grace: float = 20.0, *, group: bool = True) -> None:
    """SIGTERM (the process group, or the process alone), wait, then SIGKILL."""
    kill = os.killpg if group else os.kill
    with contextlib.suppress(ProcessLookupError, PermissionError):
        kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        kill(pid, signal.SIGKILL)


def stop_kafka(settings: StackSettings) -> str:
    paths = stack_paths(settings)
    pid = _pid_alive(paths.kafka_pid)
    paths.kafka_pid.unlink(missing_ok=True)
    if pid is None:
        return "kafka not running"
    terminate(pid)
    return f"kafka stopped (pid {pid})"


def stop_redis(settings: StackSettings) -> str:
    paths = stack_paths(settings)
    pid = _pid_alive(paths.redis_pid)
    if pid is None:
        return "redis not running"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _pid_alive(paths.redis_pid):
        time.sleep(0.1)
    return f"redis stopped (pid {pid})"


def start(settings: StackSettings) -> list[str]:
    """Start Redis and Kafka (installing what is missing) and wait until both answer."""
    return [start_redis(settings), start_kafka(settings)]


def stop(settings: StackSettings) -> list[str]:
    return [stop_kafka(settings), stop_redis(settings)]


def status(settings: StackSettings) -> dict[str, dict[str, object]]:
    paths = stack_paths(settings)
    kafka_pid = _pid_alive(paths.kafka_pid)
    redis_pid = _pid_alive(paths.redis_pid)
    return {
        "kafka": {
            "pid": kafka_pid,
            "address": settings.bootstrap_servers,
            "answers": port_answers(settings.kafka_port)
            and kafka_ready(settings.bootstrap_servers),
            "jars": (paths.kafka_libs / ".complete").exists(),
        },
        "redis": {
            "pid": redis_pid,
            "address": f"127.0.0.1:{settings.redis_port}",
            "answers": redis_ping(settings.redis_port),
        },
    }
