"""Which voice is the agent's: the one that recurs across the agent's calls.

A call centre's agent speaks in hundreds of calls under one ``agent_id``; customers come and go.
So across a few calls of one agent, the voice heard in (nearly) every call is the agent's. Each
call contributes one embedding per voice (the mean GE2E embedding of that speaker's speech);
voices of different calls are grouped by average-linkage clustering at the equal-error
threshold of one voice across two calls (``CROSS_CALL``, measured on real readers in generated
calls through phone lines: ``callroles bench voices``), two voices of one call never in one
group. Then, per group, the calls it is heard in:

- the agent's voice is the group heard in the most calls, at least two;
- another group heard in as many calls is as good a candidate: nothing is learnt (a customer
  who called this agent every time, as in two real calls of one customer; or two people on one
  login);
- another group heard in two calls or more *where the first is not heard* is a second agent
  (a shared login, transferred calls): nothing is learnt, never one print of two voices;
- another group heard only in calls where the first is heard too is a customer who called
  again: that does not stand in the way.

Without agent ids (:func:`discover`) the whole archive is one pool, every agent's calls in it:
at ``CROSS_CALL`` the agents of one gender merge into one group (measured, bench archive), so
voices are grouped at the stricter ``DISCOVER_SAME``, and the fragments one voice falls into are
joined when their mean voices are as alike (a mean over many calls is far steadier than one
call's voice).

Nothing here reads audio or stores anything: :mod:`callroles.agents.enrolment` collects the
evidence and keeps what is learnt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

#: two calls' voices at least this alike are one person: the equal-error threshold of a reader's
#: mean embedding in one call against another call's (bench/results/voices.json: 60 generated
#: calls of LibriSpeech readers through varied phone lines; EER 0.14 at 0.757). Lower than a
#: voiceprint's (0.84): a call's voice is heard through its own line, not a clean sample.
CROSS_CALL = 0.76
#: without agent ids, two voices (or two groups' mean voices) at least this alike are one person.
#: Stricter than CROSS_CALL because the pool is every agent at once: on a 200-call archive of 8
#: LibriSpeech agents (bench archive --discover, seed 5150) agents merged up to 0.84; fragments
#: of one agent had means 0.94-0.95 alike, different people's means at most 0.86.
DISCOVER_SAME = 0.90
#: a voice with less speech in a call than this says too little to be compared across calls
MIN_VOICE_S = 3.0
#: the learnt voice needs this much speech over its calls (as a print from recordings does)
MIN_SPEECH_S = 4.0


@dataclass(frozen=True)
class Voice:
    """One speaker of one call: their mean embedding (L2-normalised) and seconds of speech."""

    call_id: str
    speaker: str
    vector: np.ndarray
    speech_s: float


@dataclass(frozen=True)
class Recurring:
    """What the evidence says: the agent's voice (``vector``), or why not (``reason``)."""

    vector: np.ndarray | None
    reason: str
    calls: list[str] = field(default_factory=list)  # the calls the voice is heard in
    speakers: dict[str, str] = field(default_factory=dict)  # call id -> the voice's speaker
    speech_s: float = 0.0
    cohesion: float | None = None  # the least similarity of a call's voice to the learnt one

    @property
    def learnt(self) -> bool:
        return self.vector is not None


def group_voices(voices: Sequence[Voice], same_voice: float = CROSS_CALL) -> list[list[int]]:
    """Indices of ``voices`` in groups of one voice each (cannot-link inside a call)."""
    if len(voices) == 1:
        return [[0]]
    emb = np.stack([v.vector for v in voices])
    distance = 1.0 - np.clip(emb @ emb.T, -1.0, 1.0)
    calls = np.array([v.call_id for v in voices])
    distance[calls[:, None] == calls[None, :]] = 2.0  # two voices of one call: never one voice
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    labels = fcluster(tree, t=1.0 - same_voice, criterion="distance")
    out: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        out.setdefault(int(label), []).append(i)
    return list(out.values())


