"""A tiny aiohttp server on 127.0.0.1 in a background thread, for fetch tests and faults.

Routes: ``/files/<name>`` serves a file of the corpus; ``/redirect-out`` redirects to a host
that is not allowed (``localhost``); ``/redirect-in`` redirects to ``/files/one_speaker.gsm``;
``/slow/<name>`` sends the file in small pieces with pauses (finishes); ``/never`` sends a few
bytes and then never finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web

from tests.support.ports import free_port


def _app(files: Path, slow_chunk_s: float) -> web.Application:
    async def serve_file(request: web.Request) -> web.StreamResponse:
        path = (files / request.match_info["name"]).resolve()
        if not path.is_relative_to(files.resolve()) or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    async def redirect_out(request: web.Request) -> web.StreamResponse:
        port = request.url.port
        raise web.HTTPFound(f"http://localhost:{port}/files/one_speaker.gsm")

    async def redirect_in(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/files/one_speaker.gsm")

    async def slow(request: web.Request) -> web.StreamResponse:
        data = (files / request.match_info["name"]).read_bytes()
        resp = web.StreamResponse()
        resp.content_length = len(data)
        await resp.prepare(request)
        step = max(1, len(data) // 8)
        for at in range(0, len(data), step):
            await resp.write(data[at : at + step])
            await asyncio.sleep(slow_chunk_s)
        await resp.write_eof()
        return resp

    async def never(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 1_000_000
        await resp.prepare(request)
        await resp.write(b"\xd0" * 33)
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await asyncio.sleep(30)  # far beyond fetch_timeout_s
        return resp

    app = web.Application()
    app.add_routes([
        web.get("/files/{name}", serve_file),
        web.get("/redirect-out", redirect_out),
        web.get("/redirect-in", redirect_in),
        web.get("/slow/{name}", slow),
        web.get("/never", never),
    ])  # fmt: skip
    return app


@contextlib.contextmanager
def running(files: Path, slow_chunk_s: float = 0.5) -> Iterator[str]:
    """Serve ``files`` on a free port; yields the base URL ``http://127.0.0.1:PORT``."""
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(_app(files, slow_chunk_s))
    ready = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=main, name="fault-http", daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(TimeoutError):
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
