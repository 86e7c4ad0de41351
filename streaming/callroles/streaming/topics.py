"""Create the event topics (idempotent): P partitions each, so up to P workers share the load."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from callroles.base.errors import StackError
from callroles.schemas import TOPICS, topic_name
from callroles.streaming.settings import StreamingSettings

from .clients import kafka_kwargs

RETENTION_MS = {
    "call_finished": 7 * 86_400_000,
    "call_result": 30 * 86_400_000,
    "call_error": 30 * 86_400_000,
}


def all_topics(settings: StreamingSettings) -> dict[str, str]:
    """Event kind -> full topic name for this deployment's prefix."""
    return {kind: topic_name(kind, settings.topic_prefix) for kind in TOPICS}


async def create_topics(
    settings: StreamingSettings, partitions: int | None = None, replication: int | None = None
) -> dict[str, str]:
    """Create missing topics; return topic -> ``created`` or ``exists`` (partitions unchanged).

    Replication is ``settings.replication_factor`` unless given; ``settings.min_insync_replicas``
    becomes the topics' ``min.insync.replicas`` when set (an existing topic keeps its own).
    """
    parts = partitions or settings.partitions
    factor = replication or settings.replication_factor
    configs = {}
    if settings.min_insync_replicas is not None:
        configs["min.insync.replicas"] = str(settings.min_insync_replicas)
    admin = AIOKafkaAdminClient(**kafka_kwargs(settings))
    try:
        await admin.start()
    except Exception as exc:  # connection errors come in many aiokafka types
        raise StackError(
            f"cannot reach Kafka at {settings.bootstrap_servers}: {exc} "
            "(is the stack up? `callroles stack start`)"
        ) from exc
    try:
        existing = set(await admin.list_topics())
        wanted = all_topics(settings)
        new = [
            NewTopic(
                name,
                num_partitions=parts,
                replication_factor=factor,
                topic_configs={"retention.ms": str(RETENTION_MS[kind]), **configs},
            )
            for kind, name in wanted.items()
            if name not in existing
        ]
        if new:
            await admin.create_topics(new)
        return {name: ("exists" if name in existing else "created") for name in wanted.values()}
    finally:
        await admin.close()


def create_topics_sync(
    settings: StreamingSettings, partitions: int | None = None
) -> dict[str, str]:
    return asyncio.run(create_topics(settings, partitions))
