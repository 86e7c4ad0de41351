"""Webhook delivery against the real Redis outbox and a real HTTP receiver.

Results are queued as a worker queues them (``Outbox.enqueue``) and the real ``Deliverer`` runs
on this test's event loop, as it runs in ``callroles serve``. Receivers: one that fails three
times and then accepts, one that never accepts (nothing listens on its port), one that hangs past
the timeout, one that always answers 500. What is checked: what arrives, its signature, that
nothing is lost, the dead letters, the metrics and the log lines. Waiting is bounded by a
deadline that fails the test; nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr

from callroles import schemas
from callroles.base.errors import ConfigError
from callroles.base.redis import redis_client
from callroles.lab.settings import StackSettings
from callroles.streaming import metrics
from callroles.streaming.clients import key_prefix
from callroles.streaming.ledger import Ledger
from callroles.streaming.outbox import Outbox
from callroles.streaming.webhook import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Deliverer,
    check_settings,
    verify,
)
from tests.support.ports import free_port
from tests.support.receiver import Receiver, receiving

pytestmark = pytest.mark.services

SECRET = "whsec-7c1f0e"
DEADLINE_S = 120.0


def _settings(stack: StackSettings, url: str, **extra: Any) -> StackSettings:
    return stack.model_copy(
        update={
            "topic_prefix": f"wh{uuid.uuid4().hex[:8]}.",
            "webhook_url": url,
            "webhook_secret": SecretStr(SECRET),
            "webhook_tries": 5,
            "webhook_backoff_s": 0.05,
            "webhook_backoff_cap_s": 0.2,
            "webhook_timeout_s": 1.0,
            "webhook_poll_s": 0.05,
            **extra,
        }
    )


def _results(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        event = schemas.example("call_result", "full")
        event["call_id"] = f"wh-{uuid.uuid4().hex[:6]}-{i}"
        out.append(event)
    return out


def _count(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


class Counts:
    """The webhook counters now, to compare with later (the registry is per process)."""

    def __init__(self) -> None:
        self.at = self._read()

    @staticmethod
    def _read() -> dict[str, float]:
        outcomes = ("delivered", "retried", "dead_lettered")
        reasons = ("timeout", "connection", "http_5xx")
        found = {o: _count("callroles_webhook_deliveries_total", outcome=o) for o in outcomes}
        found |= {r: _count("callroles_webhook_failures_total", reason=r) for r in reasons}
        return found

    def delta(self) -> dict[str, float]:
        now = self._read()
        return {k: now[k] - self.at[k] for k in now if now[k] != self.at[k]}


def _outbox(settings: StackSettings) -> Outbox:
    return Outbox(
        Ledger(redis_client(settings, asyncio=True), prefix=key_prefix(settings), ttl_s=600)
    )


async def _drain(
    settings: StackSettings,
    outbox: Outbox,
    results: list[dict[str, Any]],
    done: Callable[[tuple[int, int]], bool],
) -> list[dict[str, Any]]:
    """Queue ``results``, run a Deliverer until ``done(outbox sizes)``; the dead letters."""
    for r in results:
        await outbox.enqueue(r["call_id"], r["model"]["version"], json.dumps(r))
    loop = asyncio.get_running_loop()
    task = loop.create_task(Deliverer(settings, outbox).run())
    deadline = loop.time() + DEADLINE_S
    try:
        while not done(await outbox.sizes()):
            if task.done():
                task.result()  # raises what stopped it
            if loop.time() > deadline:
                pytest.fail(f"outbox still at {await outbox.sizes()} after {DEADLINE_S} s")
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    letters: list[dict[str, Any]] = await outbox.dead_letters()
    return letters


async def _drain_once(
    settings: StackSettings,
    results: list[dict[str, Any]],
    done: Callable[[tuple[int, int]], bool],
) -> list[dict[str, Any]]:
    outbox = _outbox(settings)
    try:
        return await _drain(settings, outbox, results, done)
    finally:
        await outbox.redis.aclose()


def _check_signed(receiver: Receiver) -> None:
    for got in receiver.received:
        ts, sig = got.headers[TIMESTAMP_HEADER], got.headers[SIGNATURE_HEADER]
        assert verify(SECRET, got.body, ts, sig)
        assert not verify("another-secret", got.body, ts, sig)
        assert not verify(SECRET, got.body + b" ", ts, sig)  # the body is what is signed
        assert not verify(SECRET, got.body, ts, sig, now=int(ts) + 301)  # a replay, later
        assert got.headers["Content-Type"] == "application/json"


def test_a_receiver_failing_three_times_gets_every_result_once_it_accepts(
    stack: StackSettings,
) -> None:
    counts = Counts()
    first, *more = _results(4)
    with receiving([503, 503, 503, 200]) as rx:
        settings = _settings(stack, rx.url)

        async def scenario() -> list[dict[str, Any]]:
            outbox = _outbox(settings)
            try:
                letters = await _drain(settings, outbox, [first], lambda s: s == (0, 0))
                return letters + await _drain(settings, outbox, more, lambda s: s == (0, 0))
            finally:
                await outbox.redis.aclose()

        letters = asyncio.run(scenario())
    assert letters == []
    assert [r.status for r in rx.received] == [503, 503, 503, 200, 200, 200, 200]
    assert len({r.headers[DELIVERY_HEADER] for r in rx.received[:4]}) == 1  # one id, every try
    assert [json.loads(r.body) for r in rx.received[:4]] == [first] * 4
    published = {r["call_id"]: r for r in [first, *more]}
    arrived = [json.loads(r.body)["call_id"] for r in rx.accepted]
    assert sorted(arrived) == sorted(published)  # nothing lost, nothing twice here
    for got in rx.accepted:  # exactly the result as published, byte for byte
        assert got.body == json.dumps(published[json.loads(got.body)["call_id"]]).encode()
    _check_signed(rx)
    assert counts.delta() == {"delivered": 4, "retried": 3, "http_5xx": 3}


def test_a_receiver_that_never_accepts_gets_a_dead_letter_that_can_be_sent_again(
    stack: StackSettings, caplog: pytest.LogCaptureFixture
) -> None:
    counts = Counts()
    port = free_port()  # nothing listens there: every try is refused
    settings = _settings(stack, f"http://127.0.0.1:{port}/hook", webhook_tries=3)
    (result,) = _results(1)

    async def scenario() -> tuple[list[dict[str, Any]], Receiver, tuple[int, int]]:
        outbox = _outbox(settings)
        with caplog.at_level(logging.INFO, logger="callroles.streaming.webhook"):
            letters = await _drain(settings, outbox, [result], lambda s: s == (0, 1))
        with receiving([200], port=port) as rx:  # the receiver is back
            assert await outbox.requeue(letters[0]["id"])
            assert not await outbox.requeue(letters[0]["id"])  # no longer a dead letter
            assert not await outbox.requeue("no-such-delivery")
            await _drain(settings, outbox, [], lambda s: s == (0, 0))
        sizes = await outbox.sizes()
        await outbox.redis.aclose()
        return letters, rx, sizes

    letters, rx, sizes = asyncio.run(scenario())
    (letter,) = letters
    assert letter["call_id"] == result["call_id"] and letter["tries"] == 3
    assert letter["model_version"] == result["model"]["version"] and letter["dead_at"]
    assert letter["last_error"].startswith("[webhook_failed] connection")
    assert [json.loads(r.body) for r in rx.accepted] == [result] and sizes == (0, 0)
    assert counts.delta() == {"retried": 2, "dead_lettered": 1, "connection": 3, "delivered": 1}
    lines = [r.getMessage() for r in caplog.records]
    assert any("dead-lettered after 3 tries" in m and result["call_id"] in m for m in lines)
    assert sum("not delivered, try" in m for m in lines) == 2
    assert not any(SECRET in m for m in lines)


def test_a_receiver_that_hangs_times_out_and_is_dead_lettered(stack: StackSettings) -> None:
    counts = Counts()
    (result,) = _results(1)
    with receiving(["hang"], hang_s=10.0) as rx:
        settings = _settings(stack, rx.url, webhook_tries=2, webhook_timeout_s=0.5)
        (letter,) = asyncio.run(_drain_once(settings, [result], lambda s: s == (0, 1)))
    assert letter["last_error"].startswith("[webhook_failed] timeout")
    assert len(rx.received) == 2 and rx.accepted == []
    _check_signed(rx)
    assert counts.delta() == {"retried": 1, "dead_lettered": 1, "timeout": 2}


def test_a_receiver_answering_500_is_retried_then_dead_lettered(stack: StackSettings) -> None:
    counts = Counts()
    (result,) = _results(1)
    with receiving([500]) as rx:
        settings = _settings(stack, rx.url, webhook_tries=4)
        (letter,) = asyncio.run(_drain_once(settings, [result], lambda s: s == (0, 1)))
    assert letter["last_error"] == "[webhook_failed] http_5xx: the receiver answered 500"
    assert [r.status for r in rx.received] == [500] * 4
    assert {json.loads(r.body)["call_id"] for r in rx.received} == {result["call_id"]}
    _check_signed(rx)
    assert counts.delta() == {"retried": 3, "dead_lettered": 1, "http_5xx": 4}


@pytest.mark.parametrize(
    ("url", "secret", "why"),
    [
        ("ftp://hooks.example/x", SECRET, "http:// or https://"),
        ("https://hooks.example/x", "", "WEBHOOK_SECRET"),
        ("hooks.example/x", SECRET, "http:// or https://"),
    ],
)
def test_a_webhook_without_a_secret_or_an_http_url_is_refused_at_start(
    url: str, secret: str, why: str
) -> None:
    settings = StackSettings(webhook_url=url, webhook_secret=SecretStr(secret) if secret else None)
    with pytest.raises(ConfigError) as err:
        check_settings(settings)
    assert why in str(err.value) and err.value.code == "config"
    if secret:
        assert secret not in str(err.value)
