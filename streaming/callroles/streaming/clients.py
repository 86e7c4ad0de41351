"""Kafka connections built from settings, with SASL/TLS; secrets are never logged. Redis comes
from :mod:`callroles.base.redis`, the one Redis client factory."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import faust

from callroles.base.errors import ConfigError
from callroles.streaming.settings import StreamingSettings

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


def worker_id(settings: StreamingSettings) -> str:
    """A name for this worker in error events, metrics and Redis leases."""
    return settings.worker_id or f"{socket.gethostname()}:{settings.worker_web_port}"


def key_prefix(settings: StreamingSettings) -> str:
    """Redis key prefix; follows the topic prefix so test runs and tenants never collide."""
    return f"callroles:{settings.topic_prefix}"


def ssl_context(settings: StreamingSettings) -> ssl.SSLContext | None:
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


def kafka_kwargs(settings: StreamingSettings) -> dict[str, Any]:
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


def producer_kwargs(settings: StreamingSettings) -> dict[str, Any]:
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


def faust_credentials(settings: StreamingSettings) -> Any:
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
