"""Score windows batched across calls: concurrent calls share ONNX Runtime batches.

Each call awaits ``score(windows)``; requests that arrive within ``max_wait_s`` of each other
are concatenated (up to ``max_windows``) and scored in one executor call, off the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor

import numpy as np

from . import metrics

ScoreFn = Callable[[np.ndarray], np.ndarray]


class ScoreBatcher:
    """An asyncio queue in front of a blocking ``score_fn`` (N, 96, 1000) -> (N, classes)."""

    def __init__(
        self,
        score_fn: ScoreFn,
        executor: Executor,
        *,
        max_windows: int = 64,
        max_wait_s: float = 0.03,
        speaker_fn: ScoreFn | None = None,
    ) -> None:
        self.score_fn = score_fn
        self.speaker_fn = speaker_fn  # trunk-once: one speaker's windows in one run
        self.executor = executor
        self.max_windows = max(1, max_windows)
        self.max_wait_s = max_wait_s
        self._queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future[np.ndarray], str]] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def score(self, windows: np.ndarray, tag: str = "") -> np.ndarray:
        """Class probabilities of ``windows``, scored together with other calls' windows
        (or, with ``speaker_fn``, as one speaker stream with the conv trunk run once)."""
        if self.speaker_fn is not None:
            loop = asyncio.get_running_loop()
            started = time.perf_counter()
            probs = await loop.run_in_executor(self.executor, self.speaker_fn, windows)
            took = time.perf_counter() - started
            metrics.WINDOWS_SCORED.inc(len(windows))
            if took > 0:
                metrics.WINDOWS_PER_SECOND.set(len(windows) / took)
            return probs
        self.start()
        assert self._queue is not None
        chunks = [
            windows[i : i + self.max_windows] for i in range(0, len(windows), self.max_windows)
        ]
        futures = []
        for chunk in chunks:
            fut: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
            await self._queue.put((chunk, fut, tag))
            futures.append(fut)
        parts = await asyncio.gather(*futures)
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)

    def _score_blocking(self, batch: np.ndarray) -> np.ndarray:
        out = [
            self.score_fn(batch[i : i + self.max_windows])
            for i in range(0, len(batch), self.max_windows)
        ]
        return np.concatenate(out)

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            total = len(batch[0][0])
            deadline = loop.time() + self.max_wait_s
            while total < self.max_windows:
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), left)
                except TimeoutError:
                    break
                batch.append(item)
                total += len(item[0])
            try:
                started = time.perf_counter()
                arr = np.concatenate([w for w, _, _ in batch])
                probs = await loop.run_in_executor(self.executor, self._score_blocking, arr)
                took = time.perf_counter() - started
                metrics.WINDOWS_SCORED.inc(total)
                metrics.BATCH_WINDOWS.observe(total)
                metrics.BATCH_CALLS.observe(len({t for _, _, t in batch}))
                if took > 0:
                    metrics.WINDOWS_PER_SECOND.set(total / took)
                at = 0
                for w, fut, _ in batch:
                    if not fut.done():
                        fut.set_result(probs[at : at + len(w)])
                    at += len(w)
            except Exception as exc:  # handed to every waiting call, which emits an error
                for _, fut, _ in batch:
                    if not fut.done():
                        fut.set_exception(exc)
