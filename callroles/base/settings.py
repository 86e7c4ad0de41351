"""One frozen settings object, built once from environment variables and an optional file.

Every process (CLI, worker, tests) reads its configuration through :func:`get_settings`.
Variables are prefixed ``CALLROLES_`` (for example ``CALLROLES_KAFKA_PORT=19092``); a ``.env``-style
file named by ``CALLROLES_SETTINGS_FILE`` is read too. Secrets are ``SecretStr`` so they never
show up in logs or reprs.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # callroles/base/settings.py -> the checkout
#: real data for developers and CI, beside the project (../shared/data); not in a user's clone
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def _default_home() -> Path:
    """Data lives inside a checkout (ignored folder) when run from one, else in the user's home."""
    if (PROJECT_ROOT / "pyproject.toml").exists() and (PROJECT_ROOT / "deploy").is_dir():
        return PROJECT_ROOT / ".callroles"
    return Path.home() / ".callroles"


class Settings(BaseSettings):
    """Everything configurable, in one place. Immutable once built."""

    model_config = SettingsConfigDict(
        env_prefix="CALLROLES_",
        env_file=os.environ.get("CALLROLES_SETTINGS_FILE"),
        frozen=True,
        extra="ignore",
    )

    home: Path = _default_home()

    # Local stack (deploy/): ports on 127.0.0.1
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    redis_port: int = 16379
    kafka_version: str = "4.0.0"
    scala_version: str = "2.13"
    maven_settings: Path | None = None  # a settings.xml with a proxy or mirror for Maven Central

    # Connections (a production deployment sets these instead of using the local stack)
    kafka_bootstrap: str | None = None
    kafka_security_protocol: str = "PLAINTEXT"  # PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
    kafka_sasl_mechanism: str | None = None  # SCRAM-SHA-256, SCRAM-SHA-512, PLAIN
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    redis_url: SecretStr | None = None
    redis_ssl_ca_certs: Path | None = None

    # Topics are named in schemas/; a prefix lets several tenants or test runs share a broker.
    topic_prefix: str = ""
    partitions: int = 4
    # Replication of the topics we create: 1 on the single-broker local stack; 3 with
    # min.insync.replicas 2 on a three-broker cluster (deploy/cluster.py).
    replication_factor: int = 1
    min_insync_replicas: int | None = None  # topic config; None: the broker's default
    # Our producers (submit, watch, HTTP ingest): acks and idempotence (idempotence needs "all";
    # both are safe on a single broker too)
    kafka_acks: Literal["all", "1", "0"] = "all"
    kafka_idempotence: bool = True

    # Model and scoring
    model_path: Path | None = None
    execution_provider: str = "auto"  # auto, cuda, cpu
    # ONNX Runtime intra-op threads per session; 0: its default (one per core). A worker pinned
    # to N cores (taskset, a pod's CPU limit) sets N, so its threads do not fight over them.
    onnx_threads: int = 0
    # the speaker-count model behind talk time and the music check (None: the shipped ones)
    activity_model_path: Path | None = None
    music_model_path: Path | None = None
    # voices in a mono call (callroles.frontend.count): "two", split every call into two (a call
    # centre's usual call); "auto", count 1 to 4 from voice embeddings over the speech. A
    # command's own --speakers overrides it.
    speaker_count: Literal["two", "auto"] = "two"
    # the call centre's own hold music and announcements (callroles.frontend.known): folders of
    # audio files, joined by os.pathsep; files under a folder named moh or music are music,
    # the others announcements. Where a call plays one of them, nobody talks. None: off
    known_sounds: str | None = None
    # agents' voiceprints (callroles.agents.voiceprints): a redis:// URL, or a JSON file; None:
    # <home>/voiceprints.json. Biometric data: `callroles agents forget ID` removes one.
    voiceprint_store: str | None = None
    # learn agents' voices from calls whose roles are certain (callroles.agents.enrolment):
    # "stereo", a stereo call whose layout names the agent's side; "off", only `callroles agents
    # enroll`
    auto_enrol: Literal["off", "stereo"] = "stereo"

    # Input limits and where recordings may be read from
    allowed_roots: tuple[Path, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    max_bytes: int = 200_000_000
    max_duration_s: float = 3600.0
    decode_timeout_s: float = 120.0

    # Streaming (streaming/): extra Kafka/Redis security, the worker, ingestion endpoints.
    # An empty allowed_roots lets a worker read any local path (development only: warned at
    # start); an empty allowed_hosts refuses every http(s) recording URI.
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_keyfile_password: SecretStr | None = None
    kafka_client_id: str = "callroles"
    redis_password: SecretStr | None = None  # used when redis_url has none
    redis_ssl: bool = False
    redis_ttl_s: int = 7 * 86_400  # sums, window markers and result markers
    worker_id: str | None = None  # default host:web_port
    worker_web_port: int = 6066
    worker_web_host: str = "127.0.0.1"
    worker_concurrency: int = 2  # calls in flight per worker (one fetching while one runs)
    frontend_threads: int = 1  # threads running calls (callroles.call.pipeline.run_call) per worker
    lease_ttl_s: int = 45  # a dead worker's call is picked up again after this
    broker_max_poll_interval_s: float = 3600.0  # above the longest call's processing time
    broker_session_timeout_s: float = 45.0
    broker_heartbeat_interval_s: float = 3.0
    fetch_timeout_s: float = 60.0
    http_host: str = "127.0.0.1"
    http_port: int = 8086
    http_max_body_bytes: int = 64_000
    call_retries: int = 3  # in-process retries of a call after an infrastructure error
    call_retry_backoff_s: float = 2.0  # doubled per retry, capped below
    call_retry_backoff_cap_s: float = 30.0
    max_event_bytes: int = 64_000  # a larger raw call-finished event is refused (event_too_large)
    http_token: SecretStr | None = None  # bearer token required by POST /calls when set

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @property
    def redis_dsn(self) -> str:
        if self.redis_url is not None:
            return self.redis_url.get_secret_value()
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def keras_home(self) -> Path:
        """Where inaSpeechSegmenter's Keras weights are provisioned (never downloaded)."""
        return self.home / "keras"


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, built once."""
    return Settings()
