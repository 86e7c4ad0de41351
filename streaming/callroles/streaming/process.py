"""What streaming adds to a call: validation, the Redis ledger, retries and publishing.

For each raw call-finished message: validate it (``ingest``) -> if this model version already has a
result, answer the re-submission (below) -> take the call's lease (renewed while working; a dead
worker's lease expires and the call is picked up again) -> fetch the recording ->
:func:`callroles.call.pipeline.run_call` in an executor, off the event loop -> claim the result in
the ledger -> publish it -> mark it sent. A problem with the call itself (bad event, bad audio)
becomes one error event at once; an unexpected failure (Redis or Kafka lost, a bug) is retried
in-process with backoff, and only the last try's failure becomes an error event. If even the error
event cannot be published, :meth:`CallProcessor.handle` raises, so the offset is not committed and
Kafka redelivers.

What a result copies from its event passes ``privacy.py`` first (no phone numbers). A published
result also goes to the webhook outbox when one is set (``outbox.py``: one Redis write, before
the result is marked sent, so a crash in between queues it again rather than never), and a
published error event is kept in the ledger as the call's latest outcome (``GET /calls/{id}``).

A call id submitted again after its result was published (a client that missed the answer, a
demo run twice) gets the stored result published again, marked ``replay``, when the recording
is the same (SHA-256); a different recording under the same id is refused as
``call_id_conflict`` unless the event says ``reprocess: true``, which computes it afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import time
from concurrent.futures import Executor
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from callroles.agents.store import VoiceprintStore
from callroles.base.errors import CallrolesError, InputError
from callroles.call.pipeline import CallFailure, Models, run_call
from callroles.schemas import is_call_id, utc_now, validate
from callroles.streaming.settings import StreamingSettings

from . import metrics
from .corrections import settled
from .fetch import fetch
from .ingest import error_event, parse_event
from .ledger import Ledger
from .outbox import Outbox
from .privacy import for_error, for_result
from .revise import ask_revisions, next_revision

log = logging.getLogger(__name__)

CLAIM_TTL_S = 60  # a claim not confirmed as sent within this is free again


class CallIdConflictError(InputError):
    """The call id already has a result for this model version from another recording."""

    code = "call_id_conflict"


def recording_sha256(source: Path | bytes) -> str:
    """SHA-256 of a fetched recording (a local path is read in 1 MiB blocks)."""
    if isinstance(source, bytes):
        return hashlib.sha256(source).hexdigest()
    digest = hashlib.sha256()
    with source.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Sink(Protocol):
    """Where events go: the worker publishes to Kafka and waits for the acknowledgement."""

    async def result(self, key: str, event: dict[str, Any]) -> None: ...

    async def error(self, key: str | None, event: dict[str, Any]) -> None: ...

    async def resubmit(self, key: str, event: dict[str, Any]) -> None: ...


class CallProcessor:
    """Turns raw call-finished messages into result or error events (see module docstring)."""

    def __init__(
        self,
        settings: StreamingSettings,
        *,
        models: Models,
        ledger: Ledger,
        executor: Executor,
        sink: Sink,
        worker: str,
        voiceprints: VoiceprintStore | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self.settings = settings
        self.models = models
        self.ledger = ledger
        self.executor = executor
        self.sink = sink
        self.worker = worker
        self.voiceprints = voiceprints  # agents' voices (the call event names its agent_id)
        self.outbox = outbox  # results to push to a webhook (serve delivers them), when set
        self._in_flight: set[str] = set()  # calls this process works on now

    @property
    def model_version(self) -> str:
        return self.models.model_version

    def use_models(self, models: Models) -> None:
        """Roll out another model version: calls that start from now on use it; calls in
        flight finish, and publish, with the version they started with."""
        self.models = models

    async def handle(self, raw: bytes | str | dict[str, Any], source: str | None = None) -> str:
        """Process one message; returns done, replay, duplicate or error.

        ``source`` is where the message sits (``topic:partition:offset``): Kafka redelivering
        the message a result was computed for is a duplicate; the same call id in another
        message is a re-submission, answered with the stored result.
        Raises only when an error event itself cannot be published (the broker is gone).
        """
        metrics.IN_FLIGHT.inc()
        try:
            return await self._handle(raw, source)
        finally:
            metrics.IN_FLIGHT.dec()

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
            await self.sink.error(event["call_id"], event)
        except Exception:  # the broker is gone: the worker stops committing, Kafka replays
            log.exception("could not send the error event of %s", event["call_id"])
            raise
        await self._keep_error(event)
        return "error"

    async def _keep_error(self, event: dict[str, Any]) -> None:
        """The published error event is the call's latest outcome (GET /calls/{id}), kept
        without the caller's number; losing that copy is not worth a second error event, so a
        Redis failure here is only logged."""
        call_id = event.get("call_id")
        if not isinstance(call_id, str) or not is_call_id(call_id):
            return  # no id a client could ask about
        try:
            await self.ledger.record_error(call_id, for_error(event, self.settings))
        except Exception as exc:
            log.warning("call %s: error event not kept in the ledger (%s)", call_id, exc)

    async def _queue_webhook(self, call_id: str, version: str, result: dict[str, Any]) -> None:
        """Put a published result in the webhook outbox (one Redis write; serve delivers it)."""
        if self.outbox is not None:
            await self.outbox.enqueue(call_id, version, json.dumps(result))
            metrics.WEBHOOK_QUEUED.inc()

    async def _handle(self, raw: bytes | str | dict[str, Any], source: str | None) -> str:
        try:
            event = parse_event(raw, max_bytes=self.settings.max_event_bytes)
        except CallrolesError as exc:
            return await self._fail(raw, exc, 1, "ingest")
        tries = 1 + max(0, self.settings.call_retries)
        for n in range(1, tries + 1):
            outcome = await self._try(event, source)
            if isinstance(outcome, str):
                return outcome
            if outcome.final or n == tries:
                return await self._fail(event, outcome.error, outcome.attempt, outcome.stage)
            delay = min(
                self.settings.call_retry_backoff_cap_s,
                self.settings.call_retry_backoff_s * 2 ** (n - 1),
            )
            metrics.CALL_RETRIES.labels(outcome.stage).inc()
            log.warning(
                "call %s: %s at %s (try %d of %d); retrying in %.1f s: %s",
                event["call_id"],
                type(outcome.error).__name__,
                outcome.stage,
                n,
                tries,
                delay,
                outcome.error,
            )
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last try returns")

    async def _try(self, event: dict[str, Any], source: str | None) -> str | CallFailure:
        """One try of a call: lease, process, release; a failure is returned, not raised."""
        call_id = event["call_id"]
        models = self.models  # one version for the whole call, even if a rollout comes
        version = models.model_version
        attempt = 1
        try:
            attempt = await self.ledger.attempt(call_id)
            reprocess = bool(event.get("reprocess"))
            if not await self._take(call_id, version, reprocess):
                return await self._resubmitted(event, attempt, source, version)
            revision = None
            if reprocess:  # leased: the old result goes, the new one is claimed as usual
                before = await self.ledger.stored(call_id, version)
                revision = next_revision(before.result if before else None)
                await self.ledger.forget(call_id, version)
        except Exception as exc:
            return CallFailure(exc, "aggregate", attempt)
        self._in_flight.add(call_id)
        renewer = asyncio.get_running_loop().create_task(self._renew(call_id))
        try:
            return await self._process(event, attempt, source, models, revision)
        finally:
            self._in_flight.discard(call_id)
            renewer.cancel()
            with contextlib.suppress(Exception):
                await self.ledger.release_lease(call_id, self.worker)

    async def _take(self, call_id: str, version: str, reprocess: bool = False) -> bool:
        """Lease the call; False when it already has a result for this model version (and
        the event does not ask to reprocess it).

        While another holder works on it (a duplicate event, a worker that lost the partition
        in a rebalance, or a dead worker whose lease has not expired yet) wait, never skip:
        skipping would commit the offset and could lose the call.
        """
        ttl = self.settings.lease_ttl_s
        waited = False
        while True:
            state = None if reprocess else await self.ledger.done_state(call_id, version)
            if state == "sent":
                metrics.DUPLICATES.labels("done").inc()
                log.info("call %s already has a result for model %s", call_id, version)
                return False
            # a claim without "sent" is a result being published, or one whose publisher died
            # (its claim expires): wait for either, never skip, or the call could be lost
            if (
                state is None
                and call_id not in self._in_flight
                and await self.ledger.acquire_lease(call_id, self.worker, ttl)
            ):
                return True
            if not waited:
                metrics.DUPLICATES.labels("in_progress").inc()
                log.info("call %s is being processed by another worker: waiting", call_id)
                waited = True
            await asyncio.sleep(min(5.0, max(0.5, ttl / 4)))

    async def _resubmitted(
        self, event: dict[str, Any], attempt: int, source: str | None, version: str
    ) -> str | CallFailure:
        """A call id that already has a result: publish it again when the recording is the
        same, refuse a different one (see the module docstring)."""
        call_id = event["call_id"]
        stored = await self.ledger.stored(call_id, version)
        if stored is None:  # another worker is publishing it right now
            return "duplicate"
        if source and stored.source == source:  # Kafka redelivered the message we answered
            return "duplicate"
        result, sha = stored.result, stored.recording_sha256
        stage = "fetch"
        try:
            recording = await fetch(event["recording_uri"], self.settings)
            loop = asyncio.get_running_loop()
            now = await loop.run_in_executor(self.executor, recording_sha256, recording)
            if sha and now != sha:
                raise CallIdConflictError(
                    f"call {call_id} already has a result for model {version} from "
                    "another recording (different SHA-256); send reprocess: true to replace it"
                )
            stage = "result"
            replay = {**result, "replay": True, "replayed_at": utc_now(), "worker": self.worker}
            await self.sink.result(call_id, replay)
            await self._queue_webhook(call_id, version, replay)
            await self.ledger.replayed(call_id, version)
        except CallIdConflictError as exc:
            return CallFailure(exc, "ingest", attempt)
        except Exception as exc:
            return CallFailure(exc, stage, attempt)
        metrics.DUPLICATES.labels("replayed").inc()
        log.info("call %s: stored result for model %s published again", call_id, version)
        return "replay"

    async def _renew(self, call_id: str) -> None:
        ttl = self.settings.lease_ttl_s
        while True:
            await asyncio.sleep(max(1.0, ttl / 3))
            with contextlib.suppress(Exception):
                await self.ledger.renew_lease(call_id, self.worker, ttl)

    async def _process(
        self,
        event: dict[str, Any],
        attempt: int,
        source: str | None,
        models: Models,
        revision: int | None = None,
    ) -> str | CallFailure:
        call_id = event["call_id"]
        log.info("call %s started (attempt %d): %s", call_id, attempt, event["recording_uri"])
        stage = "fetch"
        try:
            t0 = time.perf_counter()
            recording = await fetch(event["recording_uri"], self.settings)
            fetched = {"fetch": time.perf_counter() - t0}
            loop = asyncio.get_running_loop()
            sha = await loop.run_in_executor(self.executor, recording_sha256, recording)
            run = functools.partial(
                run_call,
                recording,
                for_result(event, self.settings),  # no caller's number in what is published
                models,
                latencies=fetched,
                voiceprints=self.voiceprints,
                worker=self.worker,
            )
            outcome = await loop.run_in_executor(self.executor, run)
            if isinstance(outcome, CallFailure):
                return replace(outcome, attempt=attempt)
            if revision is not None:  # the call computed again: a new revision of its result
                outcome = validate("call_result", {**outcome, "revision": revision})
                metrics.REVISIONS.labels("published").inc()
            stage = "aggregate"
            version = models.model_version
            if not await self.ledger.claim(call_id, version, self.worker, CLAIM_TTL_S):
                metrics.DUPLICATES.labels("claimed").inc()
                return "duplicate"
            stage = "result"
            try:
                await self.sink.result(call_id, outcome)
            except BaseException:
                await self.ledger.unclaim(call_id, version)
                raise
            # queued before marked sent: a crash in between publishes (and queues) it again
            # on redelivery, never loses it (at least once)
            await self._queue_webhook(call_id, version, outcome)
            kept = settled(event)  # a withdrawn correction is not kept with the result
            await self.ledger.mark_sent(call_id, version, outcome, sha, source, kept)
            await ask_revisions(outcome, self.ledger, self.sink, version)
        except Exception as exc:
            return CallFailure(exc, stage, attempt)
        _observe(outcome)
        log.info(
            "call %s done in %.1f s (%d speakers)",
            call_id,
            outcome["latency_s"].get("total", 0.0),
            len(outcome["speakers"]),
        )
        return "done"


def _observe(result: dict[str, Any]) -> None:
    """Prometheus figures of a finished call."""
    latency = result["latency_s"]
    for name, secs in latency.items():  # ours and the front end's stages
        metrics.STAGE_SECONDS.labels(name).observe(secs)
    windows = sum(s["windows"] for s in result["speakers"])
    metrics.WINDOWS_SCORED.inc(windows)
    if latency.get("score", 0.0) > 0:
        metrics.WINDOWS_PER_SECOND.set(windows / latency["score"])
    metrics.CALLS_DONE.inc()
