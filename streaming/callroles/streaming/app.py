"""The Faust worker: one thin agent over the call-finished topic; the logic is in process.py.

Design: a worker runs whole calls in-process (:func:`callroles.call.pipeline.run_call`, in a thread
executor off the event loop, so heartbeats and polling never stall). Windows do not travel over
Kafka: a 10 s window is 96x1000 float32 = 384 kB, so a 5-minute call would put ~100 MB on the
broker to save a step that costs a few percent of the CPU; the unit of scale is the call (events
keyed by call_id, P partitions, N workers in one consumer group). The Redis ledger
(``ledger.py``) makes a replayed or re-run call publish exactly one result per model version.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust

from callroles.agents.store import open_store
from callroles.base.errors import CallrolesError, StackError
from callroles.base.redis import redis_client, redis_where
from callroles.call.pipeline import Models, load_models
from callroles.streaming.settings import StreamingSettings

from . import metrics, probes
from .clients import faust_credentials, key_prefix, worker_id
from .fetch import warn_if_open
from .ledger import Ledger
from .outbox import Outbox
from .process import CallProcessor
from .redact import install as redact_logs
from .topics import all_topics, create_topics

log = logging.getLogger(__name__)


class TopicSink:
    """Publishes to the result and error topics and waits for Kafka's acknowledgement, so a
    call is marked sent only once its result is on the broker; puts a call to revise back on
    the call-finished topic."""

    def __init__(self, results: Any, errors: Any, finished: Any) -> None:
        self.results = results
        self.errors = errors
        self.finished = finished

    @staticmethod
    async def _send(topic: Any, key: str | None, value: dict[str, Any]) -> None:
        fut = await topic.send(
            key=key.encode() if key else None, value=json.dumps(value).encode(), force=True
        )
        await fut

    async def result(self, key: str, event: dict[str, Any]) -> None:
        await self._send(self.results, key, event)

    async def error(self, key: str | None, event: dict[str, Any]) -> None:
        await self._send(self.errors, key, event)

    async def resubmit(self, key: str, event: dict[str, Any]) -> None:
        await self._send(self.finished, key, event)


class Runtime:
    """Models and the executor of one worker; the processor starts on Faust's loop."""

    def __init__(self, settings: StreamingSettings, models: Models) -> None:
        self.settings = settings
        self.models = models
        self.worker = worker_id(settings)
        self.executor = ThreadPoolExecutor(
            max(1, settings.frontend_threads), thread_name_prefix="call"
        )
        self._processor: CallProcessor | None = None
        self._lock: asyncio.Lock | None = None

    async def reload(self) -> bool:
        """Roll out the model now at ``settings.model_path`` (SIGHUP): load and check it off the
        event loop, then hand it to the processor; calls in flight finish with the old one. A
        model that fails its checks is refused with a log line; the old one keeps serving."""
        loop = asyncio.get_running_loop()
        old = self.models.role_model
        try:
            models = await loop.run_in_executor(None, load_models, self.settings)
        except CallrolesError as exc:
            log.error("model rollout refused, still serving %s: [%s] %s", old.model_version,
                      exc.code, exc)  # fmt: skip
            metrics.ROLLOUTS.labels("refused").inc()
            return False
        self.models = models
        if self._processor is not None:
            self._processor.use_models(models)
        new = models.role_model
        metrics.MODEL_INFO.clear()
        metrics.MODEL_INFO.labels(new.model_name, new.model_version, new.provider).set(1)
        metrics.ROLLOUTS.labels("done").inc()
        log.info("model rolled out: %s -> %s (%s)", old.model_version, new.model_version, new.path)
        return True

    async def processor(self, sink: TopicSink) -> CallProcessor:
        """The call processor, created on first use (its Redis client needs the running loop)."""
        if self._processor is not None:
            return self._processor
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self._processor is None:
                redis = redis_client(self.settings, asyncio=True)
                await redis.ping()
                ledger = Ledger(
                    redis, prefix=key_prefix(self.settings), ttl_s=self.settings.redis_ttl_s
                )
                outbox = Outbox(ledger) if self.settings.webhook_url else None
                self._processor = CallProcessor(
                    self.settings,
                    voiceprints=open_store(self.settings),
                    models=self.models,
                    ledger=ledger,
                    executor=self.executor,
                    sink=sink,
                    worker=self.worker,
                    outbox=outbox,
                )
        return self._processor


