"""A Redis restart must not fail the next command on a stale pooled connection (F4).

Runs its own throw-away redis-server (the shared test stack is never restarted here): one
command before the restart, one after. A client without retries fails the second one with
``ConnectionError``; ``redis_client`` reconnects and succeeds.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from callroles.base.redis import redis_client
from callroles.lab.settings import StackSettings
from tests.support.ports import free_port

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")


class _Server:
    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir = port, workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[_Server]:
    srv = _Server(free_port(), tmp_path)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


async def _across_restart(client: object, srv: _Server) -> int:
    await client.set("before", "1")  # type: ignore[attr-defined]
    srv.stop()
    srv.start()
    try:
        return int(await client.incr("after"))  # type: ignore[attr-defined]
    finally:
        await client.aclose()  # type: ignore[attr-defined]


def test_plain_client_fails_after_a_restart(server: _Server) -> None:
    """The defect the retry settings fix: the stale connection is reused and fails."""

    plain = aioredis.from_url(f"redis://127.0.0.1:{server.port}/0", decode_responses=True)
    with pytest.raises(RedisConnectionError):
        asyncio.run(_across_restart(plain, server))


def test_redis_client_reconnects_after_a_restart(server: _Server) -> None:
    client = redis_client(StackSettings(redis_port=server.port, redis_url=None), asyncio=True)
    assert asyncio.run(_across_restart(client, server)) == 1