def recurring_voice(
    voices: Sequence[Voice], *, same_voice: float = CROSS_CALL, min_calls: int = 2
) -> Recurring:
    """The agent's voice from the voices of several of their calls (the rule above)."""
    heard = [v for v in voices if v.speech_s >= MIN_VOICE_S]
    n_calls = len({v.call_id for v in voices})
    if n_calls < min_calls or not heard:
        return Recurring(None, f"no voice recurs yet ({n_calls} call(s) of evidence)")
    groups = sorted(
        group_voices(heard, same_voice),
        key=lambda g: len({heard[i].call_id for i in g}),
        reverse=True,
    )
    calls = [{heard[i].call_id for i in g} for g in groups]
    top = calls[0]
    if len(top) < min_calls:
        return Recurring(None, f"no voice recurs yet ({n_calls} calls of evidence)")
    for other in calls[1:]:
        if len(other) < 2:
            continue
        if len(other) == len(top):
            return Recurring(
                None,
                f"ambiguous: two voices recur in {len(top)} calls each (one customer in every "
                "call, or two people on one login); waiting for more calls",
            )
        if len(other - top) >= 2:
            return Recurring(
                None,
                f"two voices recur apart ({len(top)} and {len(other)} calls, {len(other - top)} "
                "without the first): a shared login or transferred calls; not learnt",
            )
    members = [heard[i] for i in groups[0]]
    speech = float(sum(v.speech_s for v in members))
    if speech < MIN_SPEECH_S:
        return Recurring(None, f"the recurring voice has {speech:.1f} s of speech, too little")
    vector = _mean_voice(members)
    cohesion = float(min(v.vector @ vector for v in members))
    order = sorted(members, key=lambda v: v.call_id)
    return Recurring(
        vector,
        f"the voice heard in {len(top)} of {n_calls} calls",
        [v.call_id for v in order],
        {v.call_id: v.speaker for v in order},
        round(speech, 2),
        round(cohesion, 4),
    )


@dataclass(frozen=True)
class Discovered:
    """A voice that recurs across an archive: an agent, or a customer who calls again."""

    vector: np.ndarray
    calls: list[str]
    speech_s: float
    agent: bool
    partners_recurring: float  # share of its calls whose other voice recurs too
    speakers: dict[str, str] = field(default_factory=dict)  # call id -> the voice's speaker


def discover(voices: Sequence[Voice], *, min_calls: int = 3) -> list[Discovered]:
    """Voices heard in at least ``min_calls`` calls of an archive, each said to be an agent or
    not. The rule: an agent talks with customers who mostly come once; a customer who calls
    again talks with agents, who recur. So a recurring voice is an agent when fewer than half
    of its calls pair it with another recurring voice."""
    heard = [v for v in voices if v.speech_s >= MIN_VOICE_S]
    if len({v.call_id for v in heard}) < min_calls:
        return []
    groups = _join_fragments(heard, group_voices(heard, DISCOVER_SAME), min_calls)
    group_of = {id(heard[i]): g for g, members in enumerate(groups) for i in members}
    coverage = [len({heard[i].call_id for i in m}) for m in groups]
    recurring = {g for g, c in enumerate(coverage) if c >= min_calls}
    by_call: dict[str, list[Voice]] = {}
    for v in heard:
        by_call.setdefault(v.call_id, []).append(v)
    out = []
    for g in sorted(recurring, key=lambda g: -coverage[g]):
        members = [heard[i] for i in groups[g]]
        calls = sorted({v.call_id for v in members})
        paired = sum(
            any(group_of[id(o)] in recurring and group_of[id(o)] != g for o in by_call[c])
            for c in calls
        )
        share = paired / len(calls)
        out.append(
            Discovered(
                _mean_voice(members),
                calls,
                round(float(sum(v.speech_s for v in members)), 2),
                share < 0.5,
                round(share, 3),
                {v.call_id: v.speaker for v in members},
            )
        )
    return out


def _mean_voice(members: Sequence[Voice]) -> np.ndarray:
    """The speech-weighted mean of one person's voices, L2-normalised."""
    weights = np.array([v.speech_s for v in members])
    mean = (np.stack([v.vector for v in members]) * weights[:, None]).sum(axis=0)
    return mean / (np.linalg.norm(mean) or 1.0)


def _join_fragments(
    heard: Sequence[Voice], groups: list[list[int]], min_calls: int
) -> list[list[int]]:
    """Join the recurring groups whose mean voices are one person's (never two groups heard in
    one call), the most alike first, until no two are. Only groups heard in ``min_calls`` calls
    or more: the mean of a few customers' voices drifts toward everyone's mean, and such means
    look alike."""
    recurring = [g for g in groups if len({heard[i].call_id for i in g}) >= min_calls]
    rest = [g for g in groups if len({heard[i].call_id for i in g}) < min_calls]
    groups = [list(g) for g in recurring]
    while len(groups) > 1:
        means = np.stack([_mean_voice([heard[i] for i in g]) for g in groups])
        alike = means @ means.T
        np.fill_diagonal(alike, -1.0)
        calls = [{heard[i].call_id for i in g} for g in groups]
        for a, b in zip(*np.triu_indices(len(groups), k=1), strict=True):
            if calls[a] & calls[b]:
                alike[a, b] = alike[b, a] = -1.0
        a, b = sorted(int(i) for i in np.unravel_index(int(np.argmax(alike)), alike.shape))
        if alike[a, b] < DISCOVER_SAME:
            break
        groups[a] += groups[b]
        del groups[b]
    return groups + rest
