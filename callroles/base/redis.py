"""The one way callroles connects to Redis: URL, password and TLS from settings, with retries.

The worker's ledger (asyncio) and the voiceprint store (sync, used from a call's thread) both
get their client here, so both honour ``CALLROLES_REDIS_PASSWORD``, ``CALLROLES_REDIS_SSL``
and its CA file, and both survive a Redis restart.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import redis as sync_redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry as SyncRetry

from callroles.base.settings import Settings

RETRIES = 5


def _retryable(error: Exception, is_retryable: Any) -> bool:
    """A refused login (AuthenticationError is a ConnectionError in redis-py) is not retried:
    retrying a wrong password only delays the error."""
    if isinstance(error, AuthenticationError):
        return False
    return bool(is_retryable(error)) if is_retryable else True


class _AsyncRetry(AsyncRetry):
    async def call_with_retry(  # type: ignore[override]
        self, do: Any, fail: Any, is_retryable: Any = None, with_failure_count: bool = False
    ) -> Any:
        return await super().call_with_retry(  # type: ignore[call-arg]  # stubs lag redis 8
            do, fail, lambda e: _retryable(e, is_retryable), with_failure_count
        )


class _SyncRetry(SyncRetry):
    def call_with_retry(  # type: ignore[override]
        self, do: Any, fail: Any, is_retryable: Any = None, with_failure_count: bool = False
    ) -> Any:
        return super().call_with_retry(  # type: ignore[call-arg]  # stubs lag redis 8
            do, fail, lambda e: _retryable(e, is_retryable), with_failure_count
        )


def redis_where(settings: Settings, url: str | None = None) -> str:
    """Where Redis is, for log lines and errors: host and port, never the credentials."""
    parts = urlsplit(url or settings.redis_dsn)
    return f"{parts.hostname}:{parts.port or 6379}"


def redis_client(settings: Settings, url: str | None = None, *, asyncio: bool = False) -> Any:
    """A Redis client (strings decoded) for ``url`` (None: ``settings.redis_dsn``), with
    password and TLS from settings; asyncio for the worker's event loop, else sync.

    A Redis restart leaves every pooled connection stale: commands are retried on connection
    errors with exponential backoff (0.1 s doubling, capped at 2 s, 5 retries), and idle
    connections are health-checked before reuse, so the first command after a restart
    reconnects instead of failing the call.
    """
    backoff = ExponentialBackoff(cap=2.0, base=0.1)
    kwargs: dict[str, Any] = {
        "decode_responses": True,
        "retry": _AsyncRetry(backoff, RETRIES) if asyncio else _SyncRetry(backoff, RETRIES),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError],
        "health_check_interval": 10,
        "socket_keepalive": True,
    }
    if settings.redis_password is not None:
        kwargs["password"] = settings.redis_password.get_secret_value()
    dsn = url or settings.redis_dsn
    if settings.redis_ssl and dsn.startswith("redis://"):
        dsn = "rediss://" + dsn[len("redis://") :]
    if dsn.startswith("rediss://") and settings.redis_ssl_ca_certs:
        kwargs["ssl_ca_certs"] = str(settings.redis_ssl_ca_certs)
    return (aioredis if asyncio else sync_redis).from_url(dsn, **kwargs)
