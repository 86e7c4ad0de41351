"""A stand-in for the worker's Kafka producer: the call processor's sink, collecting events."""

from __future__ import annotations

from typing import Any

from callroles.streaming.ledger import Ledger


class Sink:
    """Collects events; ``fail_results`` sends raise, as a lost broker does."""

    def __init__(self, fail_results: int = 0, ledger: Ledger | None = None) -> None:
        self.results: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.fail_results = fail_results
        self.ledger = ledger
        self.done_at_send: list[str | None] = []  # the ledger's done marker when each send began

    async def result(self, key: str, event: dict[str, Any]) -> None:
        if self.ledger is not None:
            done = self.ledger.keys(key, event["model"]["version"]).done
            self.done_at_send.append(await self.ledger.redis.get(done))
        if self.fail_results > 0:
            self.fail_results -= 1
            raise ConnectionError("broker unreachable (test)")
        self.results.append(event)

    async def error(self, key: str | None, event: dict[str, Any]) -> None:
        self.errors.append(event)