def build_app(settings: StreamingSettings, runtime: Runtime) -> Any:
    """The Faust app: consumer group per topic prefix, timeouts sized for long calls."""
    names = all_topics(settings)
    brokers = [f"kafka://{b.strip()}" for b in settings.bootstrap_servers.split(",") if b.strip()]
    session = settings.broker_session_timeout_s
    app_id = f"{settings.topic_prefix}callroles-worker"
    datadir = settings.home / "faust" / app_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        # Faust keeps a data folder per app; by default in the current directory, which left
        # "<prefix>callroles-worker-data/" folders in users' checkouts. It belongs with our data.
        datadir=str(datadir),
        broker=brokers,
        broker_credentials=faust_credentials(settings),
        broker_client_id=settings.kafka_client_id,
        store="memory://",
        autodiscover=False,
        web_enabled=True,
        web_host=settings.worker_web_host,
        web_bind=settings.worker_web_host,
        web_port=settings.worker_web_port,
        topic_partitions=settings.partitions,
        # Faust's own topics (the assignor's) replicated like ours; the producer waits for
        # every in-sync replica (acks=all: -1). Idempotence needs Faust's exactly-once mode,
        # marked experimental: results are deduplicated by (call_id, model version) instead.
        topic_replication_factor=settings.replication_factor,
        producer_acks={"all": -1, "1": 1, "0": 0}[settings.kafka_acks],
        consumer_auto_offset_reset="earliest",
        broker_max_poll_interval=settings.broker_max_poll_interval_s,
        broker_session_timeout=session,
        broker_heartbeat_interval=settings.broker_heartbeat_interval_s,
        broker_request_timeout=max(90.0, session + 5),
        broker_rebalance_timeout=max(60.0, session),
        broker_max_poll_records=max(10, settings.worker_concurrency * 2),
        producer_max_request_size=1_000_000,
        stream_processing_timeout=settings.broker_max_poll_interval_s,
        table_cleanup_interval=3600.0,
    )
    raw: dict[str, Any] = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    finished = app.topic(names["call_finished"], **raw)
    results = app.topic(names["call_result"], **raw)
    errors = app.topic(names["call_error"], **raw)
    sink = TopicSink(results, errors, finished)

    @app.agent(finished, concurrency=max(1, settings.worker_concurrency))
    async def calls(stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            source = f"{msg.topic}:{msg.partition}:{msg.offset}"
            # handle() turns every problem with the call into an event; what still raises is
            # the infrastructure (Kafka refusing our output, Redis down). Retry the same event
            # rather than let the offset move past it: processing is idempotent.
            while True:
                try:
                    processor = await runtime.processor(sink)
                    await processor.handle(event.value, source)
                    break
                except Exception:
                    log.exception("event not finished (Kafka or Redis unavailable?); retry in 5 s")
                    await asyncio.sleep(5.0)

    @app.task
    async def reload_on_sighup() -> None:
        """``kill -HUP <worker>`` rolls out the model file again (see Runtime.reload)."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(runtime.reload()))

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(metrics.exposition(), content_type="text/plain")

    probes.install(app, names["call_finished"])  # /live and /ready for an orchestrator

    @app.timer(interval=5.0)
    async def consumer_lag() -> None:
        consumer = app.consumer
        for tp in consumer.assignment():
            try:
                highwater = consumer.highwater(tp)
                committed = consumer._committed_offset.get(tp) or 0  # type: ignore[attr-defined]
            except Exception:  # not fetched yet
                continue
            if highwater is not None:
                metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(
                    max(0, highwater - committed)
                )

    return app


async def _redis_reachable(settings: StreamingSettings) -> None:
    """A worker without its Redis ledger could neither lease nor deduplicate: refuse to start
    (the client's own retries, about 3 s, are the grace a restarting Redis gets)."""
    redis = redis_client(settings, asyncio=True)
    try:
        await redis.ping()
    except Exception as exc:
        raise StackError(
            f"Redis is not reachable at {redis_where(settings)} ({type(exc).__name__}: "
            f"{exc}); the worker needs it for leases and results. Start it (callroles stack "
            "start) or set CALLROLES_REDIS_URL"
        ) from exc
    finally:
        await redis.aclose()


def run_worker(settings: StreamingSettings, *, loglevel: str = "info") -> int:
    """Create topics if missing, load models, then run one worker until stopped."""
    redact_logs()  # phone numbers out of every log line of this process (F3)
    warn_if_open(settings)
    asyncio.run(_redis_reachable(settings))  # refuse to start without the ledger
    created = asyncio.run(create_topics(settings))
    log.info("topics: %s", ", ".join(f"{t} ({s})" for t, s in created.items()))
    models = load_models(settings)  # refuses to start on a missing or unconverted model
    scorer = models.role_model
    log.info(
        "worker %s: model %s %s, classes %s, scoring %s; web http://%s:%d/metrics",
        worker_id(settings),
        scorer.model_name,
        scorer.model_version,
        list(scorer.classes),
        "trunk-once" if scorer.stream_session is not None else "windows",
        settings.worker_web_host,
        settings.worker_web_port,
    )
    metrics.MODEL_INFO.labels(scorer.model_name, scorer.model_version, scorer.provider).set(1)
    app = build_app(settings, Runtime(settings, models))
    worker = faust.Worker(app, loglevel=loglevel, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0
