"""Earlier calls set right: a print learnt from recurrence decides the calls that taught it.

The calls whose evidence taught an agent's print (:mod:`callroles.agents.enrolment`) were each
decided by the role model, before the print existed. When a call's result says it made the
print (``enrolment.reason`` ``recurring`` and its ``calls``), each earlier call is put back on
the call-finished topic with ``reprocess: true``, once (the ledger remembers), if its published
result was the model's; its new result is published with ``revision`` one above the last. So
revisions are bounded by the evidence an agent keeps, idempotent, and counted in metrics.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from . import metrics
from .ledger import Ledger

log = logging.getLogger(__name__)


class Resubmit(Protocol):
    async def resubmit(self, key: str, event: dict[str, Any]) -> None: ...


async def ask_revisions(
    result: dict[str, Any], ledger: Ledger, sink: Resubmit, model_version: str
) -> list[str]:
    """Put the calls a newly learnt print came from back on the topic; the ones asked for."""
    taught = result.get("enrolment") or {}
    if taught.get("action") != "enrolled" or taught.get("reason") != "recurring":
        return []
    asked = []
    for call_id in taught.get("calls", []):
        if call_id == result["call_id"]:
            continue
        stored = await ledger.stored(call_id, model_version)
        if stored is None or stored.event is None:  # expired, or from before events were kept
            continue
        sources = {s.get("role_source") for s in stored.result["speakers"]}
        if sources != {"model"} or not await ledger.ask_revision(call_id, model_version):
            continue
        try:
            await sink.resubmit(call_id, {**stored.event, "reprocess": True})
        except Exception:  # the result stands as published; only its revision is lost
            log.exception("could not ask for a revision of call %s", call_id)
            metrics.REVISIONS.labels("failed").inc()
            continue
        metrics.REVISIONS.labels("asked").inc()
        asked.append(call_id)
    if asked:
        log.info("agent %s learnt: calls %s decided again", taught.get("agent_id"), asked)
    return asked


def next_revision(previous: dict[str, Any] | None) -> int | None:
    """The revision of a result computed again (None for a call's first result)."""
    if previous is None:
        return None
    return int(previous.get("revision", 0)) + 1
