"""Corrections: a person says which speaker of a published result is the agent.

``callroles agents correct CALL_ID --agent-speaker S2`` and ``POST /calls/{id}/correction``
both end here. The call's latest published result and the call-finished event that asked for
it are read from the ledger; the event goes back on the call-finished topic with
``reprocess: true`` and a ``correction`` (the speaker, and its segments in that result). A worker
computes the call again (:mod:`callroles.call.correction`): the corrected speaker is the agent
(``role_source`` "correction"), the call teaches the agent's print under the usual guards, and
the new result is published with the next ``revision``. The event kept with that result carries
the correction, so later revisions keep it. ``--undo`` withdraws it the same way: the roles are
decided again as if nobody had said anything, and what the correction taught the print is taken
back; the event kept afterwards carries no correction.
"""

from __future__ import annotations

from typing import Any

from callroles.base.errors import InputError
from callroles.base.redis import redis_client
from callroles.schemas import utc_now, validate
from callroles.streaming.settings import StreamingSettings

from . import metrics
from .clients import key_prefix
from .ledger import Ledger
from .submit import publish

#: the most segments a correction carries (the call-finished schema's limit)
MAX_SEGMENTS = 5000


async def correction_event(
    ledger: Ledger,
    call_id: str,
    agent_speaker: str | None,
    *,
    undo: bool = False,
    by: str | None = None,
) -> dict[str, Any]:
    """The call-finished event that corrects (or, ``undo``, un-corrects) ``call_id``'s roles.
    Raises :class:`InputError`: ``correction_unknown_call`` (no published result, or its event
    is not kept), ``correction_unknown_speaker``, ``correction_none`` (nothing to undo)."""
    found = await ledger.lookup(call_id)
    if found.state != "result" or found.event is None:
        why = "it failed" if found.state == "error" else f"it is {found.state}"
        raise InputError(f"call {call_id} has no published result ({why})",
                         code="correction_unknown_call")  # fmt: skip
    result = found.event
    stored = await ledger.stored(call_id, str(result["model"]["version"]))
    if stored is None or stored.event is None:
        raise InputError(
            f"call {call_id}: the event its result answered is not kept (expired); submit the "
            "call again, then correct it",
            code="correction_unknown_call",
        )
    previous = stored.event.get("correction")
    if undo:
        if not isinstance(previous, dict) or previous.get("undo"):
            raise InputError(f"call {call_id} carries no correction to undo",
                             code="correction_none")  # fmt: skip
        correction = {**previous, "undo": True, "by": by, "at": utc_now()}
    else:
        speakers = {s["speaker"]: s for s in result["speakers"]}
        if agent_speaker not in speakers:
            raise InputError(
                f"call {call_id} has no speaker {agent_speaker!r} (it has {sorted(speakers)})",
                code="correction_unknown_speaker",
            )
        segments = speakers[agent_speaker]["segments"][:MAX_SEGMENTS]
        correction = {"agent_speaker": agent_speaker, "segments": segments, "undo": False,
                      "by": by, "at": utc_now()}  # fmt: skip
    event = {**stored.event, "reprocess": True, "correction": correction, "submitted_at": utc_now()}
    metrics.CORRECTIONS.labels("undone" if undo else "asked").inc()
    return validate("call_finished", event)


def settled(event: dict[str, Any]) -> dict[str, Any]:
    """The event as kept with its result: a withdrawn correction is done with (a later
    revision must not take its sample back from the print again)."""
    correction = event.get("correction")
    if isinstance(correction, dict) and correction.get("undo"):
        return {k: v for k, v in event.items() if k != "correction"}
    return event


async def send_correction(
    settings: StreamingSettings,
    call_id: str,
    agent_speaker: str | None,
    *,
    undo: bool = False,
    by: str | None = None,
) -> dict[str, Any]:
    """``callroles agents correct``: the correction event, built from the ledger and published
    to the call-finished topic (raises the InputError of :func:`correction_event`)."""
    redis = redis_client(settings, asyncio=True)
    try:
        ledger = Ledger(redis, prefix=key_prefix(settings), ttl_s=settings.redis_ttl_s)
        event = await correction_event(ledger, call_id, agent_speaker, undo=undo, by=by)
    finally:
        await redis.aclose()
    await publish(settings, [event])
    return event
