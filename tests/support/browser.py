"""Headless Chromium driven over the DevTools protocol (aiohttp speaks its websocket): open a
tab, load a page, run JavaScript in it, click, take a screenshot. Every uncaught exception in a
page is kept in ``errors``, so a test can say the page ran cleanly."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Tab:
    """One page target."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.errors: list[str] = []
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.waiting:
                self.waiting.pop(data["id"]).set_result(data)
            elif data.get("method") == "Runtime.exceptionThrown":
                self.errors.append(json.dumps(data["params"]["exceptionDetails"])[:500])

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        n = next(self.ids)
        self.waiting[n] = asyncio.get_running_loop().create_future()
        await self.ws.send_json({"id": n, "method": method, "params": params})
        data = await asyncio.wait_for(self.waiting[n], 30)
        if "error" in data:
            raise RuntimeError(f"{method}: {data['error']}")
        return dict(data.get("result") or {})

    async def eval(self, expression: str) -> Any:
        """The value of ``expression`` in the page (a promise is awaited)."""
        got = await self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                              awaitPromise=True)  # fmt: skip
        if "exceptionDetails" in got:
            raise RuntimeError(f"{expression}: {got['exceptionDetails']}")
        return got["result"].get("value")

    async def until(self, expression: str, timeout_s: float = 20) -> Any:
        """Wait until ``expression`` is truthy in the page; its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                value = await self.eval(expression)
            except RuntimeError:
                value = None  # the page is between two documents
            if value:
                return value
            if time.monotonic() > deadline:
                where = await self.eval(
                    "location.href + ' ' + document.body.innerText.slice(0, 300)"
                )
                raise AssertionError(f"not true in {timeout_s} s: {expression} (at {where})")
            await asyncio.sleep(0.2)

    async def goto(self, url: str) -> None:
        """Load ``url`` and wait until its document is complete."""
        await self.send("Page.navigate", url=url)
        await asyncio.sleep(0.2)
        await self.until("document.readyState === 'complete' && location.href !== 'about:blank'")

    async def click(self, selector: str) -> None:
        await self.eval(f"document.querySelector({json.dumps(selector)}).click()")

    async def screenshot(self, path: Path, width: int = 1200, height: int = 800) -> None:
        await self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                        deviceScaleFactor=1, mobile=False)  # fmt: skip
        got = await self.send("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(got["data"]))


class Browser:
    """A headless Chromium process with its own profile; ``tab()`` opens a page."""

    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.proc: subprocess.Popen[bytes] | None = None
        self.session: aiohttp.ClientSession | None = None
        self.port = 0

    async def __aenter__(self) -> Browser:
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--autoplay-policy=no-user-gesture-required", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        active = self.profile / "DevToolsActivePort"
        for _ in range(300):
            if active.is_file() and active.read_text().strip():
                break
            await asyncio.sleep(0.1)
        self.port = int(active.read_text().split()[0])
        self.session = aiohttp.ClientSession()
        return self

    async def tab(self) -> Tab:
        assert self.session is not None
        async with self.session.put(f"http://127.0.0.1:{self.port}/json/new?about:blank") as r:
            target = await r.json()
        ws = await self.session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        tab = Tab(ws)
        await tab.send("Runtime.enable")
        await tab.send("Page.enable")
        return tab

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
