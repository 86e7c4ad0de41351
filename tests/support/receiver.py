"""A webhook receiver on 127.0.0.1 in a background thread, for the webhook suites.

It answers each POST with the next of its scripted answers (a status code, or ``"hang"``: no
answer for ``hang_s`` seconds, past any webhook timeout), the last one again for every request
after, and records every request (headers, raw body, the status it got). ``port`` lets a test
start it where a delivery already failed to connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from aiohttp import web

from tests.support.ports import free_port


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int | None  # None: left hanging


class Receiver:
    """See the module docstring; ``url`` is where to point ``CALLROLES_WEBHOOK_URL``."""

    def __init__(self, answers: Sequence[int | str], port: int, hang_s: float) -> None:
        self.answers = list(answers)
        self.port = port
        self.hang_s = hang_s
        self.url = f"http://127.0.0.1:{port}/hook"
        self._lock = threading.Lock()
        self._received: list[Received] = []

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.received if r.status is not None and 200 <= r.status < 300]

    def _next(self) -> int | str:
        with self._lock:
            n = len(self._received)
        return self.answers[min(n, len(self.answers) - 1)]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        answer = self._next()
        status = None if answer == "hang" else int(answer)
        with self._lock:
            self._received.append(Received(dict(request.headers), body, status))
        if status is None:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await asyncio.sleep(self.hang_s)
            return web.Response(status=200)
        return web.Response(status=status, text="ok" if status < 300 else "no")


async def _stop(runner: web.AppRunner) -> None:
    """Close the server, then end the requests still hanging."""
    await runner.cleanup()
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.contextmanager
def receiving(
    answers: Sequence[int | str], *, port: int | None = None, hang_s: float = 30.0
) -> Iterator[Receiver]:
    """A running :class:`Receiver`; stopped afterwards."""
    receiver = Receiver(answers, port or free_port(), hang_s)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    ready = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", receiver.port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=main, name="webhook-receiver", daemon=True)
    thread.start()
    assert ready.wait(10), "the receiver did not start"
    try:
        yield receiver
    finally:
        with contextlib.suppress(TimeoutError):
            asyncio.run_coroutine_threadsafe(_stop(runner), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
