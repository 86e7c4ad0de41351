"""A worker's settings: the runtime's (``callroles.base.settings``) plus Kafka, the ledger,
ingestion and fetching, from the same ``CALLROLES_*`` variables."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from callroles.base.settings import Settings


class StreamingSettings(Settings):
    """Everything a worker, ``submit``, ``serve``, ``watch`` and ``tail`` read. Immutable."""

    # Kafka (a production deployment sets kafka_bootstrap; the default is the local stack)
    kafka_port: int = 19092
    kafka_bootstrap: str | None = None
    kafka_security_protocol: str = "PLAINTEXT"  # PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
    kafka_sasl_mechanism: str | None = None  # SCRAM-SHA-256, SCRAM-SHA-512, PLAIN
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_keyfile_password: SecretStr | None = None
    kafka_client_id: str = "callroles"

    # Topics are named in schemas/ (with settings.topic_prefix)
    partitions: int = 4
    # Replication of the topics we create: 1 on the single-broker local stack; 3 with
    # min.insync.replicas 2 on a three-broker cluster.
    replication_factor: int = 1
    min_insync_replicas: int | None = None  # topic config; None: the broker's default
    # Our producers (submit, watch, HTTP ingest): acks and idempotence (idempotence needs "all";
    # both are safe on a single broker too)
    kafka_acks: Literal["all", "1", "0"] = "all"
    kafka_idempotence: bool = True

    # Where recordings may be read from. An empty allowed_roots lets a worker read any local path
    # (development only: warned at start); an empty allowed_hosts refuses every http(s) URI.
    allowed_roots: tuple[Path, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    fetch_timeout_s: float = 60.0
    max_event_bytes: int = 64_000  # a larger raw call-finished event is refused (event_too_large)

    # The worker
    worker_id: str | None = None  # default host:web_port
    worker_web_port: int = 6066
    worker_web_host: str = "127.0.0.1"
    worker_concurrency: int = 2  # calls in flight per worker (one fetching while one runs)
    frontend_threads: int = 1  # threads running calls (callroles.call.pipeline.run_call)
    lease_ttl_s: int = 45  # a dead worker's call is picked up again after this
    redis_ttl_s: int = 7 * 86_400  # the ledger's markers and stored results
    call_retries: int = 3  # in-process retries of a call after an infrastructure error
    call_retry_backoff_s: float = 2.0  # doubled per retry, capped below
    call_retry_backoff_cap_s: float = 30.0
    broker_max_poll_interval_s: float = 3600.0  # above the longest call's processing time
    broker_session_timeout_s: float = 45.0
    broker_heartbeat_interval_s: float = 3.0

    # What a result copies from its call-finished event (privacy.py): the metadata keys let
    # through (JSON list; none by default: Asterisk file names put the caller's number in
    # metadata.caller), and the recording URI: "redacted" (digit runs of 6+ hashed), "full", or
    # "none". What passes is scrubbed of digit runs of 6+ either way.
    result_metadata: tuple[str, ...] = ()
    result_recording_uri: Literal["redacted", "full", "none"] = "redacted"

    # HTTP ingest (callroles serve)
    http_host: str = "127.0.0.1"
    http_port: int = 8086
    http_max_body_bytes: int = 64_000
    http_token: SecretStr | None = None  # bearer token required by /calls and /webhook when set

    # Results pushed to a webhook (webhook.py): a worker queues each result in Redis when
    # webhook_url is set, and `callroles serve` delivers the queue, signed with webhook_secret
    # (required with a URL), retried with exponential backoff; after webhook_tries failed tries
    # a delivery becomes a dead letter (kept in Redis, listed by GET /webhook/dead-letters).
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_tries: int = 12
    webhook_backoff_s: float = 2.0  # after the first failed try; doubled per try, capped below
    webhook_backoff_cap_s: float = 600.0
    webhook_timeout_s: float = 10.0  # one try: connect, send and the answer's status
    webhook_concurrency: int = 4  # tries in flight per serve process
    webhook_poll_s: float = 0.5  # how often an idle deliverer looks for due deliveries

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"


@functools.cache
def streaming_settings() -> StreamingSettings:
    """A worker's settings, built once per process: for entry points (commands) only."""
    return StreamingSettings()
