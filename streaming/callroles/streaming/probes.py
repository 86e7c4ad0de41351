"""A worker's health pages for an orchestrator, on Faust's web server (``worker_web_port``).

``GET /live``: the event loop answers. Faust serves the page on the loop that also sends the
consumer's heartbeats, so a loop stalled by CPU-bound work (a bug: calls run in an executor)
fails the probe's timeout; a crashed Faust service answers 503. Restarting helps there; a
broker or Redis outage is not the worker's fault and leaves it live.

``GET /ready``: the worker is a member of its consumer group and holds its assignment: the
assignment of the last rebalance reached it and no rebalance runs now; not ready before that,
during a rebalance and while stopping. A member given no partition of the call-finished topic
(more workers than partitions) is ready all the same: it takes partitions at the next
rebalance, and a rolling update that waits for readiness would otherwise never finish.
"""

from __future__ import annotations

from typing import Any


class Readiness:
    """What the group's rebalances told this worker: its partitions, or None during one."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.assigned: frozenset[Any] | None = None
        self.assignments = 0

    def report(self, app: Any) -> tuple[bool, dict[str, Any]]:
        """(ready, the page's body)."""
        stopping = bool(app.should_stop)
        rebalancing = bool(app.rebalancing)
        ready = self.assigned is not None and not rebalancing and not stopping
        partitions = sorted(tp.partition for tp in self.assigned or () if tp.topic == self.topic)
        return ready, {
            "ready": ready,
            "group": app.conf.id,
            "topic": self.topic,
            "partitions": partitions,
            "assignments": self.assignments,
            "rebalancing": rebalancing,
            "stopping": stopping,
        }


def install(app: Any, topic: str) -> Readiness:
    """Add ``/live`` and ``/ready`` to the Faust ``app`` (``topic``: the call-finished topic)."""
    state = Readiness(topic)

    @app.on_partitions_revoked.connect
    async def revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        state.assigned = None

    @app.on_partitions_assigned.connect
    async def assigned(sender: Any, assigned: set[Any], **kwargs: Any) -> None:
        state.assigned = frozenset(assigned)
        state.assignments += 1

    @app.page("/live")
    async def live(web: Any, request: Any) -> Any:
        crashed = app.crash_reason
        body = {"live": crashed is None, "crash": repr(crashed) if crashed else None}
        return web.json(body, status=200 if crashed is None else 503)

    @app.page("/ready")
    async def ready(web: Any, request: Any) -> Any:
        ok, body = state.report(app)
        return web.json(body, status=200 if ok else 503)

    return state
