"""The local stack against the real services: Kafka produce/consume, Redis, and failure paths."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from callroles.base.errors import StackError
from callroles.lab import stack as stack_mod
from callroles.lab.install import kafka_cluster_id
from callroles.lab.settings import StackSettings


def test_produce_and_consume_on_the_local_broker(stack: StackSettings) -> None:

    topic = f"test-roundtrip-{uuid.uuid4().hex[:8]}"
    payloads = [f"call-{i}".encode() for i in range(5)]

    async def roundtrip() -> list[bytes]:
        producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers)
        await producer.start()
        try:
            for p in payloads:
                await producer.send_and_wait(topic, p, key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=stack.bootstrap_servers,
            auto_offset_reset="earliest",
            group_id=f"g-{topic}",
        )
        await consumer.start()
        got: list[bytes] = []
        try:
            while len(got) < len(payloads):
                batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 30)
                for records in batch.values():
                    got.extend(r.value for r in records if r.value is not None)
        finally:
            await consumer.stop()
        return got

    assert asyncio.run(roundtrip()) == payloads


def test_redis_read_write(stack: StackSettings) -> None:

    client = redis.Redis.from_url(stack.redis_dsn)
    key = f"test:{uuid.uuid4().hex}"
    client.set(key, "agent", ex=60)
    assert client.get(key) == b"agent"
    assert client.set(key, "x", nx=True) is None  # the primitive idempotent sinks rely on
    client.delete(key)


def test_start_is_idempotent_and_status_reports_both(stack: StackSettings) -> None:
    messages = stack_mod.start(stack)
    assert all("already running" in m for m in messages), messages
    state = stack_mod.status(stack)
    assert state["kafka"]["answers"] and state["redis"]["answers"]
    assert state["kafka"]["pid"] and state["redis"]["pid"]


def _taken_port() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock, sock.getsockname()[1]


def test_port_taken_is_reported_and_nothing_is_left_running(tmp_path: Path) -> None:
    sock, port = _taken_port()
    try:
        settings = StackSettings(home=tmp_path, kafka_port=port, redis_port=port)
        with pytest.raises(StackError, match=f"port {port}.*taken"):
            stack_mod.start_redis(settings)
        with pytest.raises(StackError, match=f"port {port}.*taken"):
            stack_mod.start_kafka(settings)
        assert not stack_mod.stack_paths(settings).kafka_pid.exists()
    finally:
        sock.close()


def test_java_missing_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a real PATH without java on it
    settings = StackSettings(home=tmp_path)
    with pytest.raises(StackError, match="Java is missing"):
        stack_mod.ensure_kafka_jars(settings)


def test_no_network_to_maven_central_is_reported(tmp_path: Path) -> None:
    # A Maven settings file whose only mirror is a closed local port, and an empty local repo:
    # what a machine without access to Maven Central sees.
    m2 = tmp_path / "m2"
    m2.mkdir()
    (m2 / "settings.xml").write_text(
        "<settings><localRepository>" + str(m2 / "repo") + "</localRepository>"
        "<mirrors><mirror><id>closed</id><mirrorOf>*</mirrorOf>"
        "<url>http://127.0.0.1:9/maven2</url></mirror></mirrors></settings>"
    )
    settings = StackSettings(home=tmp_path / "home", maven_settings=m2 / "settings.xml")
    with pytest.raises(StackError, match="could not fetch the Kafka broker from Maven Central"):
        stack_mod.ensure_kafka_jars(settings)
    assert not stack_mod.stack_paths(settings).kafka_libs.exists()


def test_cluster_ids_never_look_like_options() -> None:
    # Kafka's StorageTool reads an id starting with '-' as an option and refuses to format.

    ids = {kafka_cluster_id() for _ in range(3000)}
    assert len(ids) == 3000
    assert not any(i.startswith("-") for i in ids)
    assert all(len(i) == 22 for i in ids)
