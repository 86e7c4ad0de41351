"""StackSettings reach a SASL/SCRAM-SHA-512 + TLS Kafka and an ACL + TLS Redis; bad credentials
fail.

Clients are built exactly as the worker builds them: ``callroles.streaming.clients``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from typing import Any

import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from pydantic import SecretStr

from callroles.base.redis import redis_client
from callroles.lab.settings import StackSettings
from callroles.streaming.clients import kafka_kwargs
from tests.support.secure_stack import SecureStack


async def _roundtrip(settings: StackSettings, topic: str, payloads: list[bytes]) -> list[bytes]:

    producer = AIOKafkaProducer(**kafka_kwargs(settings))
    await asyncio.wait_for(producer.start(), 30)
    try:
        for p in payloads:
            await producer.send_and_wait(topic, p, key=b"call")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, group_id=f"g-{topic}", auto_offset_reset="earliest", **kafka_kwargs(settings)
    )
    await asyncio.wait_for(consumer.start(), 30)
    got: list[bytes] = []
    try:
        while len(got) < len(payloads):
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 60)
            for records in batch.values():
                got.extend(r.value for r in records if r.value is not None)
    finally:
        await consumer.stop()
    return got


async def _producer_start(settings: StackSettings | None, **kwargs: Any) -> None:

    producer = AIOKafkaProducer(**(kafka_kwargs(settings) if settings else {}), **kwargs)
    try:
        await asyncio.wait_for(producer.start(), 30)
    finally:
        await producer.stop()


def test_kafka_sasl_ssl_produce_consume_from_settings(secure_settings: StackSettings) -> None:
    kw = kafka_kwargs(secure_settings)
    assert kw["security_protocol"] == "SASL_SSL" and kw["sasl_mechanism"] == "SCRAM-SHA-512"
    assert isinstance(kw["ssl_context"], ssl.SSLContext)
    topic = f"sec-{uuid.uuid4().hex[:8]}"
    payloads = [f"call-{i}".encode() for i in range(3)]
    assert asyncio.run(_roundtrip(secure_settings, topic, payloads)) == payloads


def _refusal(settings: StackSettings | None, caplog: pytest.LogCaptureFixture, **kw: Any) -> str:
    """Start a producer that must fail; return aiokafka's log of why (it wraps the cause)."""

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="aiokafka"), pytest.raises(KafkaConnectionError):
        asyncio.run(_producer_start(settings, **kw))
    return caplog.text


def test_kafka_wrong_password_is_refused(
    secure_settings: StackSettings, caplog: pytest.LogCaptureFixture
) -> None:
    bad = secure_settings.model_copy(update={"kafka_sasl_password": SecretStr("not-the-password")})
    assert "SaslAuthenticationFailed" in _refusal(bad, caplog)


def test_kafka_unknown_user_is_refused(
    secure_settings: StackSettings, caplog: pytest.LogCaptureFixture
) -> None:
    bad = secure_settings.model_copy(update={"kafka_sasl_username": "mallory"})
    assert "SaslAuthenticationFailed" in _refusal(bad, caplog)


def test_kafka_untrusted_certificate_is_refused(
    secure_settings: StackSettings, caplog: pytest.LogCaptureFixture
) -> None:
    """Without our CA the system trust store does not accept the throwaway broker certificate."""
    bad = secure_settings.model_copy(update={"kafka_ssl_cafile": None})
    assert "CERTIFICATE_VERIFY_FAILED" in _refusal(bad, caplog)


def test_kafka_plaintext_client_gets_nothing(secure: SecureStack) -> None:
    """A client that skips TLS and SASL cannot even fetch metadata."""
    with pytest.raises(Exception):  # noqa: B017 - connection, timeout or protocol error
        asyncio.run(
            _producer_start(
                None, bootstrap_servers=f"127.0.0.1:{secure.kafka_port}", request_timeout_ms=5000
            )
        )


def _redis_ping(settings: StackSettings) -> bool:
    async def ping() -> bool:
        client = redis_client(settings, asyncio=True)
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    return asyncio.run(ping())


def test_redis_tls_with_acl_user_from_settings(secure_settings: StackSettings) -> None:
    assert secure_settings.redis_dsn.startswith("rediss://")

    async def write_read() -> str | None:
        client = redis_client(secure_settings, asyncio=True)
        try:
            key = f"sec:{uuid.uuid4().hex}"
            await client.set(key, "agent", ex=60)
            value: str | None = await client.get(key)
            await client.delete(key)
            return value
        finally:
            await client.aclose()

    assert asyncio.run(write_read()) == "agent"


def test_redis_wrong_password_is_refused(
    secure: SecureStack, secure_settings: StackSettings
) -> None:

    url = f"rediss://{secure.client_user}:wrong@127.0.0.1:{secure.redis_port}/0"
    bad = secure_settings.model_copy(update={"redis_url": SecretStr(url)})
    with pytest.raises(redis.AuthenticationError):
        _redis_ping(bad)


def test_redis_default_user_is_disabled(
    secure: SecureStack, secure_settings: StackSettings
) -> None:

    url = f"rediss://127.0.0.1:{secure.redis_port}/0"
    bad = secure_settings.model_copy(update={"redis_url": SecretStr(url)})
    with pytest.raises(redis.AuthenticationError):
        _redis_ping(bad)


def test_redis_plaintext_is_refused(secure: SecureStack, secure_settings: StackSettings) -> None:

    url = f"redis://{secure.client_user}:{secure.client_password}@127.0.0.1:{secure.redis_port}/0"
    bad = secure_settings.model_copy(update={"redis_url": SecretStr(url)})
    with pytest.raises(redis.ConnectionError):
        _redis_ping(bad)


def test_secrets_never_in_reprs(secure: SecureStack, secure_settings: StackSettings) -> None:
    text = repr(secure_settings) + str(secure_settings.model_dump()) + repr(secure)
    assert secure.client_password not in text
