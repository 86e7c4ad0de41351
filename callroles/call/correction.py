"""A person's correction of a call's roles: which speaker is the agent.

A QA person who sees swapped roles names the agent's speaker of the published result
(``callroles agents correct``, ``POST /calls/{id}/correction``); the call comes back to a worker
with the correction in its call-finished event (``correction``: the speaker and its segments
there). The call is computed again, so its speakers are found again: the corrected speaker is
the one whose speech covers most of the corrected segments, not a label that could have moved.
That speaker is the agent, every other a customer (``role_source`` "correction", confidence 1),
and the call teaches the agent's print like a stereo call (:mod:`callroles.agents.enrolment`,
the same guards). With ``undo`` the roles are decided as if nobody had said anything, and what
the correction taught the print is taken back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from callroles.base.errors import InputError
from callroles.call.roles import SpeakerRole
from callroles.frontend.speakers import FrontEndResult

#: the speaker found again must hold at least this share of the corrected speaker's speech
MIN_COVER = 0.5


class CorrectionLost(InputError):
    """The corrected voice is not found when the call is computed again."""

    code = "correction_lost"
    stage = "result"


def correction_of(call: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The call-finished event's correction, or None."""
    found = call.get("correction")
    return found if isinstance(found, Mapping) else None


def corrected_speaker(correction: Mapping[str, Any], front: FrontEndResult) -> str:
    """The speaker of this computation whose speech covers most of the corrected speaker's
    segments (raises :class:`CorrectionLost` when none covers ``MIN_COVER`` of them)."""
    wanted = [(float(a), float(b)) for a, b in correction.get("segments") or [] if b > a]
    total = sum(b - a for a, b in wanted)
    cover = {
        s.speaker: sum(_overlap(g.start, g.end, wanted) for g in s.segments) for s in front.speakers
    }
    best = max(cover, key=lambda spk: cover[spk], default=None)
    if best is None or total <= 0 or cover[best] < MIN_COVER * total:
        share = 0.0 if best is None or total <= 0 else cover[best] / total
        raise CorrectionLost(
            f"the corrected speaker {correction.get('agent_speaker')} is not found again "
            f"(best cover {share:.0%} of its speech)"
        )
    return best


def corrected_roles(roles: Sequence[SpeakerRole], agent: str) -> list[SpeakerRole]:
    """``agent`` is the agent, every other speaker a customer: a person said so."""
    return [
        replace(
            r,
            role="agent" if r.speaker == agent else "customer",
            confidence=1.0,
            source="correction",
        )  # fmt: skip
        for r in roles
    ]


def _overlap(start: float, end: float, spans: Sequence[tuple[float, float]]) -> float:
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans)
