"""One call from event to result: the plain, tested logic behind the Faust agent.

Steps: validate -> skip if done (per model version) -> take a lease (SET NX, renewed while
working; a dead worker's lease expires so its call is picked up again) -> fetch -> front end
(executor) -> score (batched across calls) -> idempotent sums in Redis -> claim -> result.
Any failure becomes one error event; nothing raises out of :meth:`CallProcessor.handle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from callroles.errors import CallrolesError
from callroles.settings import Settings

from . import metrics
from .aggregate import Aggregator
from .batching import ScoreBatcher
from .fetch import fetch
from .ingest import error_event, parse_event
from .results import build_result

log = logging.getLogger(__name__)

Send = Callable[[str | None, dict[str, Any]], Awaitable[None]]
ADD_CHUNK = 64  # windows per Redis Lua call


class StageError(CallrolesError):
    """Wraps an unexpected exception with the stage it happened in."""

    code = "internal"


@dataclass(frozen=True)
class _Failure:
    """How one try of a call failed: the exception, the attempt number, the stage."""

    exc: BaseException
    attempt: int
    stage: str


class CallProcessor:
    """Turns raw call-finished messages into result or error events (see module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        frontend: Any,
        scorer: Any,
        aggregator: Aggregator,
        batcher: ScoreBatcher,
        frontend_executor: Executor,
        send_result: Send,
        send_error: Send,
        worker: str,
    ) -> None:
        self.settings = settings
        self.frontend = frontend
        self.scorer = scorer
        self.agg = aggregator
        self.batcher = batcher
        self.frontend_executor = frontend_executor
        self.send_result = send_result
        self.send_error = send_error
        self.worker = worker
        self.model_version = str(scorer.model_version)
        self.classes = [str(c) for c in scorer.classes]
        self._in_flight: set[str] = set()  # calls this process works on now

    async def handle(self, raw: bytes | str | dict[str, Any]) -> str:
        """Process one message; returns done, duplicate, busy or error. Never raises."""
        metrics.IN_FLIGHT.inc()
        try:
            return await self._handle(raw)
        finally:
            metrics.IN_FLIGHT.dec()

    async def _attempt(self, call_id: str) -> int:
        key = f"{self.agg.prefix}{{{call_id}}}:attempts"
        pipe = self.agg.redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, self.settings.redis_ttl_s)
        count, _ = await pipe.execute()
        return int(count)

    async def _fail(self, raw: Any, exc: BaseException, attempt: int, stage: str | None) -> str:
        event = error_event(raw, exc, attempt=attempt, stage=stage, worker=self.worker)
        metrics.CALLS_FAILED.labels(event["stage"], event["code"]).inc()
        log.warning(
            "call %s failed at %s [%s]: %s",
            event["call_id"],
            event["stage"],
            event["code"],
            event["message"],
        )
        try:
            await self.send_error(event["call_id"], event)
        except Exception:  # the broker is gone: the worker stops committing, Kafka replays
            log.exception("could not send the error event of %s", event["call_id"])
            raise
        return "error"

    async def _handle(self, raw: bytes | str | dict[str, Any]) -> str:
        try:
            event = parse_event(raw, max_bytes=self.settings.max_event_bytes)
        except CallrolesError as exc:
            return await self._fail(raw, exc, 1, "ingest")
        # An infrastructure error (anything not a CallrolesError: Redis or Kafka lost, a
        # stale connection) must not end the call: the whole call is retried here with
        # backoff (idempotent: window markers and the claim), and only the last try's
        # failure becomes an error event. Typed errors (bad input, bad audio) end it at once.
        tries = 1 + max(0, self.settings.call_retries)
        for n in range(1, tries + 1):
            outcome = await self._try(event)
            if isinstance(outcome, str):
                return outcome
            final = isinstance(outcome.exc, CallrolesError) and not isinstance(
                outcome.exc,
                StageError,  # windows lost in Redis: scoring again restores them
            )
            if final or n == tries:
                return await self._fail(event, outcome.exc, outcome.attempt, outcome.stage)
            delay = min(
                self.settings.call_retry_backoff_cap_s,
                self.settings.call_retry_backoff_s * 2 ** (n - 1),
            )
            metrics.CALL_RETRIES.labels(outcome.stage).inc()
            log.warning(
                "call %s: %s at %s (try %d of %d); retrying in %.1f s: %s",
                event["call_id"],
                type(outcome.exc).__name__,
                outcome.stage,
                n,
                tries,
                delay,
                outcome.exc,
            )
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last try returns")

    async def _try(self, event: dict[str, Any]) -> str | _Failure:
        """One try of a call: lease, process, release; a failure is returned, not raised."""
        call_id = event["call_id"]
        attempt = 1
        try:
            attempt = await self._attempt(call_id)
            if not await self._take(call_id):
                return "duplicate"
        except Exception as exc:
            return _Failure(exc, attempt, "aggregate")
        self._in_flight.add(call_id)
        renewer = asyncio.get_running_loop().create_task(self._renew(call_id))
        try:
            return await self._process(event, attempt)
        finally:
            self._in_flight.discard(call_id)
            renewer.cancel()
            with contextlib.suppress(Exception):
                await self.agg.release_lease(call_id, self.worker)

    async def _take(self, call_id: str) -> bool:
        """Lease the call; False when it already has a result for this model version.

        While another holder works on it (a duplicate event, a worker that lost the partition
        in a rebalance, or a dead worker whose lease has not expired yet) wait, never skip:
        skipping would commit the offset and could lose the call.
        """
        ttl = self.settings.lease_ttl_s
        waited = False
        while True:
            if await self.agg.already_done(call_id, self.model_version):
                metrics.DUPLICATES.labels("done").inc()
                log.info("call %s already has a result for model %s", call_id, self.model_version)
                return False
            if call_id not in self._in_flight and await self.agg.acquire_lease(
                call_id, self.worker, ttl
            ):
                return True
            if not waited:
                metrics.DUPLICATES.labels("in_progress").inc()
                log.info("call %s is being processed by another worker: waiting", call_id)
                waited = True
            await asyncio.sleep(min(5.0, max(0.5, ttl / 4)))

    async def _renew(self, call_id: str) -> None:
        ttl = self.settings.lease_ttl_s
        while True:
            await asyncio.sleep(max(1.0, ttl / 3))
            with contextlib.suppress(Exception):
                await self.agg.renew_lease(call_id, self.worker, ttl)

    async def _process(self, event: dict[str, Any], attempt: int) -> str | _Failure:
        call_id = event["call_id"]
        log.info("call %s started (attempt %d): %s", call_id, attempt, event["recording_uri"])
        loop = asyncio.get_running_loop()
        latencies: dict[str, float] = {}
        started = time.perf_counter()
        stage = "fetch"
        try:
            source = await fetch(event["recording_uri"], self.settings)
            latencies["fetch"] = time.perf_counter() - started
            stage = "frontend"
            t0 = time.perf_counter()
            process = functools.partial(self.frontend.process, source, layout=event["layout"])
            front = await loop.run_in_executor(self.frontend_executor, process)
            latencies["frontend"] = time.perf_counter() - t0
            stage = "score"
            t0 = time.perf_counter()
            streams = list(front.speakers)
            await self.agg.plan(
                call_id, self.model_version, {str(s.speaker): len(s.windows) for s in streams}
            )
            scored = await asyncio.gather(
                *(self.batcher.score(s.windows, call_id) for s in streams if len(s.windows))
            )
            latencies["score"] = time.perf_counter() - t0
            stage = "aggregate"
            t0 = time.perf_counter()
            with_windows = [s for s in streams if len(s.windows)]
            for stream, probs in zip(with_windows, scored, strict=True):
                for at in range(0, len(probs), ADD_CHUNK):
                    await self.agg.add_windows(
                        call_id,
                        self.model_version,
                        str(stream.speaker),
                        at,
                        np.asarray(probs[at : at + ADD_CHUNK]),
                    )
            claim = await self.agg.claim(call_id, self.model_version, self.worker, 60)
            if claim == 2:
                metrics.DUPLICATES.labels("claimed").inc()
                return "duplicate"
            if claim != 1:
                raise StageError(f"windows of {call_id} missing after scoring (claim={claim})")
            means = await self.agg.means(call_id, self.model_version, len(self.classes))
            latencies["aggregate"] = time.perf_counter() - t0
            stage = "result"
            latencies["total"] = time.perf_counter() - started
            result = build_result(
                call_id, front, means, self.scorer, latencies, event=event, worker=self.worker
            )
            try:
                await self.send_result(call_id, result)
            except BaseException:
                await self.agg.unclaim(call_id, self.model_version)
                raise
            await self.agg.mark_sent(call_id, self.model_version)
        except Exception as exc:
            return _Failure(exc, attempt, stage)
        for name, secs in result["latency_s"].items():  # ours and the front end's stages
            metrics.STAGE_SECONDS.labels(name).observe(secs)
        metrics.CALLS_DONE.inc()
        log.info(
            "call %s done in %.1f s (%d speakers)",
            call_id,
            latencies["total"],
            len(result["speakers"]),
        )
        return "done"
