"""Kafka and Redis connections built from settings, with SASL/TLS; secrets are never logged."""

from __future__ import annotations

import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import faust
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from callroles.base.errors import ConfigError
from callroles.base.settings import Settings

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


def worker_id(settings: Settings) -> str:
    """A name for this worker in error events, metrics and Redis leases."""
    return settings.worker_id or f"{socket.gethostname()}:{settings.worker_web_port}"


def key_prefix(settings: Settings) -> str:
    """Redis key prefix; follows the topic prefix so test runs and tenants never collide."""
    return f"callroles:{settings.topic_prefix}"


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A TLS context for Kafka when the protocol uses SSL (CA file and optional client cert)."""
    protocol = settings.kafka_security_protocol.upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise ConfigError(
            f"kafka_security_protocol={protocol!r}; use one of {', '.join(SECURITY_PROTOCOLS)}"
        )
    if "SSL" not in protocol:
        return None
    ctx = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    if settings.kafka_ssl_certfile:
        password = settings.kafka_ssl_keyfile_password
        ctx.load_cert_chain(
            str(settings.kafka_ssl_certfile),
            str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
            password.get_secret_value() if password else None,
        )
    return ctx


def kafka_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka producers, consumers and the admin client."""
    protocol = settings.kafka_security_protocol.upper()
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": protocol,
        "client_id": settings.kafka_client_id,
    }
    ctx = ssl_context(settings)
    if ctx is not None:
        kwargs["ssl_context"] = ctx
    if protocol.startswith("SASL"):
        if not (settings.kafka_sasl_username and settings.kafka_sasl_password):
            raise ConfigError(
                "SASL needs CALLROLES_KAFKA_SASL_USERNAME and CALLROLES_KAFKA_SASL_PASSWORD"
            )
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism or "PLAIN"
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        kwargs["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return kwargs


def producer_kwargs(settings: Settings) -> dict[str, Any]:
    """``kafka_kwargs`` plus acks and idempotence from settings (default ``acks=all`` with
    idempotence: a retried send after a leader change is written once, and a record counts as
    sent only once every in-sync replica has it, at least ``min.insync.replicas``)."""
    acks: str | int = "all" if settings.kafka_acks == "all" else int(settings.kafka_acks)
    if settings.kafka_idempotence and acks != "all":
        raise ConfigError(
            f"kafka_idempotence needs kafka_acks=all (got {settings.kafka_acks}); set "
            "CALLROLES_KAFKA_IDEMPOTENCE=false to use fewer acks"
        )
    return {
        **kafka_kwargs(settings),
        "acks": acks,
        "enable_idempotence": settings.kafka_idempotence,
    }


def faust_credentials(settings: Settings) -> Any:
    """Faust's credentials object for the same security settings (None for PLAINTEXT)."""
    protocol = settings.kafka_security_protocol.upper()
    ctx = ssl_context(settings)
    if protocol.startswith("SASL"):
        kw = kafka_kwargs(settings)
        return faust.SASLCredentials(
            username=kw["sasl_plain_username"],
            password=kw["sasl_plain_password"],
            ssl_context=ctx,
            mechanism=kw["sasl_mechanism"],
        )
    if ctx is not None:
        return faust.SSLCredentials(ctx)
    return None


def _retry() -> Any:
    """Exponential backoff (0.1 s doubling, capped at 2 s, 5 retries) on connection errors,
    except a refused login (AuthenticationError is a ConnectionError in redis-py): retrying
    a wrong password only delays the error."""

    class _Retry(Retry):
        async def call_with_retry(  # type: ignore[override]
            self,
            do: Any,
            fail: Any,
            is_retryable: Any = None,
            with_failure_count: bool = False,
        ) -> Any:
            def retryable(error: Exception) -> bool:
                if isinstance(error, AuthenticationError):
                    return False
                return bool(is_retryable(error)) if is_retryable else True

            return await super().call_with_retry(  # type: ignore[call-arg]  # stubs lag redis 8
                do, fail, retryable, with_failure_count
            )

    return _Retry(ExponentialBackoff(cap=2.0, base=0.1), 5)


def redis_where(settings: Settings) -> str:
    """Where Redis is, for log lines and errors: host and port, never the credentials."""
    parts = urlsplit(settings.redis_dsn)
    return f"{parts.hostname}:{parts.port or 6379}"


def redis_client(settings: Settings) -> Any:
    """An asyncio Redis client (strings decoded), with password and TLS from settings.

    A Redis restart leaves every pooled connection stale: commands are retried on connection
    errors with exponential backoff, and idle connections are health-checked before reuse,
    so the first command after a restart reconnects instead of failing the call (F4).
    """
    kwargs: dict[str, Any] = {
        "decode_responses": True,
        "retry": _retry(),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError],
        "health_check_interval": 10,
        "socket_keepalive": True,
    }
    if settings.redis_password is not None:
        kwargs["password"] = settings.redis_password.get_secret_value()
    dsn = settings.redis_dsn
    if settings.redis_ssl and dsn.startswith("redis://"):
        dsn = "rediss://" + dsn[len("redis://") :]
    if dsn.startswith("rediss://") and settings.redis_ssl_ca_certs:
        kwargs["ssl_ca_certs"] = str(settings.redis_ssl_ca_certs)
    return aioredis.from_url(dsn, **kwargs)
