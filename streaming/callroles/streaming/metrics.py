"""Prometheus metrics of a worker, served on its web port at ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

CALLS_DONE = Counter("callroles_calls_done_total", "Calls with a result event", registry=REGISTRY)
CALLS_FAILED = Counter(
    "callroles_calls_failed_total",
    "Calls that ended in an error event, by stage and reason code",
    ["stage", "code"],
    registry=REGISTRY,
)
CALL_RETRIES = Counter(
    "callroles_call_retries_total",
    "Calls tried again in-process after an infrastructure error, by stage",
    ["stage"],
    registry=REGISTRY,
)
DUPLICATES = Counter(
    "callroles_duplicates_total",
    "Events skipped because the call was already done or in progress elsewhere",
    ["why"],
    registry=REGISTRY,
)
REVISIONS = Counter(
    "callroles_revisions_total",
    "Earlier calls decided again once their agent's print was learnt: asked for, published",
    ["what"],
    registry=REGISTRY,
)
CORRECTIONS = Counter(
    "callroles_corrections_total",
    "Corrections of a call's roles by a person: asked for, undone",
    ["what"],
    registry=REGISTRY,
)
STAGE_SECONDS = Histogram(
    "callroles_stage_seconds",
    "Processing time per stage",
    ["stage"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 20, 40, 80, 160, 320, 640),
    registry=REGISTRY,
)
WINDOWS_SCORED = Counter(
    "callroles_windows_scored_total", "Windows scored by the CRNN", registry=REGISTRY
)
WINDOWS_PER_SECOND = Gauge(
    "callroles_windows_per_second",
    "Scoring speed of the last call (windows per second)",
    registry=REGISTRY,
)
MODEL_INFO = Gauge(
    "callroles_model_info",
    "The role model this worker scores with (value 1; its name, version and provider as labels)",
    ["name", "version", "provider"],
    registry=REGISTRY,
)
ROLLOUTS = Counter(
    "callroles_model_rollouts_total",
    "Model reloads on SIGHUP, by outcome (done, or refused: the old model keeps serving)",
    ["outcome"],
    registry=REGISTRY,
)
IN_FLIGHT = Gauge("callroles_calls_in_flight", "Calls being processed", registry=REGISTRY)
CONSUMER_LAG = Gauge(
    "callroles_consumer_lag",
    "Events not yet committed, per assigned partition",
    ["topic", "partition"],
    registry=REGISTRY,
)

WEBHOOK_QUEUED = Counter(
    "callroles_webhook_queued_total",
    "Results a worker put in the webhook outbox (each delivered at least once, or dead-lettered)",
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "callroles_webhook_deliveries_total",
    "Webhook tries by outcome: delivered (2xx), retried (a failed try, another is scheduled), "
    "dead_lettered (the last try failed; kept in Redis, listed by GET /webhook/dead-letters)",
    ["outcome"],
    registry=REGISTRY,
)
WEBHOOK_FAILURES = Counter(
    "callroles_webhook_failures_total",
    "Failed webhook tries by reason (timeout, connection, http_3xx, http_4xx, http_5xx)",
    ["reason"],
    registry=REGISTRY,
)
WEBHOOK_OUTBOX = Gauge(
    "callroles_webhook_outbox",
    "Webhook deliveries in Redis: queued (waiting or in flight) and dead (dead letters)",
    ["state"],
    registry=REGISTRY,
)


def exposition() -> bytes:
    """The text exposition format of every metric above."""
    return generate_latest(REGISTRY)
